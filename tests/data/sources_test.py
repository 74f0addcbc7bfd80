"""One data-source interface: the rendered set and a real adapter open into the same object and
give splits with the same keys; an experiment's unlabeled set must share the lens model."""

import os

import chex
import numpy as np

from configs import default
from configs import smoke
from mvssl.data import sources
from mvssl.geometry import camera as camlib
from tests.fixtures import fakes

SPLIT_KEYS = {'images', 'cams', 'view_valid', 'pose_3d', 'has_pose_3d', 'box', 'subject',
              'sequence', 'frame'}


class SourcesTest(chex.TestCase):

  def test_rendered_and_real_open_into_the_same_interface(self):
    tmp = self.create_tempdir().full_path
    h36m = default.human36m_data()
    h36m.update(manual_dir=os.path.join(tmp, 'h36m'), num_workers=2)
    h36m.subjects.update(labeled=['S1'], unlabeled=['S7'], test=['S9'])
    fakes.write_h36m_lt(h36m.manual_dir)
    for cfg, cams in ((smoke.get_config().data, ['cam0', 'cam1', 'cam2', 'cam3']),
                      (h36m, ['54138969', '55011271', '58860488', '60457274'])):
      src = sources.open_source(cfg, os.path.join(tmp, 'data'), image_size=32)
      self.assertIsInstance(src, sources.Source)
      self.assertEqual(src.camera_names, cams)
      self.assertEqual(src.dist_model, 'h36m')
      self.assertTrue(src.name.startswith(('procedural_', 'human36m_')))
      d = src.split('labeled')
      self.assertGreaterEqual(set(d), SPLIT_KEYS, cfg.dataset)
      self.assertIsInstance(d['cams'], camlib.Camera)
      n = len(d['frame'])
      self.assertEqual(d['images'].shape, (n, 4, 32, 32, 3))
      self.assertEqual(d['cams'].K.shape, (n, 4, 3, 3))
      self.assertIs(src.split('labeled'), d)                          # read once
    with self.assertRaisesRegex(ValueError, r"config.data.dataset must be one of .* 'coco'"):
      sources.open_source(_kind('coco'), tmp, image_size=32)

  def test_unlabeled_dataset_must_share_the_lens_model(self):
    tmp = self.create_tempdir().full_path
    root = os.path.join(tmp, 'rec')
    os.makedirs(root)
    _, _, rec = fakes.write_recording(root, calib='json')
    labeled = smoke.get_config().data                                # Human3.6M lens model
    for undistort in (True, False):
      data = sources.ExperimentData(labeled, default.recording_data(**rec, undistort=undistort,
                                                                    num_workers=2),
                                    os.path.join(tmp, 'data'), image_size=32)
      self.assertTrue(data.separate_unlabeled)
      if undistort:                  # pinhole crops: any lens model, adopted as the labeled one
        d = data.split('unlabeled')
        self.assertEqual(d['cams'].dist_model, 'h36m')
        self.assertEqual(float(np.abs(d['cams'].dist).max()), 0.0)
      else:
        with self.assertRaisesRegex(ValueError, r"split 'unlabeled' .* uses the 'opencv' lens "
                                                r"model but the labeled data uses 'h36m'"):
          data.split('unlabeled')
    with self.assertRaisesRegex(ValueError, "unknown split 'train'"):
      data.split('train')


def _kind(kind):
  cfg = default.rendered_data()
  cfg.dataset = kind
  return cfg
