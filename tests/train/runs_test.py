"""The run table: dependency order, validation with named fields, the report line of a row."""

import chex

from configs import default
from configs import pose2sim as pose2sim_config
from configs import study as study_config
from mvssl.experiments import study
from mvssl.train import runs
from tests.fixtures.checks import run_settings


class RunTableTest(chex.TestCase):

  def test_default_table_in_dependency_order(self):
    config = default.get_config()
    table = runs.table(config)
    self.assertEqual(list(table), ['base', 'base_gt', 'multi', 'l1_only', 'ours'])
    ours = table['ours']
    self.assertEqual((ours.init_from, ours.gt, ours.pgt, ours.mvc_frames),
                     ('base', True, True, 'all'))
    self.assertEqual((ours.weights.l1, ours.weights.mvc), (1.0, 0.03))   # the study's choice
    self.assertEqual(study_config.get_config().runs.ours.weights.mvc, 0.1)   # the paper's
    self.assertEqual(table['multi'].weights.mm_3d, 0.01)
    self.assertEqual(runs.dependencies(ours, config.pseudo_label), ['base', 'multi'])
    # Detections as the P-GT source: the fine-tunes no longer wait for G.
    config.pseudo_label.source = 'detections'
    self.assertEqual(runs.dependencies(runs.table(config)['ours'], config.pseudo_label),
                     ['base'])
    self.assertEqual(list(runs.table(pose2sim_config.get_config())),
                     ['base', 'pose2sim_ours', 'pose2sim_ungated'])

  def test_order_breaks_ties_and_a_dependency_wins_over_order(self):
    config = default.get_config()
    config.runs.first = default.run('First', 'integral', 'finetune', init_from='ours', order=-1)
    config.runs.early = default.run('Early', 'integral', 'finetune', init_from='base', order=-1)
    names = list(runs.table(config))
    self.assertEqual(names[:2], ['base', 'early'])
    self.assertLess(names.index('ours'), names.index('first'))

  def test_bad_rows_are_named(self):
    cases = [
        (dict(family='voxel'),
         r"config.runs.x.family must be one of \['algebraic', 'integral', 'lifting'"),
        (dict(schedule='long'), r'config.runs.x.schedule must name a block of config.schedules'),
        (dict(init_from='nope'), r"config.runs.x.init_from names no run: 'nope'"),
        (dict(init_from='multi'), r"config.runs.x.init_from: 'multi' is of family 'algebraic'"),
        (dict(report='table'), r'config.runs.x.report must be one of'),
        (dict(gt=False), r'config.runs.x.data: gt and pgt are both False'),
        (dict(mvc_frames='labeled'), r'config.runs.x.data.mvc_frames must be one of'),
        (dict(mvc_routing='sideways'), r'config.runs.x.mvc_loss.routing must be one of'),
        (dict(mvc_form='squared'), r'config.runs.x.mvc_loss.form must be one of'),
        (dict(mvc_routing='reprojection', mvc_unit='mm'),
         r"config.runs.x.mvc_loss.routing 'reprojection' compares image x, y in heatmap cells"),
        (dict(family='metrabs', init_from='', mvc_routing='uncertainty'),
         r"routing 'uncertainty' needs the heatmaps of family integral \(image x, y in cells\) "
         r"or the dropout samples of family lifting, got family 'metrabs'"),
        (dict(family='lifting', init_from='', mvc_routing='reprojection'),
         r"routing 'reprojection' needs the heatmaps of family integral .*got family 'lifting'"),
        (dict(family='lifting', init_from='', mvc_routing='uncertainty', mvc_samples=1),
         r'config.runs.x.mvc_loss.samples must be an integer >= 2'),
        (dict(mvc_unit='cm'), r'config.runs.x.mvc_loss.unit must be one of'),
        (dict(pgt=True, pgt_from='detector'), r'config.runs.x.data.pgt_from must be one of'),
        (dict(pgt=True, pgt_withheld=1.0), r'config.runs.x.data.pgt_withheld must be >= 0 and < 1'),
        (dict(pgt=True, pgt_noise_mm=-3.0), r'config.runs.x.data.pgt_noise_mm must be >= 0'),
        (dict(unlabeled_share=0.5), r'config.runs.x.data.unlabeled_share needs both gt and pgt'),
        (dict(family='metro', pgt=True, pgt_view_noise=0.5, init_from='', report='below'),
         r"config.runs.x.data: pgt_view_noise / pgt_withheld act on per-view targets of family "
         r"integral or lifting, not 'metro'"),
    ]
    for change, message in cases:
      config = default.get_config()
      row = dict(label='X', family='integral', schedule='finetune')
      row.update(change)
      config.runs.x = default.run(**row)
      with self.assertRaisesRegex(ValueError, message):
        runs.table(config)
    config = default.get_config()
    config.runs.multi.report = 'column'
    with self.assertRaisesRegex(ValueError, r"runs.multi.report: family 'algebraic' predicts one"):
      runs.table(config)
    config = default.get_config()
    config.runs.base.init_from = 'ours'
    with self.assertRaisesRegex(ValueError, 'form a cycle'):
      runs.table(config)
    config = default.get_config()
    config.pseudo_label.run = 'base'
    with self.assertRaisesRegex(ValueError, 'config.pseudo_label.run must name an algebraic run'):
      runs.table(config)

  def test_describe(self):
    config = default.get_config()
    table = runs.table(config)
    s = config.schedules
    self.assertEqual(runs.describe(table['ours'], s.finetune),
                     f'Ours: integral model, {s.finetune.steps} steps from base on GT + P-GT, '
                     f'L = 1 L1 + {config.runs.ours.weights.mvc:g} MVC (frames: all)')
    self.assertEqual(runs.describe(table['multi'], s.pretrain_multi),
                     f'G: algebraic model, {s.pretrain_multi.steps} steps from scratch on GT, '
                     'L = 1 2D L1 + 0.01 3D L1 (mm)')


class StudyFormsIncompleteTest(chex.TestCase):

  def test_every_form_under_each_setting_is_paired_with_that_settings_l1_only(self):
    config = study_config.get_config('forms_incomplete')
    table = runs.table(config)
    self.assertNotIn('ours', table)
    for tag, _, kw in study_config.INCOMPLETE:
      l1 = table[f'l1_{tag}']
      self.assertEqual((l1.targets.withheld, l1.targets.view_noise, l1.weights.mvc),
                       (kw.get('pgt_withheld', 0.0), kw.get('pgt_view_noise', 0.0), 0.0))
      for name, routing, _ in study_config.FORMS:
        r = table[f'{name}_{tag}']
        self.assertEqual((r.mvc.routing, r.weights.mvc, r.targets), (routing, 0.1, l1.targets))
        self.assertIn((f'{name}_{tag}', f'l1_{tag}'), config.study.pairs)
    self.assertEqual(set(config.study.all_seeds),
                     {'base_gt', 'l1_only', 'l1_h30', 'ours_h30', 'l1_vn25', 'ours_vn25'})


class StudyFormsGridTest(chex.TestCase):

  def test_every_form_at_every_weight_reusing_the_decisive_rows_of_the_papers_form(self):
    grid, decisive = study_config.get_config('forms_grid'), study_config.get_config('')
    table = runs.table(grid)
    study.check(grid)                                   # every named run exists
    weights = sorted(w for w, _ in study_config.GRID)
    groups = dict(grid.study.groups)
    for name, routing, _ in (('ours', None, ''),) + study_config.FORMS:
      rows = next(r for r in groups.values() if name in r)
      self.assertEqual(sorted(table[r].weights.mvc for r in rows), weights)
      self.assertEqual({table[r].mvc.routing for r in rows},
                       {routing or table['ours'].mvc.routing})
      for r in rows:
        if r != 'ours':
          self.assertIn((r, 'ours'), grid.study.pairs)      # each against the paper's form
    self.assertEqual(set(grid.study.all_seeds), {'base_gt', 'l1_only', 'ours'})
    # the paper's form's grid points are the decisive study's runs (trained once, by name)
    for name in ('base_gt', 'l1_only', 'ours', 'ours_w03', 'ours_w3'):
      self.assertEqual(run_settings(grid.runs[name]), run_settings(decisive.runs[name]), name)

  def test_every_form_at_the_papers_weight_is_the_mvc_forms_run_of_that_name(self):
    # the docs run :forms_grid in :mvc_forms' workdir: its lambda 0.1 rows must be those runs
    grid, forms = study_config.get_config('forms_grid'), study_config.get_config('mvc_forms')
    self.assertEqual(grid.data.to_dict(), forms.data.to_dict())    # the same renders, P-GT
    shared = set(grid.runs) & set(forms.runs)
    self.assertTrue({'base', 'base_gt', 'l1_only', 'ours'}
                    | {n for n, _, _ in study_config.FORMS} <= shared)
    for name in shared:
      self.assertEqual(run_settings(grid.runs[name]), run_settings(forms.runs[name]), name)
    for name, _, _ in study_config.FORMS:
      self.assertEqual(grid.runs[name].weights.mvc, 0.1)
