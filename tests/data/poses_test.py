"""Procedural poses and rigs: bone lengths, joint limits, floor, every joint seen."""

import chex
import jax
import numpy as np

from mvssl.data import poses as poses_lib
from mvssl.geometry import camera as camlib


def _angle(a, b):
  return np.degrees(np.arccos(np.clip(np.sum(a * b, -1) / np.linalg.norm(a, axis=-1) /
                                      np.linalg.norm(b, axis=-1), -1, 1)))


class PosesTest(chex.TestCase):

  def test_procedural_poses_respect_bones_limits_and_floor(self):
    p = poses_lib.procedural_poses(500, np.random.default_rng(0))
    self.assertEqual(p.shape, (500, 17, 3))
    b = poses_lib.BONE_MM
    np.testing.assert_allclose(np.linalg.norm(p[:, 2] - p[:, 1], axis=-1), b['thigh'], rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(p[:, 13] - p[:, 12], axis=-1), b['forearm'],
                               rtol=1e-4)
    knee = 180 - _angle(p[:, 1] - p[:, 2], p[:, 3] - p[:, 2])   # flexion of the right knee
    self.assertLessEqual(knee.max(), 140.5)
    self.assertGreater(knee.max(), 100.0)                        # the range is actually used
    elbow = 180 - _angle(p[:, 11] - p[:, 12], p[:, 13] - p[:, 12])
    self.assertLessEqual(elbow.max(), 145.5)
    np.testing.assert_allclose(p[..., 2].min(axis=1), 0.0, atol=1e-3)   # on the floor

  def test_rig_sees_every_joint(self):
    rng = np.random.default_rng(1)
    cams = camlib.stack(poses_lib.procedural_rig(rng))
    p = poses_lib.procedural_poses(200, rng)
    uv = jax.vmap(lambda q: camlib.project_to_views(cams, q))(p)
    self.assertTrue(bool(np.all((uv > 0) & (uv < 1000))))
