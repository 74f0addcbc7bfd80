"""Camera projection against the real Human3.6M labels and OpenCV; normalisation round trips."""

import json

import chex
import cv2
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized

from mvssl.data import h36m
from mvssl.geometry import camera as camlib
from tests.conftest import shared_path


def _fixture_labels():
  root = shared_path('mmpose_fixtures', 'h36m')
  coco = json.load(open(f'{root}/h36m_coco.json'))
  images = {im['id']: im['file_name'] for im in coco['images']}
  out = []
  for ann in coco['annotations']:
    name = images[ann['image_id']]                       # S1_Directions_1.54138969_000001.jpg
    subject = name.split('_')[0]
    cam_id = name.split('.')[1].split('_')[0]
    world = np.asarray(ann['keypoints_3d'], np.float64).reshape(17, 4)[:, :3] * 1000.0
    uv = np.asarray(ann['keypoints'], np.float64).reshape(17, 3)[:, :2]
    out.append((subject, cam_id, world, uv))
  return out


class CameraTest(chex.TestCase):

  def test_real_h36m_labels_project_onto_2d_labels(self):
    cams = h36m.load_cameras(shared_path('h36m_motion', 'h36m_cameras.json'))
    labels = _fixture_labels()
    self.assertLen(labels, 4)
    with jax.enable_x64(True):
      for subject, cam_id, world, uv in labels:
        cam = dict(cams[subject])[cam_id]
        err = np.abs(np.asarray(camlib.project(cam, jnp.asarray(world))) - uv).max()
        self.assertLess(err, 0.01, f'{subject}/{cam_id}: {err} px')

  def test_opencv_model_matches_cv2_project_points(self):
    rng = np.random.default_rng(0)
    K = np.array([[1500.0, 0, 540], [0, 1490, 960], [0, 0, 1]])
    rvec = np.array([0.1, -0.2, 0.05])
    R = cv2.Rodrigues(rvec)[0]
    t = np.array([100.0, -50, 3000])
    k1, k2, p1, p2, k3 = 0.05, -0.02, 0.003, -0.002, 0.001
    pts = rng.normal(size=(50, 3)) * 400
    ref = cv2.projectPoints(pts, rvec, t, K, np.array([k1, k2, p1, p2, k3]))[0][:, 0]
    with jax.enable_x64(True):
      cam = camlib.Camera.create(K, R, t, [k1, k2, k3, p1, p2], 'opencv', dtype=np.float64)
      ours = np.asarray(camlib.project(cam, jnp.asarray(pts)))
    np.testing.assert_allclose(ours, ref, atol=1e-6)

  @parameterized.parameters('h36m', 'opencv')
  def test_unproject_inverts_project(self, model):
    cams = h36m.load_cameras(shared_path('h36m_motion', 'h36m_cameras.json'))
    cam = cams['S9'][2][1].replace(dist_model=model)
    pose = h36m.load_motion(shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz'),
                            subjects=('S9',))['S9/walking_1'][5]
    with jax.enable_x64(True):
      pose = jnp.asarray(pose, jnp.float64)
      uv = camlib.project(cam, pose)
      depth = camlib.world_to_camera(cam, pose)[:, 2]
      back = camlib.unproject(cam, uv, depth)
    np.testing.assert_allclose(np.asarray(back), np.asarray(pose), atol=1e-6)

  def test_crop_and_resize_equals_pixel_mapping(self):
    cams = h36m.load_cameras(shared_path('h36m_motion', 'h36m_cameras.json'))
    cam = cams['S1'][0][1]
    pts = jnp.asarray(np.random.default_rng(1).normal(size=(20, 3)) * 300 + [0, 0, 900])
    box = jnp.array([300.0, 250.0, 420.0, 420.0])
    cropped = camlib.crop_and_resize(cam, box, (96, 96))
    uv = camlib.project(cam, pts)
    expected = (uv - box[:2]) * 96 / 420.0
    np.testing.assert_allclose(camlib.project(cropped, pts), expected, rtol=1e-5, atol=1e-3)


class NormalizeTest(chex.TestCase):

  def test_create_validates_at_the_boundary(self):
    K, R, t = np.diag([1000.0, 1000.0, 1.0]), np.eye(3), np.array([0.0, 0.0, 3000.0])
    cam = camlib.Camera.create(K, R, t, dtype=np.float64, name='calib.json: camera c1')
    self.assertEqual(cam.dist.shape, (5,))
    bad_t = t.copy()
    bad_t[1] = np.nan
    with self.assertRaisesRegex(ValueError, r'^calib.json: camera c1: field t is not finite$'):
      camlib.Camera.create(K, R, bad_t, name='calib.json: camera c1')
    with self.assertRaisesRegex(ValueError, r'calib.json: camera c1: field R is not a rotation'):
      camlib.Camera.create(K, 1.01 * R, t, name='calib.json: camera c1')      # scaled
    with self.assertRaisesRegex(ValueError, r'field R is not a rotation .*det -1'):
      camlib.Camera.create(K, np.diag([1.0, 1.0, -1.0]), t, name='c')         # a reflection
    with self.assertRaisesRegex(ValueError, r"c: field K must end in shape \(3, 3\)"):
      camlib.Camera.create(np.eye(2), R, t, name='c')
    with self.assertRaisesRegex(ValueError, r'c: dist_model must be "h36m" or "opencv"'):
      camlib.Camera.create(K, R, t, dist_model='fisheye', name='c')
