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
