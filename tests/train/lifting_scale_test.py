"""The lifting network's Laplace scale head (model.lifting.scale_head): it learns the scale of
the pose head's error per joint and camera axis without changing the pose head, and L_MVC's
'uncertainty' routing takes it instead of dropout's spread."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from configs import default
from configs import lifting as lifting_config
from mvssl import losses
from mvssl import parallel
from mvssl.geometry import root_relative
from mvssl.models import lifting
from mvssl.train import families
from mvssl.train import lifting_family
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib
from tests.train.lifting_uncertainty_test import _batch

CODEC = root_relative.RootRelativeCodec()


def _model(scale_head=True, dropout=0.5, hidden=32):
  c = lifting_config.get_config('b').model
  c.lifting.update(hidden=hidden, dropout=dropout, scale_head=scale_head)
  return lifting.build(c, seed=0)


def _pose_params(model):
  return {k: v for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param))
          if k[0] != 'error_scale'}


class ScaleHeadTest(chex.TestCase):

  def test_the_head_changes_neither_the_pose_weights_nor_their_gradients(self):
    with_head, without = _model(True), _model(False)
    a, b = _pose_params(with_head), _pose_params(without)
    self.assertEqual(set(a), set(b))
    chex.assert_trees_all_equal({k: v.value for k, v in a.items()},
                                {k: v.value for k, v in b.items()})
    batch, rng = _batch(), jax.random.key(2)
    w = families.LossWeights(l1=1.0, mvc=0.1, l2=1.0)

    def grads(m):
      f = lambda m: lifting_family.lifting_loss(m, batch, CODEC, w, rng=rng)  # noqa: E731
      (_, parts), g = nnx.value_and_grad(f, has_aux=True)(m)
      return parts, {k: v.value for k, v in nnx.to_flat_state(g) if k[0] != 'error_scale'}
    pa, ga = grads(with_head)
    pb, gb = grads(without)
    for k in ('l1', 'l2', 'mvc'):
      np.testing.assert_allclose(pa[k], pb[k], rtol=1e-6)
    chex.assert_trees_all_close(ga, gb, rtol=1e-5, atol=1e-7)
    self.assertIn('nll', pa)
    self.assertNotIn('nll', pb)
    self.assertTrue(np.isfinite(float(pa['nll'])))

  def test_a_clipped_training_step_moves_the_pose_weights_as_without_the_head(self):
    """Global-norm clipping is active (a limit far below the gradients' norm); the head is
    clipped apart (state.clip_apart), so the pose weights take the same steps."""
    opt_cfg = default.get_config().optimizer
    opt_cfg.clip = 0.01
    opt = state_lib.make_optimizer(opt_cfg, lifting_config.get_config('b').schedules.finetune)
    loss = lambda *a, **k: lifting_family.lifting_loss(                      # noqa: E731
        *a, codec=CODEC, weights=families.LossWeights(l1=1.0, mvc=0.1), **k)
    after, norms = [], []
    for head in (True, False):
      c = lifting_config.get_config('b').model
      c.lifting.update(hidden=32, scale_head=head)
      state = state_lib.TrainState.create(lifting.build(c, axis_name=parallel.AXIS, seed=0), opt)
      dp = parallel.DataParallel(step_lib.make_train_step(loss), parallel.make_mesh(1),
                                 donate_state=False)
      for _ in range(3):
        state, metrics = dp(dp.put_state(state), dp.put_batch(_batch()))
        state = dp.get_state(state)
      norms.append(float(metrics['grad_norm']))
      after.append({k: np.asarray(v.value) for k, v in nnx.to_flat_state(
          nnx.state(state.model(), nnx.Param)) if k[0] != 'error_scale'})
    self.assertGreater(min(norms), 10.0 * opt_cfg.clip)
    chex.assert_trees_all_close(after[0], after[1], rtol=1e-5, atol=1e-6)

  def test_laplace_nll_is_least_at_the_mean_absolute_error(self):
    err = jnp.asarray(np.random.default_rng(0).laplace(0.0, [10.0, 10.0, 40.0], (500, 1, 3)),
                      jnp.float32)
    weight = jnp.ones((500, 1))
    best = jnp.log(jnp.mean(jnp.abs(err), axis=0, keepdims=True))        # [1, 1, 3]

    def f(lb):
      return lifting_family.laplace_nll(err, jnp.broadcast_to(lb, err.shape), weight)
    np.testing.assert_allclose(jax.grad(f)(best), 0.0, atol=1e-5)
    for d in (-0.3, 0.3):
      self.assertGreater(float(f(best + d)), float(f(best)))
    # The errors are held fixed: no gradient reaches the prediction.
    g = jax.grad(lambda e: lifting_family.laplace_nll(e, jnp.zeros_like(e), weight))(err)
    np.testing.assert_array_equal(g, 0.0)

  def test_the_head_learns_that_depth_is_the_weak_axis(self):
    """Targets with irreducible noise 4x larger along the camera's z than along x, y: after
    training, the head's scale is more than twice as large in z as in x and y, and at least
    about the noise's E|e| (the pose head's own fitting error adds to it)."""
    model = _model(dropout=0.0, hidden=64)
    batch = _batch(n=64, v=1)
    rng = np.random.default_rng(1)
    opt = nnx.Optimizer(model, optax.adam(3e-3), wrt=nnx.Param)
    sd = np.array([10.0, 10.0, 40.0], np.float32)
    base_rel = np.asarray(CODEC.encode_batch(batch['cams'],
                                             jnp.asarray(batch['pose_3d']))[0])[:, 0]
    kp = jnp.asarray(batch['keypoints_2d'][:, 0, :, :2])
    model.set_statistics(np.asarray(kp), base_rel)

    @nnx.jit
    def step(model, opt, kp, target):
      def f(m):
        feats = m.features(kp, train=True)
        pred = m.from_raw(m.out(feats))
        err = jnp.delete(pred - target, 0, axis=1)
        l1 = jnp.mean(jnp.abs(err))
        return l1 + lifting_family.laplace_nll(err, m.log_scale(feats), jnp.ones(err.shape[:2]))
      loss, g = nnx.value_and_grad(f)(model)
      opt.update(model, g)
      return loss
    for _ in range(800):
      noisy = base_rel + rng.normal(0.0, 1.0, base_rel.shape) * sd
      noisy[:, 0] = 0.0
      step(model, opt, kp, jnp.asarray(noisy, jnp.float32))
    b = np.exp(np.asarray(model.log_scale(model.features(kp))))            # [64, 16, 3]
    per_axis = b.reshape(-1, 3).mean(0)
    self.assertGreater(per_axis[2], 2.0 * per_axis[0])
    self.assertGreater(per_axis[2], 2.0 * per_axis[1])
    expected = sd * np.sqrt(2 / np.pi)                                     # E|N(0, sd)|
    self.assertTrue(np.all(per_axis > 0.8 * expected), (per_axis, expected))
    self.assertTrue(np.all(per_axis < 3.0 * expected), (per_axis, expected))

  def test_the_uncertainty_routing_takes_the_learned_scale(self):
    model, batch = _model(), _batch()
    rng = jax.random.key(3)
    opts = losses.MvcOptions(routing='uncertainty', unit='mm', samples=4)
    _, parts = lifting_family.lifting_loss(model, batch, CODEC,
                                           families.LossWeights(l1=0.0, mvc=1.0), rng=rng,
                                           mvc_options=opts)
    kp = jnp.asarray(batch['keypoints_2d'][..., :2]).reshape(12, 17, 2)
    feats = model.features(kp, train=True, key=rng)
    sigma = lifting_family.learned_sigma(model, model.log_scale(feats))
    self.assertEqual(sigma.shape, (12, 17, 3))
    np.testing.assert_allclose(sigma[:, 0], lifting_family.SIGMA_FLOOR_MM, rtol=1e-6)
    pred = model.from_raw(model.out(feats)).reshape(4, 3, 17, 3)
    want = losses.mvc_loss(CODEC, batch['cams'], pred, jnp.zeros((4, 3)), unit_mm=1.0,
                           weight=batch['mvc_w'], view_mask=batch['view_valid'],
                           routing='uncertainty', sigma_mm=sigma.reshape(4, 3, 17, 3))
    np.testing.assert_allclose(parts['mvc'], want, rtol=1e-4)

  def test_without_a_head_log_scale_is_one_line(self):
    model = _model(scale_head=False)
    with self.assertRaisesRegex(ValueError, 'scale_head=True'):
      model.log_scale(jnp.zeros((2, 32)))
