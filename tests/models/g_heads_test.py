"""The variants of G: confidence heads, normalised confidences in the DLT, the mixture block,
the soft-thresholded 3D loss, the masked 3D term and the variants' training step."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from flax import nnx
from jax.test_util import check_grads

from configs import default
from configs import smoke
from mvssl import losses
from mvssl.data import poses as poses_lib
from mvssl.data.synthetic import synthetic_batch
from mvssl.geometry import camera as camlib
from mvssl.geometry import gaussian_heatmap as gh
from mvssl.geometry import triangulation
from mvssl.models import g_heads
from mvssl.models import pose_net
from mvssl.train import families
from mvssl.train import heatmap_family


def _tiny(**g):
  """The default config at the smoke sizes (configs/smoke.py: the networks other tests build
  too, so the compiled initialisers are shared) with G's options ``g``."""
  c = default.get_config()
  c.model.update(smoke.get_config().model.to_dict())
  c.model.g.update(g)
  return c


class GHeadsTest(chex.TestCase):

  def test_normalised_confidences_give_the_same_dlt(self):
    rng = np.random.default_rng(0)
    cams = camlib.stack(poses_lib.procedural_rig(rng, 4))
    pose = poses_lib.procedural_poses(1, rng)[0]
    pts = np.asarray(camlib.project_to_views(cams, pose)) + rng.normal(0, 3.0, (4, 17, 2))
    conf = jnp.asarray(rng.uniform(0.05, 1.0, (1, 4, 17)), jnp.float32)
    valid = jnp.ones((1, 4), jnp.float32)
    raw, _ = triangulation.triangulate_views(cams, jnp.asarray(pts, jnp.float32), conf[0])
    scaled, _ = triangulation.triangulate_views(
        cams, jnp.asarray(pts, jnp.float32), (conf / conf.sum(1, keepdims=True))[0])
    normed = g_heads.normalise_over_views(conf, valid)
    np.testing.assert_allclose(normed.sum(1), 1.0 + 4e-5, rtol=1e-6)
    theirs, _ = triangulation.triangulate_views(cams, jnp.asarray(pts, jnp.float32), normed[0])
    np.testing.assert_allclose(scaled, raw, atol=1e-2)          # mm: a per-joint scale is exact
    np.testing.assert_allclose(theirs, raw, atol=0.1)           # + their 1e-5 floor: sub-0.1 mm
    self.assertGreater(float(jnp.abs(raw - jnp.asarray(pose)).max()), 0.1)   # noise mattered
    # a view not recorded stays out
    masked = g_heads.normalise_over_views(conf, valid.at[0, 2].set(0.0))
    self.assertEqual(float(jnp.abs(masked[0, 2]).max()), 0.0)
    np.testing.assert_allclose(masked.sum(1), 1.0 + 3e-5, rtol=1e-6)

  def test_mixture_is_a_convex_combination_of_gaussians(self):
    block = g_heads.MixtureBlock(8, 3, rngs=nnx.Rngs(0))
    block.logits.kernel.value = jax.random.normal(jax.random.key(1), block.logits.kernel.shape)
    feats = jax.random.normal(jax.random.key(2), (2, 2, 2, 8))
    w = block(feats)
    self.assertEqual(w.shape, (2, 3, 2))
    self.assertTrue(bool(jnp.all(w >= 0)))
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-6)
    joints = jnp.array([[[4.2, 6.7], [9.0, 3.1], [7.6, 7.4]]] * 2)
    comps = jnp.stack([gh.gaussian_targets(joints, s, (16, 16)) for s in
                       (np.full(3, 2.0), np.array([0.7, 1.2, 3.0]))], axis=2)   # [2, 3, 2, h, w]
    mixed = g_heads.mix(comps, w)
    np.testing.assert_allclose(mixed, w[..., 0, None, None] * comps[:, :, 0] +
                               w[..., 1, None, None] * comps[:, :, 1], rtol=1e-6)
    self.assertTrue(bool(jnp.all(mixed <= comps.max(2) + 1e-6)))
    self.assertTrue(bool(jnp.all(mixed >= comps.min(2) - 1e-6)))
    # the same centre: the mixture still decodes where both components do
    np.testing.assert_allclose(gh.argmax_subpixel(mixed), gh.argmax_subpixel(comps[:, :, 0]))

  def test_soft_thresholded_mse_matches_its_formula(self):
    pred = jnp.zeros((1, 2, 3))
    target = jnp.array([[[100.0, 0.0, 0.0], [300.0, -50.0, 0.0]]])   # mm
    # (0.1 * 100)^2 = 100 <= 400 kept; (0.1 * 300)^2 = 900 -> 900^0.1 * 400^0.9; 25 kept
    expected = (100.0 + 900.0 ** 0.1 * 400.0 ** 0.9 + 25.0) / (3 * 2)
    self.assertAlmostEqual(float(losses.soft_thresholded_mse(pred, target)), expected, places=3)
    # a weighted-out joint neither counts nor divides
    w = jnp.array([[1.0, 0.0]])
    self.assertAlmostEqual(float(losses.soft_thresholded_mse(pred, target, w)), 100.0 / 3,
                           places=4)
    with jax.enable_x64(True):
      t64 = jnp.asarray(target, jnp.float64)
      check_grads(lambda p: losses.soft_thresholded_mse(p, t64),
                  (jnp.full((1, 2, 3), 1.0, jnp.float64),), order=1, modes=['rev'])
    g = jax.grad(lambda p: losses.soft_thresholded_mse(p, target))(target)   # zero error
    self.assertTrue(bool(jnp.all(jnp.isfinite(g))))

  def test_bad_options_raise(self):
    with self.assertRaisesRegex(ValueError, r'config.model.g.conf_head must be one of'):
      g_heads.check(g_heads.GOptions(conf_head='attention'))
    with self.assertRaisesRegex(ValueError, 'set config.model.g.target=gaussian'):
      g_heads.check(g_heads.GOptions(mixture=True))
    with self.assertRaisesRegex(ValueError, 'multiplier must be > 0'):
      g_heads.check(g_heads.GOptions(multiplier=0.0))

  @parameterized.named_parameters(
      ('current', dict()),
      ('lt', dict(conf_head='conv', multiplier=100.0, loss_3d='soft_mse')),
      ('gaussian_set1', dict(target='gaussian', multiplier=100.0, sigma='set1')),
      ('mixture_argmax', dict(target='gaussian', multiplier=100.0, sigma='set2', mixture=True,
                              decode='argmax')))
  def test_variant_trains_and_predicts(self, g):
    c = _tiny(**g)
    batch, codec = synthetic_batch(c, n=2)
    model = pose_net.build('algebraic', c.model)
    weights = families.LossWeights(l1=1.0, mm_3d=0.01)
    loss_fn = lambda m: heatmap_family.algebraic_loss(m, batch, codec, weights)   # noqa: E731
    (loss, aux), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
    self.assertTrue(np.isfinite(float(loss)) and float(aux['l2d']) > 0)
    norms = [float(jnp.abs(x).max()) for x in jax.tree.leaves(grads)]
    self.assertTrue(all(np.isfinite(norms)) and max(norms) > 0)
    pose, out = heatmap_family.algebraic_forward(model, batch, codec, train=False)
    self.assertEqual(pose.shape, (2, 17, 3))
    if g.get('conf_head') == 'conv':            # normalised over the views (+1e-5 each)
      np.testing.assert_allclose(out['conf'].sum(1), 1.0 + 4e-5, rtol=1e-5)
    if g.get('mixture'):
      self.assertEqual(out['components'].shape[3], 2)
      np.testing.assert_allclose(out['weights'].sum(-1), 1.0, rtol=1e-6)
    if g.get('decode') == 'argmax':              # outside training: Simple Baselines' decoding
      np.testing.assert_allclose(out['j2d'], gh.argmax_subpixel(out['heatmaps']))

  def test_3d_term_leaves_out_joints_the_dlt_cannot_triangulate(self):
    c = _tiny()
    batch, codec = synthetic_batch(c, n=2)
    model = pose_net.build('algebraic', c.model)
    weights = families.LossWeights(l1=0.0, mm_3d=1.0)
    batch_one_view = dict(batch, view_valid=batch['view_valid'].copy())
    batch_one_view['view_valid'][0, 1:] = False          # frame 0: one view, nothing triangulates
    moved = dict(batch_one_view, pose_3d=batch['pose_3d'].copy())
    moved['pose_3d'][0] += 5000.0                         # its GT far away: must not matter
    a = heatmap_family.algebraic_loss(model, batch_one_view, codec, weights)[0]
    b = heatmap_family.algebraic_loss(model, moved, codec, weights)[0]
    self.assertAlmostEqual(float(a), float(b), places=3)
    self.assertGreater(float(a), 0.0)
