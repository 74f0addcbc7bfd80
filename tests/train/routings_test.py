"""The routings that read the image model's heatmaps (losses.HEATMAP_ROUTINGS: reprojection,
uncertainty) train through its loss (heatmap_family.integral_loss): a finite loss and finite,
non-zero gradients from the same initialisation, unlike the paper's form's. The routings that act
on world poses only go through the same mvc_loss call and are tested in losses_test."""

import functools

import jax
import numpy as np
from absl.testing import parameterized
import optax
import pytest

from configs import smoke
from mvssl import losses
from mvssl import parallel
from mvssl.data.synthetic import synthetic_batch
from mvssl.models import pose_net
from mvssl.train import families
from mvssl.train import heatmap_family
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib


def _grads(routing):
  """One plain-SGD step (lr 1) of the production per-device step with L = L_MVC under
  ``routing``: the loss and the update (minus the gradient) of every parameter."""
  config = smoke.get_config()
  batch, codec = synthetic_batch(config, n=4)
  model = pose_net.build('integral', config.model, axis_name=parallel.AXIS, seed=0)
  state = state_lib.TrainState.create(model, optax.sgd(1.0))
  p0 = jax.device_get(state.params)
  fn = functools.partial(heatmap_family.integral_loss, codec=codec,
                         weights=families.LossWeights(l1=0.0, mvc=1.0),
                         mvc_options=losses.MvcOptions(routing=routing))
  dp = parallel.DataParallel(step_lib.make_train_step(fn), parallel.make_mesh(1),
                             donate_state=False)
  state = dp.put_state(state)
  state, metrics = dp(state, dp.put_batch(batch))
  p1 = jax.device_get(dp.get_state(state).params)
  flat = np.concatenate([np.ravel(a - b) for a, b in zip(jax.tree.leaves(p1),
                                                       jax.tree.leaves(p0))])
  return float(metrics['loss']), metrics, flat


class RoutingsTest(parameterized.TestCase):

  @pytest.mark.slow   # compiles the model once per routing: the slow tier
  def test_heatmap_routings_train(self):
    _, _, ref = _grads('both')
    for routing in losses.HEATMAP_ROUTINGS:
      loss, parts, g = _grads(routing)
      with self.subTest(routing=routing):
        self.assertTrue(np.isfinite(loss), routing)
        self.assertGreater(loss, 0.0, routing)
        self.assertTrue(np.all(np.isfinite(g)), routing)
        self.assertGreater(np.abs(g).max(), 0.0, routing)
        self.assertFalse(np.allclose(g, ref, rtol=1e-3, atol=1e-9),
                         f'{routing} gives the paper form gradient')


if __name__ == '__main__':
  from absl.testing import absltest
  absltest.main()
