"""The reproduction study end to end on the smoke sizes: sweep rows at the first seed only, the
validation split scored, the study files written, and a second call resuming without training
or predicting anything again; bad study blocks are named."""

import json
import os
from unittest import mock

import chex
import pytest

from configs import smoke
from configs import study as study_config
from mvssl import main
from mvssl.experiments import study
from mvssl.train import families
from mvssl.train import stages

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)


def _config():
  c = smoke.get_config()
  full = study_config.get_config('full')
  c.experiment = 'study'
  c.seeds = (0, 1)
  for name in ('ours_depth', 'l1_hold60', 'ours_hold60', 'l1_gt'):
    c.runs[name] = full.runs[name]
  c.study.candidates = ('ours', 'ours_depth', 'l1_gt')
  c.study.groups = (('Baselines', ('base_gt', 'l1_only', 'ours')), ('Routing', ('ours_depth',)))
  c.study.pairs = (('ours_hold60', 'l1_hold60'),)
  c.study.promote = True
  return c


def _scored(validation: dict, seed_runs: dict) -> dict:
  """A fake per-seed score (the shape evaluate.evaluate returns) with these validation MPJPEs."""
  return {s: dict(test=dict(runs={f'L {n}': dict(name=n) for n in names}),
                  validation=dict(models={f'L {n}': dict(mean=dict(mpjpe=validation[n][i]))
                                          for n in names}))
          for i, (s, names) in enumerate(seed_runs.items())}


class StudyTest(chex.TestCase):

  def test_study_runs_sweeps_once_scores_validation_and_resumes(self):
    tmp = self.create_tempdir().full_path
    out = main.train_and_evaluate(_config(), tmp)
    v = out['variants']
    self.assertEqual(set(v), {'base_gt', 'l1_only', 'ours', 'ours_depth', 'l1_hold60',
                              'ours_hold60', 'l1_gt'})
    self.assertEqual(v['ours']['seeds'], [0, 1])
    self.assertEqual(v['l1_hold60']['seeds'], [0])            # a sweep point: first seed only
    self.assertFalse(os.path.exists(os.path.join(tmp, 'seed_1', 'checkpoints', 'l1_hold60')))
    # the only (so the best) row of the Routing group is promoted to every seed
    self.assertEqual(out['promoted'], ['ours_depth'])
    self.assertEqual(out['group_choices']['Routing'], 'ours_depth')   # the record the docs read
    self.assertEqual(v['ours_depth']['seeds'], [0, 1])
    for name, r in v.items():
      self.assertGreater(r['test']['mpjpe']['mean'], 0.0, name)
      self.assertGreater(r['validation']['mpjpe']['mean'], 0.0, name)
      if name != 'l1_only':
        self.assertLessEqual(r['test']['vs_reference']['low'], r['test']['vs_reference']['high'])
    # the held-out labeled sequences: one of each labeled subject's four (procedural frames are
    # each their own sequence)
    self.assertEqual(out['num_validation_frames'], 3)
    # the unlabeled split's hidden GT: scored as a diagnosis, never chosen on
    self.assertEqual(out['num_diagnosis_frames'], 8)
    self.assertIn('vs_reference', v['ours']['diagnosis'])
    # seed-level comparisons: per-seed differences, both halves of the interval, Holm
    c = v['ours']['test']['vs_reference']
    self.assertEqual(c['seed_ids'], [0, 1])
    self.assertEqual(len(c['per_seed']), 2)
    self.assertLessEqual(c['low'], min(c['boot_low'], c['t_low']))
    self.assertIn('holm', c)
    self.assertGreater(out['comparisons'], 3)
    # the hidden-GT row trains on the validation labels: reported, never chosen
    self.assertTrue(v['l1_gt']['trains_on_validation'])
    self.assertIn(out['chosen'], ('ours', 'ours_depth'))
    self.assertEqual([(p['a'], p['b']) for p in out['pairs']],
                     [('Ours, 60% withheld', 'L1-only, 60% withheld')])
    md = open(os.path.join(tmp, 'study.md')).read()
    self.assertIn('## Routing', md)
    self.assertIn('| Ours, depth-only routing | 2 |', md)
    self.assertIn('then run at every seed (with its partner where it has one): Ours, '
                  'depth-only routing.', md)
    self.assertIn('| L1-only, hidden GT | 1 |', md)                 # under "Other rows"
    self.assertIn('trained on it', md)
    self.assertIn('Chosen on the validation split', md)
    self.assertIn("## Per seed: test MPJPE minus L1-only's", md)
    made = json.load(open(os.path.join(tmp, 'study.json')))['provenance']['made_by']
    self.assertEqual(made[0]['seeds'], [0, 1])
    self.assertIn('commit', made[0])
    for f in ('study.json', 'study.png', 'seed_0/unlabeled_errors.npz', 'seed_0/errors.npz',
              'seed_1/results.md', 'seed_0/predictions/unlabeled/ours_depth.npz'):
      self.assertTrue(os.path.exists(os.path.join(tmp, f)), f)
    self.assertEqual(json.load(open(os.path.join(tmp, 'study.json')))['chosen'], out['chosen'])
    # Again: nothing trained, nothing predicted (the predictions are kept per checkpoint).
    fams = {k: f.__class__(**{**f.__dict__, 'predict': mock.Mock(side_effect=AssertionError(
        'predicted again'))}) for k, f in families.FAMILIES.items()}
    with mock.patch.object(stages, 'training_arrays', side_effect=AssertionError('retrained')), \
        mock.patch.dict(families.FAMILIES, fams):
      again = main.train_and_evaluate(_config(), tmp)
    self.assertEqual(again['variants']['ours']['test']['mpjpe'],
                     out['variants']['ours']['test']['mpjpe'])
    # A changed checkpoint (here: its folder touched) is predicted again.
    ckpt = os.path.join(tmp, 'seed_1', 'checkpoints', 'ours', '4')
    os.utime(ckpt, ns=(1, 1))
    with mock.patch.dict(families.FAMILIES, fams):
      with self.assertRaisesRegex(AssertionError, 'predicted again'):
        main.train_and_evaluate(_config(), tmp)
    # Shards: the trained workdir writes each seed's scores there (no checkpoints) ...
    shards = os.path.join(self.create_tempdir().full_path, 'shards')
    c = _config()
    c.study.shards = shards
    trained = main.train_and_evaluate(c, tmp)
    for s in (0, 1):
      for f in ('scores.json', 'errors.npz', 'validation_errors.npz', 'unlabeled_errors.npz'):
        self.assertTrue(os.path.exists(os.path.join(shards, f'seed_{s}', f)), (s, f))
    self.assertNotIn('checkpoints', os.listdir(os.path.join(shards, 'seed_0')))
    # ... and a workdir that trained nothing reads them: nothing trained or predicted, the same
    # study, the provenance of the workdir that trained the models
    fresh = self.create_tempdir().full_path
    with mock.patch.object(stages, 'training_arrays', side_effect=AssertionError('retrained')), \
        mock.patch.dict(families.FAMILIES, fams):
      got = main.train_and_evaluate(c, fresh)
    self.assertEqual(json.dumps(got['variants'], sort_keys=True),
                     json.dumps(trained['variants'], sort_keys=True))
    self.assertEqual((got['promoted'], got['chosen']), (trained['promoted'], trained['chosen']))
    self.assertFalse(os.path.exists(os.path.join(fresh, 'seed_0')))
    made = json.load(open(os.path.join(fresh, 'study.json')))['provenance']['made_by']
    for entry in json.load(open(os.path.join(tmp, 'provenance.json'))):
      self.assertIn(entry, made)
    # A shard made by another config (here: Ours' weight changed) is named, not used.
    c.runs.ours.weights.mvc = 0.5
    with self.assertRaisesRegex(ValueError, r'seed_0/scores.json: made by another config'):
      main.train_and_evaluate(c, fresh)

  def test_promote_picks_each_groups_best_on_validation_with_its_partner(self):
    c = _config()
    c.study.groups = (('Baselines', ('base_gt', 'l1_only', 'ours')),
                      ('Incomplete', ('l1_hold60', 'ours_hold60')),
                      ('Source', ('l1_gt',)),
                      ('Routing', ('ours_depth', 'ours_hold60')))
    val = dict(base_gt=[1., 1.], l1_only=[2., 2.], ours=[3., 3.], l1_hold60=[50., 70.],
               ours_hold60=[65., 60.], l1_gt=[1., 1.], ours_depth=[62., 62.])
    names = list(val)
    # per seed the two hold rows swap places; their means over seeds decide
    got = study.promote(c, _scored(val, {0: names, 1: names}))
    # Incomplete: l1_hold60 (60.0) beats ours_hold60 (62.5) and brings its partner; Source: l1_gt
    # trains on the validation labels; Routing: ours_depth (62.0) beats ours_hold60 (62.5);
    # Baselines already run at every seed. The test split plays no part.
    self.assertEqual(got, ['l1_hold60', 'ours_hold60', 'ours_depth'])
    val['ours_depth'] = [63., 63.]
    self.assertEqual(study.promote(c, _scored(val, {0: names, 1: names})),
                     ['l1_hold60', 'ours_hold60'])
    self.assertEqual(study.seed_runs(c, 1, ['ours_depth'])[-1:], ['ours_depth'])
    self.assertNotIn('ours_depth', study.seed_runs(c, 1))

  def test_a_reference_row_chosen_in_its_group_promotes_nothing(self):
    c = _config()
    # 'ours' runs at every seed and is the reference of both weights (as the paper's form is in
    # configs/lifting.py:b_grid): chosen, it must not bring its group to every seed
    c.study.all_seeds = ('base_gt', 'l1_only', 'ours')
    c.study.groups = (('Weights', ('ours', 'ours_depth', 'l1_hold60')),)
    c.study.pairs = (('ours_depth', 'ours'), ('l1_hold60', 'ours'))
    val = dict(ours=[50.0], ours_depth=[52.0], l1_hold60=[53.0])
    per_seed = _scored(val, {0: list(val)})
    self.assertEqual(study.group_choices(c, per_seed), {'Weights': 'ours'})
    self.assertEqual(study.promote(c, per_seed), [])
    val['ours_depth'] = [49.0]
    per_seed = _scored(val, {0: list(val)})
    self.assertEqual(study.group_choices(c, per_seed), {'Weights': 'ours_depth'})
    self.assertEqual(study.promote(c, per_seed), ['ours_depth'])     # 'ours' already everywhere

  def test_the_choice_compares_candidates_on_the_seeds_they_all_ran(self):
    c = _config()
    c.study.candidates = ('ours', 'ours_depth', 'l1_gt')
    # seed 0 (the sweep seed): ours_depth 60.0 beats ours 61.0; ours also ran seeds 1 and 2, where
    # every model is better, so its mean over its own seeds (58.0) would win unfairly
    val = dict(ours=[61.0, 57.0, 56.0], ours_depth=[60.0], l1_gt=[50.0])
    per_seed = _scored(val, {0: ['ours', 'ours_depth', 'l1_gt'], 1: ['ours'], 2: ['ours']})
    self.assertEqual(study.choose(c, per_seed), ('ours_depth', [0]))   # l1_gt: trained on it
    val['ours_depth'] = [62.0, 58.5, 57.5]                   # promoted: all three seeds compared
    per_seed = _scored(val, {0: ['ours', 'ours_depth'], 1: ['ours', 'ours_depth'],
                             2: ['ours', 'ours_depth']})
    self.assertEqual(study.choose(c, per_seed), ('ours', [0, 1, 2]))
    c.study.candidates = ('l1_gt',)
    self.assertEqual(study.choose(c, per_seed), (None, []))

  def test_bad_study_blocks_are_named(self):
    cases = [(dict(seeds=()), 'config.seeds: the study needs seeds'),
             (dict(stage='ours'), 'config.stage: the study runs its whole table'),
             (dict(study=dict(candidates=('ours', 'nope'))),
              'config.study.candidates names runs that config.runs lacks: nope'),
             (dict(study=dict(reference='base')), "config.study.reference 'base' must be a column"),
             (dict(study=dict(sweep_seeds=0)), 'config.study.sweep_seeds must be >= 1')]
    for change, message in cases:
      c = _config()
      for k, val in change.items():
        if isinstance(val, dict):
          c[k].update(val)
        else:
          c[k] = val
      with self.assertRaisesRegex(ValueError, message):
        study.check(c)
    main.validate(_config())
