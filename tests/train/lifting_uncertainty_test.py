"""L_MVC's 'uncertainty' routing on the lifting network: the spread of its prediction over
Monte-Carlo dropout draws (lifting_family.dropout_sigma) routes the loss as it routes the image
model's heatmap spreads, and the draws leave the network's BatchNorm statistics alone."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from configs import lifting as lifting_config
from mvssl import losses
from mvssl import parallel
from mvssl.geometry import camera as camlib
from mvssl.geometry import root_relative
from mvssl.models import lifting
from mvssl.train import families
from mvssl.train import lifting_family
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib


def _model(dropout=0.5, axis_name=None):
  c = lifting_config.get_config('b').model
  c.lifting.update(hidden=32, dropout=dropout)
  return lifting.build(c, axis_name=axis_name, seed=0)


def _batch(n=4, v=3):
  """n frames seen by v cameras around the origin (R about the vertical axis), random 2D."""
  rng = np.random.default_rng(0)
  cams = []
  for a in np.linspace(0.0, 2 * np.pi, v, endpoint=False):
    r = np.array([[np.cos(a), 0.0, -np.sin(a)], [0.0, 1.0, 0.0], [np.sin(a), 0.0, np.cos(a)]])
    cams.append(camlib.Camera.create(np.diag([1000.0, 1000.0, 1.0]), r,
                                     np.array([0.0, 0.0, 5000.0]), dtype=np.float32))
  cams = jax.tree.map(lambda *a: np.broadcast_to(np.stack(a), (n, v) + a[0].shape), *cams)
  return dict(keypoints_2d=np.concatenate([rng.normal(500, 50, (n, v, 17, 2)),
                                           np.ones((n, v, 17, 1))], -1).astype(np.float32),
              cams=cams, view_valid=np.ones((n, v), bool),
              pose_3d=rng.normal(0, 300, (n, 17, 3)).astype(np.float32),
              l1_w=np.ones(n, np.float32), mvc_w=np.ones(n, np.float32))


class DropoutSigmaTest(chex.TestCase):

  def test_spread_over_draws_root_at_the_floor_statistics_unchanged(self):
    model = _model()
    kp = jnp.asarray(_batch()['keypoints_2d'][:, 0, :, :2])
    stats0 = jax.tree.map(np.asarray, nnx.state(model, nnx.BatchStat))
    sigma = lifting_family.dropout_sigma(model, kp, jax.random.key(0), 8)
    self.assertEqual(sigma.shape, (4, 17, 3))
    np.testing.assert_allclose(sigma[:, 0], lifting_family.SIGMA_FLOOR_MM, rtol=1e-6)  # root
    self.assertTrue(np.all(sigma[:, 1:] > 2 * lifting_family.SIGMA_FLOOR_MM))
    chex.assert_trees_all_equal(stats0, jax.tree.map(np.asarray, nnx.state(model, nnx.BatchStat)))
    # More draws, another key: the same spread to within the sampling error of 64 draws.
    again = lifting_family.dropout_sigma(model, kp, jax.random.key(1), 64)
    self.assertLess(float(jnp.median(jnp.abs(again[:, 1:] / sigma[:, 1:] - 1.0))), 0.5)
    # Without dropout, or without a key, every draw is the same: every sigma is the floor.
    for m, key in ((_model(dropout=0.0), jax.random.key(0)), (model, None)):
      np.testing.assert_allclose(lifting_family.dropout_sigma(m, kp, key, 4),
                                 lifting_family.SIGMA_FLOOR_MM, rtol=1e-6)


class LiftingUncertaintyLossTest(chex.TestCase):

  def test_loss_is_uncertainty_l1_of_the_world_poses_with_the_dropout_spreads(self):
    model, batch, codec = _model(), _batch(), root_relative.RootRelativeCodec()
    rng = jax.random.key(3)
    opts = losses.MvcOptions(routing='uncertainty', unit='mm', samples=4)
    _, parts = lifting_family.lifting_loss(model, batch, codec,
                                           families.LossWeights(l1=0.0, mvc=1.0), rng=rng,
                                           mvc_options=opts)
    # The same draws by hand: the spread (from fold_in(rng, 1), on the running statistics the
    # loss's training pass left), the prediction (dropout from rng, batch statistics).
    kp = jnp.asarray(batch['keypoints_2d'][..., :2]).reshape(12, 17, 2)
    sigma = lifting_family.dropout_sigma(model, kp, jax.random.fold_in(rng, 1), 4)
    pred = model(kp, train=True, key=rng).reshape(4, 3, 17, 3)
    world = codec.decode_batch(batch['cams'], pred, jnp.zeros((4, 3)))
    want = jnp.mean(jax.vmap(losses.uncertainty_l1)(world, sigma.reshape(4, 3, 17, 3),
                                                    jnp.asarray(batch['cams'].R)))
    np.testing.assert_allclose(parts['mvc'], want, rtol=1e-4)
    self.assertGreater(float(parts['mvc']), 0.0)
    # Different spreads route differently: isotropic (the floor) gives another value.
    flat = losses.mvc_loss(codec, batch['cams'], pred, jnp.zeros((4, 3)), routing='uncertainty',
                           sigma_mm=jnp.ones_like(world))
    self.assertFalse(np.isclose(float(flat), float(want), rtol=1e-3))

  def test_a_lifting_network_trains_under_it(self):
    model, batch = _model(axis_name=parallel.AXIS), _batch()
    state = state_lib.TrainState.create(model, optax.sgd(1.0))
    p0 = jax.device_get(state.params)
    loss = functools.partial(lifting_family.lifting_loss, codec=root_relative.RootRelativeCodec(),
                             weights=families.LossWeights(l1=0.0, mvc=1.0),
                             mvc_options=losses.MvcOptions(routing='uncertainty', unit='mm'))
    dp = parallel.DataParallel(step_lib.make_train_step(loss), parallel.make_mesh(1),
                               donate_state=False)
    state, metrics = dp(dp.put_state(state), dp.put_batch(batch))
    p1 = jax.device_get(dp.get_state(state).params)
    self.assertTrue(np.isfinite(float(metrics['mvc'])) and float(metrics['mvc']) > 0.0)
    moved = [float(np.abs(a - b).max()) for a, b in zip(jax.tree.leaves(p0), jax.tree.leaves(p1))]
    self.assertTrue(all(np.isfinite(moved)) and max(moved) > 0.0)

  def test_a_lifting_codec_without_spreads_is_refused(self):
    batch, codec = _batch(), root_relative.RootRelativeCodec()
    pred = jnp.zeros((4, 3, 17, 3))
    with self.assertRaisesRegex(ValueError, "'uncertainty' needs a heatmap codec"):
      losses.mvc_loss(codec, batch['cams'], pred, jnp.zeros((4, 3)), routing='uncertainty')


if __name__ == '__main__':
  from absl.testing import absltest
  absltest.main()
