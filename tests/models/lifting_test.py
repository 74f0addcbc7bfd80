"""The lifting network: shapes and root, dropout only in training, max-norm after an update."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from configs import lifting as lifting_config
from mvssl import parallel
from mvssl.geometry import camera as camlib
from mvssl.geometry import root_relative
from mvssl.models import lifting
from mvssl.train import families
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib


def _cfg():
  c = lifting_config.get_config('b').model
  c.lifting.update(hidden=32)
  return c


class LiftingNetTest(chex.TestCase):

  def test_shapes_root_and_dropout(self):
    model = lifting.build(_cfg(), seed=0)
    kp = jax.random.normal(jax.random.key(0), (5, 17, 2)) * 100 + 500
    out = model(kp, train=False)
    self.assertEqual(out.shape, (5, 17, 3))
    np.testing.assert_array_equal(out[:, 0], 0.0)
    a = model(kp, train=True, key=jax.random.key(1))
    b = model(kp, train=True, key=jax.random.key(2))
    self.assertFalse(np.allclose(a, b))                                 # dropout masks differ
    np.testing.assert_array_equal(model(kp, train=True), model(kp, train=True))   # no key

  def test_statistics_normalise_inputs_and_outputs(self):
    model = lifting.build(_cfg(), seed=0)
    rng = np.random.default_rng(0)
    kp = rng.normal(500, 80, (64, 17, 2))
    rel = rng.normal(0, 300, (64, 17, 3))
    rel[:, 0] = 0
    model.set_statistics(kp, rel)
    np.testing.assert_allclose(model.in_mean.value, kp.reshape(64, -1).mean(0), rtol=1e-5)
    np.testing.assert_allclose(model.out_std.value, rel[:, 1:].reshape(64, -1).std(0), rtol=1e-4)
    # pose_norm: the statistics of per-pose centred and scaled inputs (translation-invariant).
    model = lifting.LiftingNet(hidden=16, pose_norm=True, rngs=nnx.Rngs(0))
    shifted = model.inputs(jnp.asarray(kp + 300.0))
    np.testing.assert_allclose(shifted, model.inputs(jnp.asarray(kp)), atol=1e-5)

  def test_max_norm_holds_after_a_step(self):
    cfg = _cfg()
    model = lifting.build(cfg, axis_name=parallel.AXIS, seed=0)
    state = state_lib.TrainState.create(model, optax.sgd(10.0))        # large steps
    rng = np.random.default_rng(0)
    cams = jax.tree.map(lambda a: np.broadcast_to(a, (4, 2) + a.shape), _camera())
    batch = dict(keypoints_2d=np.concatenate([rng.normal(500, 50, (4, 2, 17, 2)),
                                              np.ones((4, 2, 17, 1))], -1).astype(np.float32),
                 cams=cams, view_valid=np.ones((4, 2), bool),
                 pose_3d=rng.normal(0, 300, (4, 17, 3)).astype(np.float32),
                 l1_w=np.ones(4, np.float32), mvc_w=np.ones(4, np.float32))
    fam = families.FAMILIES['lifting']
    loss = functools.partial(fam.loss, codec=root_relative.RootRelativeCodec(),
                             weights=families.LossWeights(l1=1.0, mvc=0.1, l2=1.0))
    for project, limit_holds in ((None, False), (fam.project(cfg), True)):
      dp = parallel.DataParallel(step_lib.make_train_step(loss, project=project),
                                 parallel.make_mesh(1), donate_state=False)
      out = dp.get_state(dp(dp.put_state(state), dp.put_batch(batch))[0])
      norms = [float(jnp.linalg.norm(w, axis=0).max())
               for path, w in jax.tree_util.tree_leaves_with_path(out.params)
               if 'kernel' in [getattr(k, 'key', None) for k in path]]
      self.assertLen(norms, 6)
      self.assertEqual(max(norms) <= 1.0 + 1e-5, limit_holds, norms)


def _camera():
  return camlib.Camera.create(np.diag([1000.0, 1000.0, 1.0]), np.eye(3),
                              np.array([0.0, 0.0, 5000.0]), dtype=np.float32)
