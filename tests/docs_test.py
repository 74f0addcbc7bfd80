"""The docs are generated from docs/results: no stale table, no hand-written measured number, a
README that is a front door with links that resolve."""

import importlib.util
import json
import os
import re

import chex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tool(name):
  spec = importlib.util.spec_from_file_location(f'tools_{name}', os.path.join(ROOT, 'tools',
                                                                              f'{name}.py'))
  mod = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(mod)
  return mod


docs = _tool('docs')


def _render(test, fn, name: str, out: dict) -> list[str]:
  """The lines ``fn(name)`` renders from ``out`` written as ``docs/results/NAME.json`` (a
  temporary results folder)."""
  tmp = test.create_tempdir().full_path
  with open(os.path.join(tmp, f'{name}.json'), 'w') as f:
    json.dump(out, f)
  old, docs.RESULTS = docs.RESULTS, tmp
  try:
    return fn(name).splitlines()
  finally:
    docs.RESULTS = old


class DocsTest(chex.TestCase):

  def test_every_generated_part_matches_the_results_files(self):
    problems = docs.check()
    self.assertEqual(problems, [], '\n'.join(problems))

  def test_a_stale_table_and_a_hand_written_number_are_caught(self):
    tmp = self.create_tempdir().full_path
    out = dict(trials=10, scenarios={'s': {k: [0.95, 1.0] for k in (
        'reported', 'bootstrap', 't', 'frame bootstrap')}},
               provenance=dict(written_by=dict(command='x', commit='abc1234', lock='sha256:00',
                                               device='cpu x1', created='now')))
    with open(os.path.join(tmp, 'coverage.json'), 'w') as f:
      json.dump(out, f)
    old = docs.RESULTS
    docs.RESULTS = tmp
    try:
      page = '<!-- generated: coverage -->\n| stale |\n<!-- /generated -->\n'
      fresh = docs.generate(page)
      self.assertNotEqual(fresh, page)
      self.assertIn('95.0% / 1.00 mm', fresh)
      self.assertEqual(docs.generate(fresh), fresh)           # regenerating changes nothing
      out['scenarios']['s']['reported'] = [0.5, 1.0]
      with open(os.path.join(tmp, 'coverage.json'), 'w') as f:
        json.dump(out, f)
      self.assertNotEqual(docs.generate(fresh), fresh)        # a changed file: the page is stale
      self.assertIn('is not committed', docs.render('absolute.table'))   # never a number
    finally:
      docs.RESULTS = old
    self.assertEqual(docs.handwritten_numbers('Ours gains 5.4 mm over L1-only.'), ['5.4 mm'])
    self.assertEqual(docs.handwritten_numbers('at weight 0.1, ResNet-50, `runs 1.5 s`'), [])
    self.assertEqual(docs.handwritten_numbers(
        '<!-- value: x -->5.4 mm<!-- /value --> and\n```\n2.5 px\n```'), [])

  def test_the_readme_is_a_short_front_door_whose_links_resolve(self):
    with open(os.path.join(ROOT, 'README.md')) as f:
      text = f.read()
    self.assertLessEqual(len(text.splitlines()), 150)
    for cmd in ('pip install --require-hashes -r requirements.lock', 'python -m pytest tests',
                'launch.py --config=configs/default.py'):
      self.assertIn(cmd, text)
    links = re.findall(r'\]\(([^)#]+)(#[^)]*)?\)', text)
    self.assertGreater(len(links), 5)
    for path, _ in links:
      if '://' not in path:
        self.assertTrue(os.path.exists(os.path.join(ROOT, path)), path)

  def test_ci_calls_the_readmes_test_command_and_installs_from_the_lock(self):
    with open(os.path.join(ROOT, '.ci', 'run')) as f:
      ci = f.read()
    self.assertIn('-m pytest tests', ci)
    self.assertIn('--require-hashes -r requirements.lock', ci)
    self.assertIn('tools/lock.py check', ci)
    self.assertIn('mkdocs build --strict', ci)


def _row(label, val, seeds=(0,)):
  ms = dict(mean=80.0, std=0.5, per_seed=[80.0] * len(seeds))
  return dict(label=label, seeds=list(seeds), minutes=3.0,
              validation=dict(mpjpe=dict(mean=val, std=0.0, per_seed=[val] * len(seeds))),
              test=dict(mpjpe=ms, vs_reference=dict(mean=1.0, low=0.5, high=1.5, holm=True),
                        consensus_mpjpe=ms, view_specific=ms, depth=ms, pose_scale=ms))


class StudyFormsTableTest(chex.TestCase):

  def test_each_form_shows_its_validation_choice_and_that_rows_comparisons(self):
    variants = {
        'base_gt': _row('Base', 90.0), 'l1_only': _row('L1-only', 85.0),
        'ours_w003': _row('Ours, lambda 0.03', 84.0), 'ours': _row('Ours, lambda 0.1', 83.0),
        'ours_w03': _row('Ours, lambda 0.3', 86.0),
        'sc_w003': _row('Ours, scale, lambda 0.03', 82.0, seeds=(0, 1)),
        'sc': _row('Ours, scale, lambda 0.1', 84.5),
        'sc_w03': _row('Ours, scale, lambda 0.3', 87.0)}
    out = dict(variants=variants, chosen_on=[0], seeds=[0, 1], comparisons=7,
               group_choices={'Ours': 'ours', 'scale': 'sc_w003'},
               groups=[['Baselines', ['base_gt', 'l1_only']],
                       ['Ours', ['ours_w003', 'ours', 'ours_w03']],
                       ['scale', ['sc_w003', 'sc', 'sc_w03']]],
               pairs=[dict(a='Ours, scale, lambda 0.03', b='Ours, lambda 0.1',
                           test=dict(mean=-2.0, low=-3.0, high=-1.0, holm=False))],
               provenance=dict(written_by=dict(command='x', commit='abc1234', lock='sha256:00',
                                               device='cpu x1', created='now')))
    lines = _render(self, docs.study_forms, 'g', out)
    out['group_choices']['scale'] = 'sc'              # the table shows the study's record
    recorded = _render(self, docs.study_forms, 'g', out)
    ours = next(x for x in lines if x.startswith('| Ours |'))
    scale = next(x for x in lines if x.startswith('| Ours, scale |'))
    cells = lambda x: [c.strip() for c in x.strip('|').split('|')]   # noqa: E731
    self.assertEqual(cells(next(x for x in recorded if x.startswith('| Ours, scale |')))[4],
                     '0.1')
    self.assertEqual(cells(ours)[1:5], ['84.0', '83.0', '86.0', '0.1'])   # lowest validation
    self.assertEqual(cells(ours)[8], '-')                     # the paper's form against itself
    self.assertEqual(cells(scale)[4:6], ['0.03', '2'])        # chosen, promoted to 2 seeds
    self.assertIn('[-3.00, -1.00]', cells(scale)[8])         # its pair with the paper's form


class SeedsTableTest(chex.TestCase):

  def test_a_row_without_training_minutes_shows_a_dash_not_nan(self):
    out = dict(seeds=[0, 1], num_test_frames=10,
               models={'Base': dict(mean=dict(mpjpe=dict(mean=90.0, std=1.0),
                                              pa_mpjpe=dict(mean=70.0, std=1.0))),
                       'Base + RootNet': dict(mean=dict(mpjpe=dict(mean=91.0, std=1.0),
                                                        pa_mpjpe=dict(mean=71.0, std=1.0)))},
               minutes={'Base': 2.5, 'Base + RootNet': float('nan')},
               provenance=dict(written_by=dict(command='x', commit='abc1234', lock='sha256:00',
                                               device='cpu x1', created='now')))
    lines = _render(self, docs.seeds_table, 's', out)
    cells = {x.split('|')[1].strip(): x.strip('|').split('|')[-1].strip()
             for x in lines if x.startswith('| Base')}
    self.assertEqual(cells, {'Base': '2.5', 'Base + RootNet': '-'})


class ProvenanceIndexTest(chex.TestCase):

  def test_a_file_made_by_several_commands_shows_the_latest_date_not_the_last_listed(self):
    tmp = self.create_tempdir().full_path
    made = [dict(command='a', commit='bbbbbbb', created='2026-12-08T01:44:34Z'),
            dict(command='a', commit='aaaaaaa', created='2026-12-07T22:30:06Z')]
    with open(os.path.join(tmp, 'r.json'), 'w') as f:
      json.dump(dict(provenance=dict(made_by=made)), f)
    old, docs.RESULTS = docs.RESULTS, tmp
    try:
      row = docs.provenance_index().splitlines()[-1]
    finally:
      docs.RESULTS = old
    self.assertTrue(row.startswith('| `docs/results/r.json` |'), row)
    self.assertTrue(row.endswith('| 2026-12-08T01:44:34Z |'), row)
