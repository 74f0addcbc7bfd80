"""configs/lifting.py:b_grid: every form of L_MVC at every weight of the grid, chosen on the
validation split by the study, reusing b_forms' runs at lambda 0.1 (same names and settings);
:b_scale: the uncertainty routing on the network's learned scale, in a workdir of its own."""

import chex

from configs import lifting as lifting_config
from mvssl.experiments import study
from mvssl.train import runs
from tests.fixtures.checks import run_settings


class LiftingGridTest(chex.TestCase):

  def test_every_form_at_every_weight_and_the_paper_weight_reuses_b_forms(self):
    grid, forms = lifting_config.get_config('b_grid'), lifting_config.get_config('b_forms')
    study.check(grid)                                  # every named run exists
    self.assertEqual(grid.experiment, 'study')
    names = ['ours'] + [n for n, _, _ in lifting_config.FORMS]
    weights = [w for w, _ in lifting_config.GRID]
    self.assertIn(0.1, weights)
    groups = dict(grid.study.groups)
    self.assertEqual(len(groups), 1 + len(names))
    for name in names:
      rows = next(r for g, r in groups.items() if name in r)
      self.assertEqual(sorted(grid.runs[r].weights.mvc for r in rows), sorted(weights))
      self.assertEqual({grid.runs[r].mvc_loss.routing for r in rows},
                       {forms.runs[name].mvc_loss.routing})
      # the row at the paper's weight is b_forms' run: trained once, reused by name
      self.assertEqual(run_settings(grid.runs[name]), run_settings(forms.runs[name]))
    for other in ('base', 'base_gt', 'l1_only'):
      self.assertEqual(run_settings(grid.runs[other]), run_settings(forms.runs[other]))

  def test_the_other_seeds_train_each_forms_choice_with_the_baselines_only(self):
    grid = lifting_config.get_config('b_grid')
    self.assertEqual(len(study.seed_runs(grid, 0)), len(grid.runs))   # the sweep seed: all
    later = study.seed_runs(grid, 1, promoted=['ours_scale_w03', 'ours'])
    self.assertEqual(set(later), {'base', 'base_gt', 'l1_only', 'ours_scale_w03', 'ours'})

  def test_each_form_brings_only_its_choice_and_the_papers_form_runs_everywhere(self):
    grid = lifting_config.get_config('b_grid')
    self.assertIn('ours', grid.study.all_seeds)      # every form's pair with it has every seed
    # validation: the paper's form is best at 0.1, every other form at 0.3
    val = {n: (1.0 if n == 'ours' else 2.0 if n.endswith('_w03') else 3.0) for n in grid.runs}
    per_seed = {0: dict(test=dict(runs={n: dict(name=n) for n in grid.runs}),
                        validation=dict(models={n: dict(mean=dict(mpjpe=x))
                                                for n, x in val.items()}))}
    choices = study.group_choices(grid, per_seed)
    self.assertEqual(choices[grid.study.groups[1][0]], 'ours')
    self.assertEqual(study.promote(grid, per_seed),
                     [f'{n}_w03' for n, _, _ in lifting_config.FORMS])

  def test_a_bad_protocol_is_one_line(self):
    with self.assertRaisesRegex(ValueError, 'b_grid'):
      lifting_config.get_config('d_grid')

  def test_scale_protocol_has_the_head_and_pairs_the_learned_routing(self):
    c, b = lifting_config.get_config('b_scale'), lifting_config.get_config('b')
    self.assertTrue(c.model.lifting.scale_head)
    self.assertFalse(b.model.lifting.scale_head)
    table = runs.table(c)                       # every row valid
    self.assertEqual(table['ours_uncertainty'].mvc.routing, 'uncertainty')
    runs.check_pairs(c.pairs, table)
    self.assertIn(('ours_uncertainty', 'ours'), c.pairs)
    for name in ('base', 'l1_only', 'ours'):    # as in b: the head leaves the pose head alone
      self.assertEqual(run_settings(c.runs[name]), run_settings(b.runs[name]))

  def test_incomplete_protocol_pairs_each_ours_with_its_own_l1_only(self):
    c, b = lifting_config.get_config('b_incomplete'), lifting_config.get_config('b')
    table = runs.table(c)
    runs.check_pairs(c.pairs, table)
    self.assertEqual(table['l1_h30'].targets.withheld, 0.3)
    self.assertEqual(table['ours_vn'].targets.view_noise, lifting_config.VIEW_NOISE_MM)
    for a, ref in (('ours_h30', 'l1_h30'), ('ours_vn', 'l1_vn')):
      self.assertIn((a, ref), c.pairs)
      self.assertEqual(table[a].targets, table[ref].targets)     # the same targets, + MVC
      self.assertGreater(table[a].weights.mvc, 0.0)
      self.assertEqual(table[ref].weights.mvc, 0.0)
    for name in ('base', 'base_gt', 'l1_only', 'ours'):          # reused from b's workdir
      self.assertEqual(run_settings(c.runs[name]), run_settings(b.runs[name]))
