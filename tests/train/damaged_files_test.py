"""Damaged files in a workdir: a truncated P-GT file is one line naming it and the remedy (it is
not silently remade: it may be the only copy of a long G run); a damaged labels cache is only a
cache, read from the dataset again with a warning, and so is a damaged prediction cache; an interrupted dataset build's folders are
removed before the next build."""

import os
import types
from unittest import mock

import chex
import numpy as np

from mvssl.data import arrays
from mvssl.data import builder
from mvssl.data import reader
from mvssl.train import evaluate
from mvssl.train import families
from mvssl.train import stages


def _write_truncated(path: str, **arrays) -> None:
  np.savez(path, **arrays)
  size = os.path.getsize(path)
  with open(path, 'r+b') as f:
    f.truncate(size // 2)


class DamagedFilesTest(chex.TestCase):

  def test_a_truncated_pgt_file_is_named_with_the_remedy(self):
    tmp = self.create_tempdir().full_path
    path = os.path.join(tmp, 'pgt.npz')
    _write_truncated(path, key=np.array(['a']), source=np.array('model'),
                     pose_world=np.zeros((1, 17, 3)), valid=np.ones((1, 17), bool))
    with self.assertRaisesRegex(ValueError, r'pgt.npz: damaged P-GT file \(.+\); move it away '
                                r'and run --config.stage=pseudo_label \(or all\)') as e:
      stages.read_pgt(path)
    self.assertNotIn('\n', str(e.exception))
    np.savez(path, key=np.array(['a']), source=np.array('model'))
    with self.assertRaisesRegex(ValueError, r'pgt.npz: P-GT file lacks pose_world, valid'):
      stages.read_pgt(path)
    np.savez(path, key=np.array(['a']), source=np.array('model'),
             pose_world=np.ones((1, 17, 3)), valid=np.ones((1, 17), bool))
    np.testing.assert_array_equal(stages.read_pgt(path)['pose_world'], np.ones((1, 17, 3)))

  def test_every_way_a_truncated_npz_fails_is_one_damaged_file_error(self):
    tmp = self.create_tempdir().full_path
    path = os.path.join(tmp, 'pred.npz')
    _write_truncated(path, pred=np.zeros((4, 17, 3)))          # np.load: zipfile.BadZipFile
    with self.assertRaisesRegex(arrays.DamagedFile, r'pred.npz: damaged file \(BadZipFile: '):
      arrays.load_npz(path)
    with open(path, 'wb') as f:                                  # not an npz at all
      f.write(b'not an array file')
    with self.assertRaises(arrays.DamagedFile):
      arrays.load_npz(path)
    arrays.save_npz_atomic(path, pred=np.ones(3))
    np.testing.assert_array_equal(arrays.load_npz(path)['pred'], np.ones(3))
    self.assertEqual(os.listdir(tmp), ['pred.npz'])             # no temporary left behind
    with self.assertRaises(FileNotFoundError):                    # missing is not damaged
      arrays.load_npz(os.path.join(tmp, 'absent.npz'))

  def test_a_truncated_prediction_cache_is_predicted_again(self):
    workdir = self.create_tempdir().full_path
    os.makedirs(os.path.join(workdir, 'checkpoints', 'ours', '10'))
    run = types.SimpleNamespace(name='ours', family='fake')
    ctx = types.SimpleNamespace(
        workdir=workdir, runs={'ours': run}, schedule=lambda r: types.SimpleNamespace(steps=10),
        finished=lambda name: True, restore=lambda name: None, codec=lambda r: None)
    fresh = np.full((3, 17, 3), 7.0)
    family = types.SimpleNamespace(predict=lambda state, d, codec: fresh)
    path = os.path.join(workdir, 'predictions', 'test', 'ours.npz')
    os.makedirs(os.path.dirname(path))
    _write_truncated(path, pred=np.zeros((3, 17, 3)), checkpoint=np.array('10@0'))
    with mock.patch.dict(families.FAMILIES, {'fake': family}), \
        self.assertLogs('mvssl', 'WARNING') as logs:
      out = evaluate.predictions(ctx, run, 'test', {'frame': np.arange(3)})
    np.testing.assert_array_equal(out, fresh)
    self.assertIn('predicting again', logs.output[0])
    np.testing.assert_array_equal(arrays.load_npz(path)['pred'], fresh)   # and stored again

  def test_a_damaged_labels_cache_is_read_again_with_a_warning(self):
    tmp = self.create_tempdir().full_path
    path = os.path.join(tmp, 'labels_test.npz')
    self.assertIsNone(reader._read_cache(path))                        # absent
    cols = {k: np.zeros(3) for k in reader.LABEL_FIELDS + ('index',)}
    np.savez(path, **cols)
    self.assertEqual(set(reader._read_cache(path)), set(cols))          # intact
    _write_truncated(path, **cols)
    with self.assertLogs(level='WARNING') as logs:
      self.assertIsNone(reader._read_cache(path))
    self.assertIn('labels_test.npz: damaged labels cache', logs.output[0])
    np.savez(path, **{k: v for k, v in cols.items() if k != 'pose_3d'})
    with self.assertLogs(level='WARNING') as logs:
      self.assertIsNone(reader._read_cache(path))
    self.assertIn('labels cache lacks pose_3d', logs.output[0])


class _FakeBuilder:
  """What builder.prepare uses of a TFDS builder."""

  def __init__(self, data_dir):
    self.data_dir, self.built = data_dir, False
    self.info = type('Info', (), dict(full_name='fake/cfg/1.0.0'))()

  def is_prepared(self):
    return self.built

  def download_and_prepare(self):
    os.makedirs(self.data_dir)
    self.built = True


class InterruptedBuildTest(chex.TestCase):

  def test_folders_of_an_interrupted_build_are_removed_before_building_again(self):
    tmp = self.create_tempdir().full_path
    cfg = os.path.join(tmp, 'multiview_pose', 'cfg')
    left = os.path.join(cfg, 'incomplete.1a2b')
    os.makedirs(os.path.join(left, '1.0.0'))
    other = os.path.join(tmp, 'multiview_pose', 'other_cfg', 'incomplete.9z')   # another dataset
    os.makedirs(other)
    b = builder.prepare(lambda: _FakeBuilder(os.path.join(cfg, '1.0.0')))
    self.assertTrue(b.built)
    self.assertFalse(os.path.exists(left))
    self.assertTrue(os.path.exists(other))
    self.assertEqual(sorted(os.listdir(cfg)), ['1.0.0'])
