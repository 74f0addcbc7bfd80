"""Robust triangulation: an outlier view rejected, inconsistent two-view joints invalid, the
gate's units (crop px to image px), and Pose2Sim's level order."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from mvssl.geometry import camera as camlib
from mvssl.geometry import robust
from tests.fixtures import fakes


def _setup(n=1, seed=0):
  cams = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), camlib.stack(fakes.rig(seed, 4)))
  poses = jnp.asarray(fakes.people(seed + 1, n), jnp.float32)
  uv = jax.vmap(lambda p: camlib.project_to_views(cams, p))(poses)         # [n, V, J, 2]
  return cams, poses, uv


class RobustTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  def test_an_outlier_view_among_four_is_rejected_and_the_pose_recovered(self):
    cams, poses, uv = _setup(8)
    rng = np.random.default_rng(0)
    bad_view = rng.integers(0, 4, 8)
    shift = jnp.asarray(rng.choice([-1.0, 1.0], (8, 17, 2)) * rng.uniform(40, 300, (8, 17, 2)),
                        jnp.float32)
    uv = uv.at[jnp.arange(8), bad_view].add(shift)                         # one wrong view
    w = jnp.ones(uv.shape[:3])
    for method in ('pose2sim', 'ransac'):
      f = self.variant(jax.vmap(lambda u, ww, m=method: robust.triangulate(cams, u, ww,
                                                                           method=m)))
      out = f(uv, w)
      self.assertTrue(bool(jnp.all(out['valid'])), method)
      err = jnp.linalg.norm(out['joints'] - poses, axis=-1)
      self.assertLess(float(err.max()), 1.0, method)                      # mm, noise-free views
      used = np.asarray(out['used'])                                      # [n, V, J]
      np.testing.assert_array_equal(used[np.arange(8), bad_view], False)
      self.assertEqual(int(used.sum()), 8 * 17 * 3)                       # the other three kept
      self.assertLess(float(jnp.max(jnp.where(out['used'], out['error'], 0.0))), 0.05)
    plain = robust.triangulate(cams, uv[0], w[0], method='none')
    self.assertGreater(float(jnp.linalg.norm(plain['joints'] - poses[0], axis=-1).max()), 10.0)

  def test_two_inconsistent_views_give_an_invalid_joint_not_a_far_one(self):
    cams, poses, uv = _setup(1)
    uv = uv[0].at[1].add(jnp.array([0.0, 60.0]))          # view 1 is 60 px off the epipolar line
    w = jnp.ones(uv.shape[:2]).at[2:].set(0.0)            # only views 0 and 1 see the joints
    for method in ('pose2sim', 'ransac', 'none'):
      out = robust.triangulate(cams, uv, w, method=method)
      self.assertTrue(bool(jnp.all(out['score'] > 15.0)), method)
      if method == 'none':
        self.assertTrue(bool(jnp.all(out['valid'])))      # the plain DLT calls them valid
      else:
        self.assertFalse(bool(jnp.any(out['valid'])), method)
    consistent = robust.triangulate(cams, _setup(1)[2][0], w)
    self.assertTrue(bool(jnp.all(consistent['valid'])))   # two agreeing views pass the gate

  def test_the_gate_is_in_original_image_px_and_min_views_holds(self):
    cams, _, uv = _setup(1)
    uv = uv[0].at[3].add(jnp.array([4.0, 0.0]))           # view 3 off by 4 px
    w = jnp.ones(uv.shape[:2])
    kept = robust.triangulate(cams, uv, w, max_error_px=15.0, reduce='max')
    self.assertTrue(bool(jnp.all(kept['used'][3])))       # within the gate: kept
    # the same points in a crop at a quarter of the image's scale: 4 crop px = 16 image px
    quarter = robust.triangulate(cams, uv, w, max_error_px=5.0, px_scale=jnp.full(4, 4.0),
                                 reduce='max')
    self.assertFalse(bool(jnp.any(quarter['used'][3])))
    self.assertTrue(bool(jnp.all(quarter['valid'])))
    # with three views required, a joint whose best three include the bad view fails
    three = robust.triangulate(cams, uv, w.at[0].set(0.0), max_error_px=5.0, min_views=3,
                               px_scale=jnp.full(4, 4.0), reduce='max')
    # the DLT spreads the 16 px over the views (about 8 px in two of them, 5 px on average):
    # at a 6 px gate, the mean keeps all four views, the max does not
    mean = robust.triangulate(cams, uv, w, max_error_px=6.0, px_scale=jnp.full(4, 4.0))
    self.assertTrue(bool(jnp.all(mean['used'])))
    self.assertTrue(bool(jnp.all(mean['valid'])))
    strict = robust.triangulate(cams, uv, w, max_error_px=6.0, px_scale=jnp.full(4, 4.0),
                                reduce='max')
    self.assertFalse(bool(jnp.all(strict['used'])))
    self.assertFalse(bool(jnp.any(three['valid'])))
    self.assertTrue(bool(jnp.all(jnp.isfinite(three['joints']))))

  def test_pose2sim_prefers_fewer_excluded_views_over_a_smaller_error(self):
    cams, poses, uv = _setup(1)
    noise = jnp.asarray(np.random.default_rng(3).normal(size=uv.shape[1:]) * 2.0, jnp.float32)
    out = robust.triangulate(cams, uv[0] + noise, jnp.ones(uv.shape[1:3]), max_error_px=15.0)
    # every view within the gate: all four kept, though some pair reprojects closer
    self.assertTrue(bool(jnp.all(out['used'])))

  def test_subsets_and_bad_fields_are_named(self):
    s = robust.view_subsets(4, 2)
    self.assertEqual(s.shape, (11, 4))
    self.assertTrue(s[0].all())
    np.testing.assert_array_equal(s.sum(1), sorted(s.sum(1), reverse=True))
    with self.assertRaisesRegex(ValueError, 'more than 10'):
      robust.view_subsets(11, 2)
    with self.assertRaisesRegex(ValueError, r'config.pseudo_label.robust.method'):
      robust.check('best', 15.0, 2)
    with self.assertRaisesRegex(ValueError, r'max_error_px must be a positive'):
      robust.check('pose2sim', 0.0, 2)
    with self.assertRaisesRegex(ValueError, r'min_views must be a whole number >= 2'):
      robust.check('pose2sim', 15.0, 1)
    with self.assertRaisesRegex(ValueError, r'reduce must be one of'):
      robust.check('pose2sim', 15.0, 2, 'median')
