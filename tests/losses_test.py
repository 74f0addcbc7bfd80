"""Losses: pairwise L1 counts view pairs and masks views; MVC (eq. 9) vanishes for consistent
views and measures a depth error in mm; eq. 10 weighs the terms."""

import chex
import jax
from jax.test_util import check_grads
import jax.numpy as jnp
import numpy as np

from configs import smoke
from mvssl import losses
from mvssl.data.synthetic import synthetic_batch


class LossTest(chex.TestCase):

  def test_pairwise_l1_is_zero_for_agreeing_views_and_counts_pairs(self):
    x = jnp.ones((4, 17, 3))
    self.assertEqual(float(losses.pairwise_l1(x)), 0.0)
    y = x.at[0].add(jnp.array([1.0, 2.0, 0.0]))   # view 0: mean |diff| 1 to each of 3 others
    self.assertAlmostEqual(float(losses.pairwise_l1(y)), 3.0, places=5)
    masked = losses.pairwise_l1(y, jnp.array([False, True, True, True]))
    self.assertEqual(float(masked), 0.0)

  def test_mvc_is_zero_for_consistent_views(self):
    """MVC of the P-GT targets themselves (consistent by construction) is ~0; perturbed, > 0."""
    batch, codec = synthetic_batch(smoke.get_config())
    cams = batch['cams']
    target, root_depth = codec.encode_batch(cams, batch['pose_3d'])
    self.assertLess(float(losses.mvc_loss(codec, cams, target, root_depth)), 1e-2)
    noisy = target.at[:, 1, :, 2].add(1.0)                           # view 1 one bin deeper
    # One bin is cube / D mm deeper; view 1 pairs with 3 views; mean over xyz of a mostly-depth
    # offset: between bin/3 and bin mm per pair.
    mm = float(losses.mvc_loss(codec, cams, noisy, root_depth))
    self.assertGreater(mm, 3 * codec.unit_mm / 3 * 0.5)
    self.assertLess(mm, 3 * codec.unit_mm * 1.5)
    in_bins = float(losses.mvc_loss(codec, cams, noisy, root_depth, unit_mm=codec.unit_mm))
    self.assertAlmostEqual(in_bins, mm / codec.unit_mm, places=4)
    weight = jnp.zeros(target.shape[0])
    self.assertEqual(float(losses.mvc_loss(codec, cams, noisy, root_depth, weight=weight)), 0.0)

  def test_l1_and_total_loss(self):
    pred = jnp.zeros((2, 4, 17, 3))
    target = pred.at[0].add(2.0)
    self.assertAlmostEqual(float(losses.l1_loss(pred, target)), 1.0)
    self.assertAlmostEqual(float(losses.l1_loss(pred, target, jnp.array([[0.0] * 4, [1.0] * 4]))),
                           0.0)
    self.assertAlmostEqual(float(losses.total_loss(jnp.array(2.0), jnp.array(5.0),
                                                   l1_weight=1.0, mvc_weight=0.1)), 2.5)


def _grad(fn, x):
  return np.asarray(jax.grad(fn)(x))


class MvcVariantTest(chex.TestCase):
  """Each MVC form and routing on hand-computed examples (values and gradients)."""

  # Two views, one joint: |X1 - X2| = (3, 6, 9), mean 6, sum 18.
  X2V = jnp.array([[[0.0, 0.0, 0.0]], [[3.0, -6.0, 9.0]]])

  def test_two_views_every_form_and_routing(self):
    sign1 = np.array([-1.0, 1.0, -1.0])                 # sign(X1 - X2)
    for routing in ('both', 'consensus', 'root_relative'):
      for form, value, g in (('normalised', 6.0, 1 / 3), ('literal', 36.0, 2.0)):
        fn = lambda w: losses.mvc_of_world(w, form=form, routing=routing)   # noqa: E731
        if routing == 'root_relative':        # a single joint is its own root: nothing remains
          self.assertEqual(float(fn(self.X2V)), 0.0)
          np.testing.assert_array_equal(_grad(fn, self.X2V), 0.0)
          continue
        # consensus counts each comparison from both sides: twice the value, the same gradient
        expect = 2 * value if routing == 'consensus' else value
        self.assertAlmostEqual(float(fn(self.X2V)), expect, places=5, msg=(routing, form))
        grad = _grad(fn, self.X2V)
        np.testing.assert_allclose(grad[0, 0], g * sign1, rtol=1e-6, err_msg=f'{routing} {form}')
        np.testing.assert_allclose(grad[1, 0], -g * sign1, rtol=1e-6)

  def test_consensus_differs_from_pairs_with_three_views(self):
    # Three views on the x axis at 0, 6, -2 (one joint). Pairs: (6 + 2 + 8) / 3 = 16/3; their
    # gradient on view 0: (sign(0-6) + sign(0+2)) / 3 = 0. Consensus: view 0 vs the others' mean
    # 2 -> 2/3, view 1 vs -1 -> 7/3, view 2 vs 3 -> 5/3 (each x 2 others): 28/3; gradient on
    # view 0 only from its own term: 2 sign(0 - 2) / 3 = -2/3; view 1: +2/3; view 2: -2/3.
    x = jnp.array([[[0.0, 0.0, 0.0]], [[6.0, 0.0, 0.0]], [[-2.0, 0.0, 0.0]]])
    pairs = lambda w: losses.mvc_of_world(w)                               # noqa: E731
    cons = lambda w: losses.mvc_of_world(w, routing='consensus')           # noqa: E731
    self.assertAlmostEqual(float(pairs(x)), 16 / 3, places=5)
    self.assertAlmostEqual(float(cons(x)), 28 / 3, places=5)
    np.testing.assert_allclose(_grad(pairs, x)[:, 0, 0], [0.0, 2 / 3, -2 / 3], atol=1e-6)
    np.testing.assert_allclose(_grad(cons, x)[:, 0, 0], [-2 / 3, 2 / 3, -2 / 3], atol=1e-6)
    # a masked view is in no comparison: views 0 and 1 alone are the two-view case (2 x 6/3)
    masked = losses.mvc_of_world(x, jnp.array([True, True, False]), routing='consensus')
    self.assertAlmostEqual(float(masked), 4.0, places=5)
    # literal is exactly 6x normalised for every routing (2 orderings x 3 coordinates)
    for routing in ('both', 'consensus'):
      lit = losses.mvc_of_world(x * jnp.array([1.0, 2.0, 3.0]), form='literal', routing=routing)
      nor = losses.mvc_of_world(x * jnp.array([1.0, 2.0, 3.0]), routing=routing)
      self.assertAlmostEqual(float(lit), 6 * float(nor), places=4)

  def test_root_relative_ignores_where_each_view_put_the_root(self):
    # Two joints; view 1 is view 0 translated by (10, 0, 0): pairs see 10/3 per joint, root-relative 0.
    x0 = jnp.array([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]])
    x = jnp.stack([x0, x0 + jnp.array([10.0, 0.0, 0.0])])
    self.assertAlmostEqual(float(losses.mvc_of_world(x)), 10 / 3, places=5)
    self.assertEqual(float(losses.mvc_of_world(x, routing='root_relative')), 0.0)
    # view 1's second joint 3 mm off in z: root-relative 1 (mean over xyz, averaged over 2 joints
    # -> 0.5); the gradient reaches the root through the subtraction with the opposite sign
    y = x.at[1, 1, 2].add(3.0)
    fn = lambda w: losses.mvc_of_world(w, routing='root_relative')         # noqa: E731
    self.assertAlmostEqual(float(fn(y)), 0.5, places=5)
    g = _grad(fn, y)
    self.assertAlmostEqual(g[1, 1, 2], 1 / 6, places=6)
    self.assertAlmostEqual(g[1, 0, 2], -1 / 6, places=6)

  def test_depth_only_moves_only_the_depths(self):
    batch, codec = synthetic_batch(smoke.get_config(), n=2)
    cams = batch['cams']
    target, root_depth = codec.encode_batch(cams, batch['pose_3d'])
    pred = target + jax.random.normal(jax.random.key(0), target.shape) * 0.5
    def loss(p, routing):
      return losses.mvc_loss(codec, cams, p, root_depth, routing=routing)
    self.assertAlmostEqual(float(loss(pred, 'depth_only')), float(loss(pred, 'both')), places=4)
    g = np.asarray(jax.grad(loss)(pred, 'depth_only'))
    np.testing.assert_array_equal(g[..., :2], 0.0)
    self.assertGreater(np.abs(g[..., 2]).sum(), 0.0)
    g_both = np.asarray(jax.grad(loss)(pred, 'both'))
    self.assertGreater(np.abs(g_both[..., :2]).sum(), 0.0)
    with self.assertRaisesRegex(ValueError, 'routing'):
      losses.mvc_loss(codec, cams, pred, root_depth, routing='sideways')

  def test_l1_per_joint_weight_leaves_withheld_targets_out(self):
    pred = jnp.zeros((1, 2, 3, 3))
    target = pred.at[0, 0, 1].set(6.0)                # one (view, joint) target off by 6
    w = jnp.ones((1, 2, 3)).at[0, 0, 1].set(0.0)      # ... and withheld
    self.assertEqual(float(losses.l1_loss(pred, target, w)), 0.0)
    g = jax.grad(lambda p: losses.l1_loss(p, target, w))(pred)
    np.testing.assert_array_equal(np.asarray(g)[0, 0, 1], 0.0)
    self.assertAlmostEqual(float(losses.l1_loss(pred, target)), 6.0 / 6, places=6)


class MvcWithoutTrivialMinimumTest(chex.TestCase):
  """The forms a shrunken pose cannot satisfy for free (losses module docstring)."""

  def _views(self, seed=0):
    """Four views' world poses of one procedural pose (mm), each with its own 20 mm noise."""
    batch, _ = synthetic_batch(smoke.get_config(), n=1, seed=seed)
    pose = jnp.asarray(batch['pose_3d'][0])
    noise = jax.random.normal(jax.random.key(seed), (4,) + pose.shape) * 20.0
    return pose[None] + noise.at[:, 0].set(0.0)          # the roots agree: shapes differ only

  def test_shrinking_lowers_the_papers_form_and_not_the_scale_anchored_one(self):
    x = self._views()
    root = x[:, :1]
    for routing, shrink_pays in (('both', True), ('scale_anchored', False)):
      f = lambda a: losses.mvc_of_world(root + a * (x - root), routing=routing)  # noqa: E731,B023
      slope = float(jax.grad(f)(1.0))
      if shrink_pays:    # the paper's form is linear in a common scale: shrinking lowers it
        self.assertGreater(slope, 0.5 * float(f(1.0)))
        self.assertLess(float(f(0.5)), 0.6 * float(f(1.0)))
      else:
        self.assertLess(abs(slope), 1e-3 * float(f(1.0)))
        self.assertAlmostEqual(float(f(0.5)) / float(f(1.0)), 1.0, places=4)
        self.assertGreater(float(f(1.0)), 1.0)           # the shapes still disagree
    # one view's own scale is removed too; a scaled copy of one pose is in full agreement
    y = x.at[2].set(root[2] + 0.8 * (x[2] - root[2]))
    self.assertAlmostEqual(float(losses.mvc_of_world(y, routing='scale_anchored')),
                           float(losses.mvc_of_world(x, routing='scale_anchored')), places=2)
    copies = jnp.stack([root[0] + a * (x[0] - root[0]) for a in (1.0, 0.7, 1.3, 0.9)])
    self.assertLess(float(losses.mvc_of_world(copies, routing='scale_anchored')), 1e-2)
    self.assertGreater(float(losses.mvc_of_world(copies)), 10.0)

  def test_geometric_median_ignores_one_far_view(self):
    cluster = jnp.array([[[-1.0, 2.0, 0.0]], [[1.0, -1.0, 1.0]], [[0.0, 0.0, -1.0]]])
    pts = jnp.concatenate([cluster, jnp.array([[[300.0, 0.0, 0.0]]])])
    med = losses.geometric_median(pts, jnp.ones(4))
    mean = jnp.mean(pts, axis=0)
    self.assertLess(float(jnp.linalg.norm(med - jnp.mean(cluster, axis=0))), 2.0)
    self.assertGreater(float(jnp.linalg.norm(mean - jnp.mean(cluster, axis=0))), 70.0)
    # weights: a point with weight 0 is left out
    med3 = losses.geometric_median(pts, jnp.array([1.0, 1.0, 1.0, 0.0]))
    self.assertLess(float(jnp.linalg.norm(med3 - jnp.mean(cluster, axis=0))), 2.0)

  def test_median_pulls_the_good_views_together_and_not_toward_the_outlier(self):
    # One joint, four views on the x axis at -1, 0, 1, 100. Medians of the others: 1, 1, 0, 0;
    # each view's |.| mean over xyz, times its 3 other views: 2 + 1 + 1 + 100 = 104.
    x = jnp.array([[[-1.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]], [[1.0, 0.0, 0.0]],
                   [[100.0, 0.0, 0.0]]])
    med = lambda w: losses.mvc_of_world(w, routing='median')               # noqa: E731
    cons = lambda w: losses.mvc_of_world(w, routing='consensus')           # noqa: E731
    self.assertAlmostEqual(float(med(x)), 104.0, places=1)
    g_med, g_cons = _grad(med, x)[:, 0, 0], _grad(cons, x)[:, 0, 0]
    # view 2 (x = 1): the median of the others (0) pulls it back into the cluster (gradient > 0),
    # the mean of the others (33) pulls it toward the far view (gradient < 0).
    self.assertGreater(g_med[2], 0.5)
    self.assertLess(g_cons[2], -0.5)
    # with two views the median of the other view is that view: equal to consensus
    two = x[:2] + jnp.array([0.0, 3.0, -6.0])
    self.assertAlmostEqual(float(med(two)), float(cons(two)), places=3)

  def _consistent(self):
    batch, codec = synthetic_batch(smoke.get_config(), n=2)
    cams = batch['cams']
    target, root_depth = codec.encode_batch(cams, batch['pose_3d'])
    return codec, cams, target, root_depth

  def test_reprojection_vanishes_for_consistent_views_and_corrects_a_wrong_depth(self):
    codec, cams, target, root_depth = self._consistent()
    loss = lambda p: losses.mvc_loss(codec, cams, p, root_depth, unit_mm=codec.unit_mm,  # noqa
                                     routing='reprojection')
    self.assertLess(float(loss(target)), 1e-2)
    offset = jnp.linspace(-3.0, 3.0, target.shape[2])             # bins; joint by joint
    wrong = target.at[:, 1, :, 2].add(offset)                      # view 1's depths wrong
    values = [float(loss(target.at[:, 1, :, 2].add(a * offset))) for a in (0.5, 1.0, 2.0)]
    self.assertGreater(values[0], 0.05)
    self.assertLess(values[0], values[1])
    self.assertLess(values[1], values[2])
    # the other views' 2D teaches view 1's depth: a gradient step moves it toward the truth
    g = np.asarray(jax.grad(loss)(wrong))[:, 1, :, 2]
    moved = np.abs(offset) > 0.5
    agree = np.sign(g[:, moved]) == np.sign(np.asarray(offset)[moved])
    self.assertGreater(agree.mean(), 0.8)
    # the target x, y are held fixed: with the world poses held fixed too, no gradient remains
    world = jax.lax.stop_gradient(codec.decode_batch(cams, wrong, root_depth))
    fixed = lambda p: losses.reprojection_l1(  # noqa: E731
        codec, jax.tree.map(lambda a: a[0], cams), p, world[0])
    np.testing.assert_array_equal(np.asarray(jax.grad(fixed)(wrong[0])), 0.0)

  def test_reprojection_refuses_what_has_no_image_plane(self):
    codec, cams, target, root_depth = self._consistent()
    with self.assertRaisesRegex(ValueError, "unit 'codec'"):
      losses.mvc_loss(codec, cams, target, root_depth, unit_mm=1.0, routing='reprojection')
    from mvssl.geometry import root_relative
    with self.assertRaisesRegex(ValueError, 'heatmap codec'):
      losses.mvc_loss(root_relative.RootRelativeCodec(), cams, target, root_depth,
                      routing='reprojection')
    with self.assertRaisesRegex(ValueError, 'mvc_loss'):
      losses.mvc_of_world(target[0], routing='reprojection')

  def test_every_routing_runs_through_mvc_loss_masked_and_jitted(self):
    codec, cams, target, root_depth = self._consistent()
    pred = target + jax.random.normal(jax.random.key(1), target.shape) * 0.3
    mask = jnp.array([[True, True, False, True]] * 2)
    spread = jnp.abs(jax.random.normal(jax.random.key(2), target.shape)) + 0.5
    for routing in losses.MVC_ROUTINGS:
      fn = jax.jit(lambda p, r=routing: losses.mvc_loss(
          codec, cams, p, root_depth, unit_mm=codec.unit_mm, view_mask=mask, routing=r,
          spread=spread))
      value, grad = jax.value_and_grad(fn)(pred)
      self.assertTrue(np.isfinite(float(value)) and float(value) > 0, routing)
      grad = np.asarray(grad)
      self.assertTrue(np.all(np.isfinite(grad)), routing)
      # the absent view gives and takes nothing (depth_only keeps its x, y gradient at 0 too)
      np.testing.assert_array_equal(grad[:, 2], 0.0, err_msg=routing)

  def test_every_routing_is_zero_on_consistent_views_and_finite_with_one_view(self):
    codec, cams, target, root_depth = self._consistent()
    spread = jnp.ones_like(target)
    for routing in losses.MVC_ROUTINGS:
      fn = lambda p, m=None, r=routing: losses.mvc_loss(  # noqa: E731
          codec, cams, p, root_depth, unit_mm=codec.unit_mm, view_mask=m, routing=r,
          spread=spread)
      self.assertLess(float(fn(target)), 1e-2, routing)
      one = jnp.array([[False, True, False, False]] * target.shape[0])
      pred = target + jax.random.normal(jax.random.key(3), target.shape)
      value, grad = jax.value_and_grad(fn)(pred, one)
      self.assertEqual(float(value), 0.0, routing)        # one view: nothing to agree with
      self.assertTrue(np.all(np.isfinite(np.asarray(grad))), routing)

  def test_gradients_are_those_of_the_documented_equations(self):
    """check_grads (float64, generic points where |.| is smooth): the paper's form and the
    scale-anchored one are differentiated through both views of every pair; the held-fixed
    forms (consensus, median, uncertainty) have exactly the gradient of their equation with the
    target T_c computed once and held constant."""
    rng = np.random.default_rng(0)
    with jax.enable_x64(True):
      world = jnp.asarray(rng.normal(size=(4, 5, 3)) * 200.0)
      for routing in ('both', 'scale_anchored', 'root_relative'):
        check_grads(lambda w, r=routing: losses.mvc_of_world(w, routing=r), (world,),
                    order=1, modes=('rev',), atol=1e-4, rtol=1e-4)
      m = jnp.ones(4)
      others = 1.0 - jnp.eye(4)
      fixed = {
          'consensus': (others @ world.reshape(4, -1) / 3.0).reshape(world.shape),
          'median': jax.vmap(lambda o: losses.geometric_median(world, o))(others),
      }
      for routing, target in fixed.items():
        got = jax.grad(lambda w, r=routing: losses.mvc_of_world(w, routing=r))(world)
        want = jax.grad(lambda w, t=target: losses._toward_fixed(w, t, m, 'normalised'))(world)
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-9, atol=1e-12,
                                   err_msg=routing)
        check_grads(lambda w, t=target: losses._toward_fixed(w, t, m, 'normalised'), (world,),
                    order=1, modes=('rev',), atol=1e-4, rtol=1e-4)
      # uncertainty: sum_c mean |3 sigma_c,a / sum_a' sigma_c,a' (R_c (X_c - T_c))_a| with
      # T_c the other views' precision-weighted fusion, held fixed
      rot = jnp.asarray(np.stack([np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(4)]))
      sigma = jnp.asarray(rng.uniform(5.0, 50.0, size=(4, 5, 3)))
      target = losses.fused_targets(world, sigma, rot, m)
      take = 3.0 * sigma / jnp.sum(sigma, axis=-1, keepdims=True)

      def equation(w):
        resid = jnp.einsum('vab,vjb->vja', rot, w - target)
        return jnp.sum(jnp.mean(jnp.abs(take * resid), axis=(1, 2)) * 3.0)   # 3 other views

      got = jax.grad(lambda w: losses.uncertainty_l1(w, sigma, rot))(world)
      np.testing.assert_allclose(np.asarray(got), np.asarray(jax.grad(equation)(world)),
                                 rtol=1e-9, atol=1e-12)
      check_grads(equation, (world,), order=1, modes=('rev',), atol=1e-4, rtol=1e-4)

  def test_uncertainty_lets_a_sharp_lateral_view_teach_an_unsure_depth_not_the_reverse(self):
    # Camera 0 looks along world z (R = I); camera 1 along world x (its z axis is world x). The
    # truth is at the origin; view 0 put the joint 50 mm too deep, view 1 is right. Each is sharp
    # across its image (5 mm) and unsure along its axis (50 mm).
    r0 = jnp.eye(3)
    r1 = jnp.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    rot = jnp.stack([r0, r1])
    x = jnp.array([[[0.0, 0.0, 50.0]], [[0.0, 0.0, 0.0]]])
    sigma = jnp.array([[[5.0, 5.0, 50.0]], [[5.0, 5.0, 50.0]]])
    fn = lambda w: losses.uncertainty_l1(w, sigma, rot)                     # noqa: E731
    g = _grad(fn, x)
    # view 0's depth error is corrected at its uncertain axis' weight (3 x 50/60 / 3 coords);
    # view 1 is pulled across its sharp image axis (world z) at 3 x 5/60 / 3: ten times less
    self.assertAlmostEqual(g[0, 0, 2], 50 / 60, places=4)
    self.assertAlmostEqual(g[1, 0, 2], -5 / 60, places=4)
    self.assertGreater(abs(g[0, 0, 2]), 5 * abs(g[1, 0, 2]))
    # equal isotropic spreads: the consensus routing exactly
    y = self._views()
    y = y.at[:, 0].add(jax.random.normal(jax.random.key(4), (4, 3)) * 5.0)   # no exact ties
    iso = jnp.full(y.shape, 30.0)
    rots = jnp.stack([jnp.eye(3)] * 4)
    self.assertAlmostEqual(float(losses.uncertainty_l1(y, iso, rots)),
                           float(losses.mvc_of_world(y, routing='consensus')), places=2)
    np.testing.assert_allclose(_grad(lambda w: losses.uncertainty_l1(w, iso, rots), y),
                               _grad(lambda w: losses.mvc_of_world(w, routing='consensus'), y),
                               atol=1e-5)

  def test_uncertainty_fuses_the_other_views_by_their_precision(self):
    # Three views; view 0 is compared with views 1 and 2. View 1 is sharp along world x (its
    # camera x axis), view 2 along world z; each is unsure elsewhere. The target of view 0 takes
    # x from view 1 and z from view 2.
    rot = jnp.stack([jnp.eye(3)] * 3)
    x = jnp.array([[[0.0, 0.0, 0.0]], [[10.0, 0.0, 90.0]], [[70.0, 0.0, 20.0]]])
    sigma = jnp.array([[[1.0, 1.0, 1.0]], [[1.0, 1.0, 100.0]], [[100.0, 1.0, 1.0]]])
    w1, w2 = 1.0, 1.0 / 100.0 ** 2                     # precisions: sharp, unsure
    tx = (w1 * 10.0 + w2 * 70.0) / (w1 + w2)
    tz = (w2 * 90.0 + w1 * 20.0) / (w1 + w2)
    targets = losses.fused_targets(x, sigma, rot, jnp.ones(3))
    np.testing.assert_allclose(targets[0, 0], [tx, 0.0, tz], rtol=1e-4, atol=1e-4)
    # the mean of the others (consensus) would put view 0's target at (40, 0, 55)
    self.assertLess(abs(float(targets[0, 0, 0]) - 10.0), 1.0)
    g = _grad(lambda w: losses.uncertainty_l1(w, sigma, rot), x)
    self.assertLess(g[0, 0, 0], 0.0)   # view 0 is pulled toward +x ...
    self.assertLess(g[0, 0, 2], 0.0)   # ... and +z
    # a masked view gives nothing: without view 2, view 0's target is view 1
    t2 = losses.fused_targets(x, sigma, rot, jnp.array([1.0, 1.0, 0.0]))
    np.testing.assert_allclose(t2[0, 0], x[1, 0], atol=1e-3)

  def test_the_heatmap_spread_matches_the_softmax_moments(self):
    from mvssl.ops import soft_argmax
    logits = jax.random.normal(jax.random.key(3), (2, 5, 6, 7)) * 2.0
    mean, std = soft_argmax.soft_argmax_3d_spread(logits)
    p = np.asarray(jax.nn.softmax(logits.reshape(2, -1), axis=-1)).reshape(2, 5, 6, 7)
    zz, yy, xx = np.meshgrid(np.arange(5), np.arange(6), np.arange(7), indexing='ij')
    for axis, grid in enumerate((xx, yy, zz)):
      mu = (p * grid).sum(axis=(1, 2, 3))
      sd = np.sqrt((p * (grid - mu[:, None, None, None]) ** 2).sum(axis=(1, 2, 3)))
      np.testing.assert_allclose(np.asarray(mean)[:, axis], mu, rtol=1e-5)
      np.testing.assert_allclose(np.asarray(std)[:, axis], sd, rtol=1e-3)
    np.testing.assert_allclose(mean, soft_argmax.soft_argmax_3d(logits), rtol=1e-6)
    # a sharp peak has a small spread; a flat volume that of a uniform distribution
    _, sharp = soft_argmax.soft_argmax_3d_spread(jnp.zeros((5, 6, 7)).at[2, 3, 4].set(50.0))
    self.assertLess(float(jnp.max(sharp)), 0.01)
    _, flat = soft_argmax.soft_argmax_3d_spread(jnp.zeros((5, 6, 7)))
    np.testing.assert_allclose(flat, np.sqrt((np.array([7, 6, 5]) ** 2 - 1) / 12), rtol=1e-4)
