"""Statistics: the paired bootstrap against a plain numpy bootstrap; mean +- std."""

import chex
import numpy as np

from mvssl import stats


def _numpy_bootstrap(d, n=4000, level=0.95, seed=1):
  rng = np.random.default_rng(seed)
  means = d[rng.integers(0, len(d), (n, len(d)))].mean(axis=1)
  return np.quantile(means, [(1 - level) / 2, (1 + level) / 2])


class StatsTest(chex.TestCase):

  def test_paired_interval_matches_a_numpy_bootstrap(self):
    rng = np.random.default_rng(0)
    base = rng.gamma(4.0, 25.0, (400, 4))                           # [frames, views] mm
    better = base - 3.0 + rng.normal(0, 5.0, base.shape)
    out = stats.paired_interval(better, base, n_resamples=4000)
    ref = _numpy_bootstrap((better - base).mean(axis=1))
    self.assertAlmostEqual(out['mean'], float((better - base).mean()), places=6)
    width = ref[1] - ref[0]
    self.assertAlmostEqual(out['low'], ref[0], delta=0.1 * width)
    self.assertAlmostEqual(out['high'], ref[1], delta=0.1 * width)
    self.assertLess(out['high'], 0.0)                                # clearly lower
    self.assertEqual(out['frames'], 400)
    same = stats.paired_interval(base + rng.normal(0, 5.0, base.shape), base)
    self.assertLess(same['low'], 0.0)
    self.assertGreater(same['high'], 0.0)

  def test_views_not_recorded_are_left_out_and_shapes_checked(self):
    a = np.array([[1.0, np.nan], [3.0, 5.0], [2.0, 2.0]])
    b = np.zeros_like(a)
    out = stats.paired_interval(a, b, n_resamples=200)
    self.assertAlmostEqual(out['mean'], np.mean([1.0, 4.0, 2.0]))
    with self.assertRaisesRegex(ValueError, 'differ in shape'):
      stats.paired_interval(a, b[:2])
    self.assertEqual(stats.mean_std([1.0, 2.0, 3.0]), (2.0, 1.0))
    self.assertEqual(stats.mean_std([4.0]), (4.0, 0.0))

  def test_paired_over_seeds_averages_each_side_over_seeds_first(self):
    rng = np.random.default_rng(3)
    errors = [dict(a=rng.gamma(4.0, 25.0, (300, 4)), b=rng.gamma(4.0, 25.0, (300, 4)))
              for _ in range(3)]
    out = stats.paired_over_seeds(errors, 'a', 'b')
    ref = stats.paired_interval(np.mean([e['a'] for e in errors], axis=0),
                                np.mean([e['b'] for e in errors], axis=0))
    self.assertEqual(out, ref)
    self.assertAlmostEqual(out['mean'], float(np.mean([e['a'] - e['b'] for e in errors])),
                           places=6)
