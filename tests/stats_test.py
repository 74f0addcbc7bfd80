"""Statistics: the seed-level paired comparison against a plain numpy reference, its coverage
in simulations with a known truth (and the frame bootstrap's failure there), Holm, mean +- std."""

import chex
import numpy as np
import scipy.stats

from mvssl import stats


def _crossed_reference(d, blocks, n, level, seed):
  """The hierarchical bootstrap written out: seeds and blocks drawn independently, the mean
  difference over every frame of the drawn seeds and blocks."""
  rng = np.random.default_rng(seed)
  labels = sorted(set(blocks))
  out = []
  for _ in range(n):
    ss = rng.integers(0, len(d), len(d))
    bb = rng.integers(0, len(labels), len(labels))
    num = den = 0.0
    for s in ss:
      for b in bb:
        x = d[s][blocks == labels[b]]
        num, den = num + x.sum(), den + len(x)
    out.append(num / den)
  return np.quantile(out, [(1 - level) / 2, (1 + level) / 2])


class StatsTest(chex.TestCase):

  def test_paired_matches_a_plain_crossed_bootstrap_and_the_seed_t_interval(self):
    rng = np.random.default_rng(0)
    blocks = np.repeat(np.arange(12), 10)                             # 12 sequences x 10 frames
    seq = rng.normal(0, 1.0, 12)[blocks][:, None]
    a = [60.0 + seq + rng.normal(0.5 * s, 2.0, (120, 4)) for s in range(4)]   # [frames, views]
    b = [60.0 + seq + rng.normal(0.0, 2.0, (120, 4)) for _ in range(4)]
    out = stats.paired(a, b, blocks, n_resamples=2000)
    d = np.stack([(x - y).mean(axis=1) for x, y in zip(a, b)])        # [seeds, frames]
    self.assertAlmostEqual(out['mean'], float(d.mean()), places=9)
    np.testing.assert_allclose(out['per_seed'], d.mean(axis=1), rtol=1e-12)
    ref = _crossed_reference(d, blocks, 400, 0.95, 1)
    width = ref[1] - ref[0]
    self.assertAlmostEqual(out['boot_low'], ref[0], delta=0.15 * width)
    self.assertAlmostEqual(out['boot_high'], ref[1], delta=0.15 * width)
    m, sem = d.mean(axis=1).mean(), d.mean(axis=1).std(ddof=1) / 2.0
    t = scipy.stats.t.ppf(0.975, 3)
    self.assertAlmostEqual(out['t_low'], m - t * sem, places=9)
    self.assertAlmostEqual(out['t_high'], m + t * sem, places=9)
    self.assertEqual(out['low'], min(out['boot_low'], out['t_low']))   # the union of the two
    self.assertEqual(out['high'], max(out['boot_high'], out['t_high']))
    self.assertEqual((out['seeds'], out['blocks'], out['frames']), (4, 12, 120))
    self.assertGreater(out['p'], 0.0)
    self.assertLessEqual(out['p'], 1.0)

  def test_one_seed_resamples_sequences_only_and_bad_input_is_named(self):
    a = np.array([[1.0, np.nan], [3.0, 5.0], [2.0, 2.0], [0.0, 0.0]])
    b = np.zeros_like(a)
    out = stats.paired([a], [b], ['s1', 's1', 's2', 's2'], n_resamples=200)
    self.assertAlmostEqual(out['mean'], np.mean([1.0, 4.0, 2.0, 0.0]))   # a NaN view left out
    self.assertTrue(np.isnan(out['t_low']))
    self.assertEqual((out['low'], out['high']), (out['boot_low'], out['boot_high']))
    # two sequences with means 2.5 and 1.0: a bootstrap over sequences can only give these
    self.assertGreaterEqual(out['low'], 1.0 - 1e-12)
    self.assertLessEqual(out['high'], 2.5 + 1e-12)
    with self.assertRaisesRegex(ValueError, 'differ in shape'):
      stats.paired([a], [b[:2]], ['s1', 's1'])
    with self.assertRaisesRegex(ValueError, 'blocks has 2 labels for 4 frames'):
      stats.paired([a], [b], ['s1', 's2'])
    with self.assertRaisesRegex(ValueError, 'same seeds'):
      stats.paired([a, a], [b], ['s1'] * 4)
    self.assertEqual(stats.mean_std([1.0, 2.0, 3.0]), (2.0, 1.0))
    self.assertEqual(stats.mean_std([4.0]), (4.0, 0.0))

  def test_a_single_sequence_resamples_seeds_only_and_one_of_each_gives_no_interval(self):
    blocks = ['S9/walking'] * 6
    a = [np.full(6, 1.0), np.full(6, 2.0), np.full(6, 4.0)]
    b = [np.zeros(6)] * 3
    out = stats.paired(a, b, blocks, n_resamples=500)
    self.assertEqual(out['blocks'], 1)
    # seeds only: the bootstrap can only give means of drawn seeds, within [1, 4]
    self.assertGreaterEqual(out['boot_low'], 1.0 - 1e-12)
    self.assertLessEqual(out['boot_high'], 4.0 + 1e-12)
    self.assertLess(out['boot_low'], out['boot_high'])
    self.assertTrue(np.isfinite(out['t_low']))
    one = stats.paired([np.full(4, 0.5)], [np.zeros(4)], ['s'] * 4)
    self.assertAlmostEqual(one['mean'], 0.5)
    self.assertTrue(np.isnan(one['low']) and np.isnan(one['high']))
    self.assertEqual(one['p'], 1.0)
    self.assertFalse(stats.significant(one))

  def test_paired_over_seeds_takes_the_sequences_from_the_errors(self):
    rng = np.random.default_rng(3)
    block = np.repeat(np.array(['S9/a', 'S9/b', 'S11/c']), 20)
    errors = [dict(a=rng.gamma(4.0, 25.0, (60, 4)), b=rng.gamma(4.0, 25.0, (60, 4)),
                   block=block) for _ in range(3)]
    out = stats.paired_over_seeds(errors, 'a', 'b')
    self.assertEqual(out, stats.paired([e['a'] for e in errors], [e['b'] for e in errors],
                                       block))
    self.assertEqual(out['blocks'], 3)
    older = [{k: v for k, v in e.items() if k != 'block'} for e in errors]   # files before blocks
    self.assertEqual(stats.paired_over_seeds(older, 'a', 'b')['blocks'], 60)

  def test_the_interval_covers_the_truth_where_the_frame_bootstrap_does_not(self):
    # 5 seeds x 40 sequences x 30 frames, AR(1) 0.9 within a sequence, true delta 0.3 mm
    for name in ('seeds dominate', 'sequences dominate', 'seed x sequence'):
      cov = stats.coverage(stats.SCENARIOS[name], trials=200, seed=7, n_resamples=500)
      self.assertGreaterEqual(cov['reported'][0], 0.91, name)        # 95% nominal
      self.assertLess(cov['frame bootstrap'][0], 0.5, name)          # the old interval fails
    # each half alone fails where the other dominates: why the union is reported
    self.assertLess(stats.coverage(stats.SCENARIOS['seeds dominate'], 200, 7, 500)
                    ['bootstrap'][0], 0.9)
    self.assertLess(stats.coverage(stats.SCENARIOS['sequences dominate'], 200, 7, 500)
                    ['t'][0], 0.5)

  def test_holm_steps_down(self):
    # m = 4: 0.01 <= 0.05/4, 0.015 <= 0.05/3, 0.03 > 0.05/2 stops; 0.04 fails after it
    self.assertEqual(stats.holm([0.03, 0.01, 0.04, 0.015]), [False, True, False, True])
    self.assertEqual(stats.holm([0.2, 0.01]), [False, True])
    self.assertEqual(stats.holm([]), [])
