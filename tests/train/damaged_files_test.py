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
        finished=lambda name: True, restore=lambda name: None, codec=lambda r: None,
        split_settings=lambda name: '')
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


class DamagedDatasetTest(chex.TestCase):
  """A damaged array_record shard or a JPEG inside one is one line naming the dataset folder,
  split, record (and view) and the remedy, whether it is met reading the labels or drawing a
  row's images."""

  def setUp(self):
    super().setUp()
    from configs import default
    from mvssl.data import recording
    from tests.fixtures import fakes
    tmp = self.create_tempdir().full_path
    os.makedirs(os.path.join(tmp, 'rec'))
    _, _, cfg = fakes.write_recording(os.path.join(tmp, 'rec'), calib='json')
    self.b = builder.build(recording.adapter(default.recording_data(**cfg)),
                           os.path.join(tmp, 'data'), image_size=32, box_scale=1.3,
                           undistort=True, num_workers=1)
    (self.shard,) = [os.path.join(self.b.data_dir, f) for f in os.listdir(self.b.data_dir)
                     if '.array_record' in f]
    with open(self.shard, 'rb') as f:
      self.intact = f.read()

  def _damage(self, data: bytes):
    with open(self.shard, 'wb') as f:
      f.write(data)

  def test_a_bit_flip_or_truncation_names_the_split_record_and_remedy(self):
    flipped = bytearray(self.intact)
    flipped[200] ^= 0x5A                                   # inside the first chunk
    remedy = rf'; delete {self.b.data_dir} and run the same command again to rebuild it\)$'
    for data, why in ((bytes(flipped), 'RuntimeError: Corrupted Riegeli'),
                      (self.intact[:len(self.intact) // 2], 'the record reads empty: a truncated shard')):
      self._damage(data)
      with self.assertRaisesRegex(arrays.DamagedFile, rf"split 'unlabeled' record 0: damaged "
                                  rf"file \({why}.*{remedy}") as e:
        reader.load_split(self.b, 'unlabeled', num_threads=1)  # no labels cache yet
      self.assertNotIn('\n', str(e.exception))
    self._damage(self.intact)                   # the labels are cached, then the shard damaged:
    d = reader.load_split(self.b, 'unlabeled', num_threads=1)
    self.assertEqual(d['images'][0].shape, (3, 32, 32, 3))
    self._damage(bytes(flipped))
    with self.assertRaisesRegex(arrays.DamagedFile, rf"split 'unlabeled' record 0: .*{remedy}"):
      d['images'][np.arange(2)]

  def test_a_jpeg_that_does_not_decode_names_its_record_and_view(self):
    d = reader.load_split(self.b, 'unlabeled', num_threads=1)
    images = d['images']
    real = images.source

    class BadSecondView:
      def __getitem__(self, k):
        rec = dict(real[k])
        rec['images'] = [rec['images'][0], b'\xff\xd8 not a jpeg', rec['images'][2]]
        return rec

    images.source = BadSecondView()
    k = int(images.order[1])
    with self.assertRaisesRegex(arrays.DamagedFile, rf"split 'unlabeled' record {k} view 1: "
                                r'damaged file \(corrupt JPEG \(does not decode\); delete '):
      images[1]
