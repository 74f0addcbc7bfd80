"""The absolute families (MeTRAbs, MeTRo, RootNet): networks, losses, warm-up, predictions."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from configs import smoke
from mvssl import losses
from mvssl.data.synthetic import synthetic_batch
from mvssl.geometry import absolute
from mvssl.models import absolute_nets
from mvssl.train import absolute_family
from mvssl.train import families
from mvssl.train import state as state_lib

WEIGHTS = families.LossWeights(l1=1.0, mvc=0.1)


def _setup(family, warmup=0):
  config = smoke.get_config()
  config.model.absolute.warmup = warmup
  batch, _ = synthetic_batch(config, n=2)
  fam = families.FAMILIES[family]
  return config, batch, fam, fam.build(config.model, seed=0), fam.codec(config.model)


@pytest.mark.parametrize('family', ['metrabs', 'metro', 'rootnet'])
def test_loss_and_gradients_are_finite(family):
  _, batch, fam, model, codec = _setup(family)
  batch = dict(batch, step=jnp.int32(0))

  def f(m):
    return fam.loss(m, batch, codec, WEIGHTS)

  (loss, aux), grads = nnx.value_and_grad(f, has_aux=True)(model)
  assert np.isfinite(float(loss)) and float(loss) > 0
  assert all(np.isfinite(float(v)) for v in aux.values())
  leaves = jax.tree.leaves(nnx.state(grads, nnx.Param))
  assert all(np.all(np.isfinite(np.asarray(g))) for g in leaves)
  assert any(float(jnp.max(jnp.abs(g))) > 0 for g in leaves)


def test_metrabs_absolute_term_starts_after_the_warm_up():
  _, batch, fam, model, codec = _setup('metrabs', warmup=10)
  before, aux = fam.loss(model, dict(batch, step=jnp.int32(9)), codec, WEIGHTS)
  after, _ = fam.loss(model, dict(batch, step=jnp.int32(10)), codec, WEIGHTS)
  np.testing.assert_allclose(float(after) - float(before), float(aux['labs']), rtol=1e-4)
  assert float(aux['labs']) > 0


def test_metrabs_mvc_is_zero_for_consistent_absolute_poses():
  """Each view's own absolute pose mapped to world: the same world pose in every view gives no
  MVC, whatever the root depth of any GT (no depth is borrowed)."""
  _, batch, _, _, codec = _setup('metrabs')
  target, root_depth = codec.encode_batch(batch['cams'], jnp.asarray(batch['pose_3d']))
  zero = losses.mvc_loss(codec, batch['cams'], target, root_depth * 0 + 1e9)
  assert float(zero) < 1e-3
  moved = target.at[:, 1, :, 2].add(500.0)        # view 1 puts the person 0.5 m further away
  assert float(losses.mvc_loss(codec, batch['cams'], moved, root_depth)) > 1.0


def test_rootnet_starts_at_the_distance_prior():
  config, batch, _, model, _ = _setup('rootnet')
  root = absolute_family.rootnet_forward(model, jnp.asarray(batch['images']), batch['cams'],
                                         False, config.model.absolute.area_mm)
  k = absolute.rootnet_k(jnp.asarray(batch['cams'].K), float(config.model.image_size),
                         config.model.absolute.area_mm ** 2)
  np.testing.assert_allclose(np.asarray(root[..., 0, 2]), np.asarray(k), rtol=1e-5)


@pytest.mark.parametrize('family,joints', [('metrabs', 17), ('metro', 17), ('rootnet', 1)])
def test_predictions_are_world_poses(family, joints):
  config, batch, fam, model, codec = _setup(family)
  state = state_lib.TrainState.create(model, optax.sgd(0.1))
  d = dict(images=batch['images'], cams=batch['cams'])
  pred = fam.predict(state, d, codec, batch_frames=1)
  assert pred.shape == (2, 4, joints, 3)
  assert np.all(np.isfinite(pred))
  if family == 'metro':          # root-relative: the root at the origin
    np.testing.assert_allclose(pred[:, :, 0], 0.0, atol=1e-3)


def test_metro_is_the_3d_head_alone():
  config = smoke.get_config()
  metrabs = absolute_nets.build('metrabs', config.model)
  metro = absolute_nets.build('metro', config.model)
  j, d = config.model.num_joints, config.model.depth_bins
  assert metrabs.head.final.kernel.value.shape[-1] == j * (d + 1)
  assert metro.head.final.kernel.value.shape[-1] == j * d
  images = jnp.zeros((1, config.model.image_size, config.model.image_size, 3), jnp.uint8)
  offsets, j2d, aux = metrabs(images)
  assert offsets.shape == (1, j, 3) and j2d.shape == (1, j, 2)
  assert aux['volumes'].shape[1:3] == (j, d)
  # the metric cube bounds every offset
  assert float(jnp.max(jnp.abs(offsets))) <= config.model.absolute.box_mm / 2
