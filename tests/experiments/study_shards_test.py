"""A study's shards (config.study.shards): the fingerprint names what trained a seed and nothing
else; a shard is written whole (the per-frame MPJPE its intervals read, no more), read back as
it was, and one made by another config is named.
The end-to-end round trip (a workdir that trains nothing reads the same study) is in
study_test."""

import json
import os

import chex
import numpy as np

from configs import smoke
from mvssl import provenance
from mvssl.experiments import study


def _config():
  c = smoke.get_config()
  c.experiment, c.seeds = 'study', (0, 1)
  return c


def _scored(wd: str) -> dict:
  """What study._seed returns for a seed trained in ``wd`` (the errors files written there)."""
  os.makedirs(wd, exist_ok=True)
  for name in ('errors.npz', 'validation_errors.npz', 'unlabeled_errors.npz'):
    np.savez(os.path.join(wd, name), **{'l1_only/mpjpe': np.full((3, 2), 50.0),
                                        'l1_only/pa_mpjpe': np.full((3, 2), 40.0),
                                        'block': np.array(['a', 'a', 'b'])})
  split = dict(num_test_frames=3, models={'L1-only': dict(mean=dict(mpjpe=50.0))},
               runs={'L1-only': dict(name='l1_only', report='column')})
  return dict(test=split, validation=split, diagnosis=split, workdir=wd,
              minutes=dict(base=2.5, l1_only=1.25))


class FingerprintTest(chex.TestCase):

  def test_it_changes_with_what_trains_the_seed_and_nothing_else(self):
    c, keep = _config(), ['base', 'l1_only']
    key = study.fingerprint(c, 0, keep)
    self.assertEqual(key, study.fingerprint(_config(), 0, keep))
    moved = _config()                           # the same data under another root
    moved.data.data_dir = '/elsewhere/' + os.path.basename(c.data.data_dir or 'data')
    c.data.data_dir = '/here/' + os.path.basename(c.data.data_dir or 'data')
    self.assertEqual(study.fingerprint(c, 0, keep), study.fingerprint(moved, 0, keep))
    key = study.fingerprint(c, 0, keep)
    moved.study.shards = 'somewhere/else'       # where the shards lie trains nothing
    moved.runs.ours.weights.mvc = 0.5           # a row this seed does not train
    self.assertEqual(study.fingerprint(moved, 0, keep), key)
    self.assertNotEqual(study.fingerprint(c, 1, keep), key)
    self.assertNotEqual(study.fingerprint(c, 0, keep + ['ours']), key)
    moved.runs.l1_only.weights.l1 = 2.0         # a row it does train
    self.assertNotEqual(study.fingerprint(moved, 0, keep), key)


class ShardTest(chex.TestCase):

  def test_a_seed_written_is_read_back_with_its_provenance_and_no_temporary_files(self):
    root = self.create_tempdir().full_path
    c = _config()
    c.study.shards = os.path.join(root, 'shards')
    trained, fresh = os.path.join(root, 'trained'), os.path.join(root, 'fresh')
    out = _scored(os.path.join(trained, 'seed_1'))
    provenance.record(trained)
    keep = ['base', 'l1_only']
    self.assertIsNone(study._shard(c, fresh, 1, keep))          # nothing there yet
    study._write_shard(c, trained, 1, keep, out)
    dest = os.path.join(c.study.shards, 'seed_1')
    self.assertEqual(sorted(os.listdir(dest)), ['errors.npz', 'scores.json',
                                                'unlabeled_errors.npz', 'validation_errors.npz'])
    os.makedirs(fresh)
    got = study._shard(c, fresh, 1, keep)
    self.assertEqual(got['workdir'], dest)
    self.assertEqual(got['minutes'], out['minutes'])
    for role in ('test', 'validation', 'diagnosis'):
      self.assertEqual(got[role], out[role])
    errors = study._errors({1: got}, 'validation')[1]    # what the intervals read, no more
    self.assertEqual(sorted(errors), ['block', 'l1_only/mpjpe'])
    np.testing.assert_array_equal(errors['l1_only/mpjpe'], np.full((3, 2), 50.0))
    np.testing.assert_array_equal(errors['block'], ['a', 'a', 'b'])
    self.assertEqual(provenance.history_of(fresh), provenance.history_of(trained))
    self.assertIsNone(study._shard(c, fresh, 0, keep))          # another seed: not there

  def test_a_shard_of_another_config_is_named_with_its_rows(self):
    root = self.create_tempdir().full_path
    c = _config()
    c.study.shards = os.path.join(root, 'shards')
    study._write_shard(c, root, 0, ['base', 'l1_only'], _scored(os.path.join(root, 'seed_0')))
    with self.assertRaisesRegex(ValueError, r'shards/seed_0/scores.json: made by another config '
                                r'or other rows \(it has base, l1_only; this study trains base, '
                                r'l1_only, ours at seed 0\)'):
      study._shard(c, root, 0, ['base', 'l1_only', 'ours'])
    with open(os.path.join(c.study.shards, 'seed_0', 'scores.json')) as f:
      self.assertEqual(json.load(f)['runs'], ['base', 'l1_only'])   # left as it was
