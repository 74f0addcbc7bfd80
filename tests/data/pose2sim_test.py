"""The real Pose2Sim recording: cameras, detections, DLT P-GT and crops."""

import os

import chex
import jax
import jax.numpy as jnp
import numpy as np

from mvssl.data import pose2sim as p2s
from mvssl.train import pose2sim as run_p2s
from tests.conftest import shared_path


class Pose2SimTest(chex.TestCase):

  def setUp(self):
    super().setUp()
    self.root = shared_path('pose2sim_balancing')
    self.names, self.cams, self.sizes = p2s.load_cameras(os.path.join(self.root,
                                                                      'calibration.json'))
    self.det = p2s.load_detections(os.path.join(self.root, 'keypoints.npz'))

  def test_dlt_pgt_matches_reference_triangulation(self):
    self.assertEqual(self.names, ['cam01', 'cam02', 'cam03', 'cam04'])
    cams = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), self.cams)
    poses, valid, err = run_p2s.pseudo_gt(cams, self.det, 0.3)
    ref = np.load(os.path.join(self.root, 'keypoints.npz'))['h36m17_3d_dlt_m'] * 1000.0
    ok = valid & np.all(np.isfinite(ref), -1)
    self.assertGreater(ok.mean(), 0.9)
    # Same detections; the reference weights and undistorts slightly differently (0.96 mm median
    # difference measured).
    self.assertLess(np.median(np.linalg.norm(poses[ok] - ref[ok], axis=-1)), 5.0)
    # The README of the data states reprojection errors of 7-30 px.
    self.assertLess(np.nanmean(err), 30.0)
    self.assertGreater(np.nanmean(err), 1.0)

  def test_missing_field_names_file_and_field(self):
    import json
    tmp = self.create_tempdir()
    data = json.load(open(os.path.join(self.root, 'calibration.json')))
    del data['cameras']['cam02']['R_w2c']
    path = os.path.join(tmp.full_path, 'calibration.json')
    json.dump(data, open(path, 'w'))
    with self.assertRaisesRegex(KeyError, r"calibration.json: camera 'cam02' lacks field 'R_w2c'"):
      p2s.load_cameras(path)
