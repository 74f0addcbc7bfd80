"""The Pose2Sim experiment over seeds: which runs are compared, and the seed-level comparisons of
the held-out frames against a known difference (no training)."""

import numpy as np
from absl.testing import absltest

from configs import lifting as lifting_config
from configs import pose2sim as pose2sim_config
from mvssl import main
from mvssl.experiments import pose2sim
from mvssl.train import runs

VIEWS = ['cam01', 'cam02']
RUNS = [dict(name='base', label='Base', init_from='', pgt=False, pgt_from='pseudo_label'),
        dict(name='pose2sim_ours', label='gated', init_from='base', pgt=True,
             pgt_from='pseudo_label'),
        dict(name='pose2sim_ungated', label='ungated', init_from='base', pgt=True,
             pgt_from='pseudo_label_ungated')]


def _seed(rng, shift):
  """One seed's report: per (frame, view) errors of 20 held-out frames; 'ungated' is ``shift``
  mm farther from the P-GT than 'gated' and as far from agreement, 'Base' 10 mm farther."""
  base = rng.uniform(20.0, 30.0, (20, 2))
  errs = {'Base': base + 10.0, 'gated': base, 'ungated': base + shift}
  out = dict(views=VIEWS, frames=list(range(40)), tuning_frames=list(range(20)), runs=RUNS,
             pairs=pose2sim.pairs(RUNS),
             pgt_vs_reference_mm=dict(median=0.0, max=0.0), pgt_valid_share=1.0,
             pgt_reprojection_px={v: 5.0 for v in VIEWS},
             pgt_reprojection_px_on_frames={v: 5.0 for v in VIEWS}, per_frame={})
  for key in ('models', 'heldout_models'):
    out[key] = {}
    for m, e in errs.items():
      out[key][m] = {v: dict(mvc_disagreement_mm=float(e[:, i].mean()),
                             mpjpe_to_pgt_mm=float(e[:, i].mean())) for i, v in enumerate(VIEWS)}
      out['per_frame'][(key, m)] = dict(mvc_disagreement_mm=e, mpjpe_to_pgt_mm=e)
  return out


class Pose2SimAggregateTest(absltest.TestCase):

  def test_pairs(self):
    self.assertEqual(pose2sim.pairs(RUNS), [('gated', 'Base'), ('ungated', 'gated')])
    # Without a gated twin from the same start, the ungated run is compared with nothing.
    self.assertEqual(pose2sim.pairs([RUNS[0], RUNS[2]]), [])

  def test_known_differences_over_seeds(self):
    rng = np.random.default_rng(0)
    shifts = [3.0, 4.0, 5.0]
    out = pose2sim.aggregate({s: _seed(rng, d) for s, d in enumerate(shifts)})
    self.assertEqual(out['seeds'], [0, 1, 2])
    self.assertNotIn('per_frame', out)
    by = {(c['a'], c['b'], c['metric']): c for c in out['comparisons']}
    self.assertLen(by, 4)
    c = by[('ungated', 'gated', 'mpjpe_to_pgt_mm')]
    np.testing.assert_allclose(c['per_seed'], shifts, atol=1e-9)
    self.assertAlmostEqual(c['mean'], 4.0, places=6)
    self.assertEqual((c['seeds'], c['blocks'], c['frames']), (3, 1, 20))
    self.assertLess(c['low'], 4.0)
    self.assertGreater(c['high'], 4.0)
    # Every comparison here has a constant sign at every seed; the Base one is the same at every
    # seed, so its interval is a point and survives Holm.
    g = by[('gated', 'Base', 'mvc_disagreement_mm')]
    self.assertAlmostEqual(g['mean'], -10.0, places=6)
    self.assertTrue(g['holm'])
    # mean +- std over seeds of the per-view numbers.
    m = out['heldout_models']['ungated']['cam01']['mpjpe_to_pgt_mm']
    self.assertGreater(m['std'], 0.0)
    self.assertIn(' ± ', '\n'.join(pose2sim.table(out, 'heldout_models', reproj=False)))
    self.assertTrue(any('(Holm)' in line for line in pose2sim.comparison_lines(out)))


class Pose2SimFormsConfigTest(absltest.TestCase):

  def test_every_form_is_paired_with_l1_only_and_the_papers_form(self):
    config = pose2sim_config.get_config('lifting_forms')
    main.validate(config)
    table = runs.table(config)
    self.assertNotIn('pose2sim_ungated', table)
    self.assertEqual(config.pose2sim.results, 'pose2sim_forms')   # beside :lifting's report
    self.assertEqual(table['pose2sim_l1'].weights.mvc, 0.0)
    for name, routing, _ in lifting_config.FORMS:
      r = table[f'pose2sim_{name}']
      self.assertEqual((r.mvc.routing, r.weights.mvc, r.init_from), (routing, 0.1, 'base'))
      for partner in ('pose2sim_l1', 'pose2sim_ours'):
        self.assertIn((f'pose2sim_{name}', partner), config.pairs)
    # A metric in a pair is refused: both of the experiment's metrics are always compared.
    config.pairs = (('pose2sim_ours', 'pose2sim_l1', 'mpjpe'),)
    with self.assertRaisesRegex(ValueError, 'config.pairs: the pose2sim experiment compares'):
      main.validate(config)


if __name__ == '__main__':
  absltest.main()
