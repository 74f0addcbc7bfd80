"""Detections: skeleton maps to Human3.6M-17, the npz reader, and named errors."""

import json
import os

import chex
import numpy as np

from mvssl.data import detections
from tests.fixtures import fakes


class DetectionsTest(chex.TestCase):

  def test_midpoints_take_the_lower_score(self):
    kp = np.zeros((25, 3))
    kp[:, 2] = 1.0
    kp[8, :2], kp[1, :2], kp[1, 2] = (0.0, 0.0), (10.0, 20.0), 0.4    # mid hip, neck
    out = detections.to_h36m17(kp, detections.BODY25_TO_H36M17)
    self.assertEqual(out.shape, (17, 3))
    np.testing.assert_allclose(out[7], [5.0, 10.0, 0.4])               # spine = midpoint

  def test_read_npz_zeroes_non_finite_and_names_errors(self):
    tmp = self.create_tempdir().full_path
    path = os.path.join(tmp, 'det.npz')
    arr = np.ones((3, 4, 17, 3))
    arr[1, 2, 5, 0] = np.nan
    np.savez(path, kp=arr)
    out = detections.read_npz(path, 'kp', num_views=3)
    np.testing.assert_array_equal(out[1, 2, 5], 0.0)
    self.assertEqual(float(out.sum()), arr.size - 3.0)
    with self.assertRaisesRegex(ValueError, r'det.npz\[kp\]: expected \[V=2, T, 17, 3\]'):
      detections.read_npz(path, 'kp', num_views=2)
    with self.assertRaisesRegex(KeyError, r"det.npz: missing array 'x'"):
      detections.read_npz(path, 'x')
    with self.assertRaisesRegex(FileNotFoundError, r'nope.npz: detections file not found'):
      detections.read_npz(os.path.join(tmp, 'nope.npz'), 'kp')

  def test_bad_openpose_file_is_named(self):
    root = self.create_tempdir().full_path
    _, _, cfg = fakes.write_recording(root, calib='json')
    path = os.path.join(root, 'openpose', 'camB', 'camB_000000000002_keypoints.json')
    j = json.load(open(path))
    j['people'][0]['pose_keypoints_2d'] = j['people'][0]['pose_keypoints_2d'][:60]
    json.dump(j, open(path, 'w'))
    with self.assertRaisesRegex(ValueError, r'camB_000000000002_keypoints.json: '
                                            r'pose_keypoints_2d has 20 joints'):
      detections.load_detections(root, cfg['detections'], list(fakes.REC_CAMS),
                                 list(fakes.REC_FRAMES))
    with self.assertRaisesRegex(ValueError, r"detections 'yolo:x': kind must be"):
      detections.load_detections(root, 'yolo:x', ['camA'], [0])
