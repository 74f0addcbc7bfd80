"""The real Pose2Sim recording's own reader: cameras, detections, named errors."""

import json
import os

import chex
import numpy as np

from mvssl.data import pose2sim as p2s
from tests.conftest import shared_path


class Pose2SimReaderTest(chex.TestCase):

  def setUp(self):
    super().setUp()
    self.root = shared_path('pose2sim_balancing')

  def test_reads_four_cameras_and_detections(self):
    names, cams, sizes = p2s.load_cameras(os.path.join(self.root, 'calibration.json'))
    self.assertEqual(names, ['cam01', 'cam02', 'cam03', 'cam04'])
    self.assertEqual(cams.R.shape, (4, 3, 3))
    np.testing.assert_allclose(np.linalg.det(cams.R), 1.0, atol=1e-6)
    self.assertEqual(sizes.shape, (4, 2))
    det = p2s.load_detections(os.path.join(self.root, 'keypoints.npz'))
    self.assertEqual(det.shape[0], 4)
    self.assertEqual(det.shape[2:], (17, 3))
    self.assertTrue(np.all(np.isfinite(det)))

  def test_missing_field_names_file_and_field(self):
    tmp = self.create_tempdir()
    data = json.load(open(os.path.join(self.root, 'calibration.json')))
    del data['cameras']['cam02']['R_w2c']
    path = os.path.join(tmp.full_path, 'calibration.json')
    json.dump(data, open(path, 'w'))
    with self.assertRaisesRegex(KeyError, r"calibration.json: camera 'cam02' lacks field 'R_w2c'"):
      p2s.load_cameras(path)
