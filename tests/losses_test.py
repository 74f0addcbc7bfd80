"""Losses: pairwise L1 counts view pairs and masks views; MVC (eq. 9) vanishes for consistent
views and measures a depth error in mm; eq. 10 weighs the terms."""

import chex
import jax
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
