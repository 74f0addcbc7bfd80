"""Use a trained model (python -m mvssl.predict): one real Human3.6M frame with its official
camera, and the real Pose2Sim recording; the single-image path sees exactly the crop the
recording's build makes; bad input is one line naming the file."""

import contextlib
import io
import json
import os
import shutil
import tempfile

from absl.testing import absltest
import cv2
import numpy as np
import pytest

from configs import smoke
from mvssl import main as main_lib
from mvssl import predict
from mvssl.data import detections
from tests.conftest import shared_path

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)

H36M_IMAGE = ('mmpose_fixtures', 'h36m', 'S1', 'S1_Directions_1.54138969',
              'S1_Directions_1.54138969_000001.jpg')


def setUpModule():
  global WORKDIR
  WORKDIR = tempfile.mkdtemp()
  config = smoke.get_config()
  main_lib.train_and_evaluate(config, WORKDIR)        # a trained workdir: Ours and G


def tearDownModule():
  shutil.rmtree(WORKDIR, ignore_errors=True)


def _run(*argv) -> tuple[int, str]:
  err = io.StringIO()
  with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
    code = predict.main(list(argv))
  return code, err.getvalue()


class PredictImageTest(absltest.TestCase):

  def setUp(self):
    super().setUp()
    self.image = shared_path(*H36M_IMAGE)
    cams = json.load(open(shared_path('h36m_motion', 'h36m_cameras.json')))['cameras']
    c = cams['S1/54138969']
    self.K = np.array([[c['f'][0], 0, c['c'][0]], [0, c['f'][1], c['c'][1]], [0, 0, 1]])
    self.R, self.t = np.array(c['R_w2c']), np.array(c['t_w2c_m']) * 1000.0
    self.tmp = self.create_tempdir().full_path
    self.calib = os.path.join(self.tmp, 'calib.json')
    self._calibration(size=(c['w'], c['h']))
    coco = json.load(open(shared_path('mmpose_fixtures', 'h36m', 'h36m_coco.json')))
    (ann,) = [a for im, a in zip(coco['images'], coco['annotations'])
              if im['file_name'] == os.path.basename(self.image)]
    self.world_gt = np.reshape(ann['keypoints_3d'], (17, 4))[:, :3] * 1000.0
    uv = np.reshape(ann['keypoints'], (17, 3))[:, :2]
    self.box = [*uv.min(0), *(uv.max(0) - uv.min(0))]              # tight box of the 2D labels

  def _calibration(self, size):
    # The official camera; the lens distortion is left out (H36M's is not OpenCV's model).
    json.dump({'units': 'mm', 'cameras': {'54138969': dict(
        K=self.K.tolist(), dist=[0, 0, 0, 0, 0], R=self.R.tolist(), t=self.t.tolist(),
        size_wh=list(size))}}, open(self.calib, 'w'))

  def test_one_image_gives_camera_and_world_joints_json_and_pictures(self):
    ctx = predict.load_workdir(WORKDIR)
    root_depth = float((self.R @ self.world_gt[0] + self.t)[2])      # the true root depth
    r = predict.predict_image(ctx, self.image, self.calib, self.box, root_depth=root_depth)
    cam, world = np.array(r['camera_mm']), np.array(r['world_mm'])
    self.assertEqual(cam.shape, (17, 3))
    np.testing.assert_allclose(cam, world @ self.R.T + self.t, atol=0.05)   # X_c = R X_w + t
    uv = cam @ self.K.T
    np.testing.assert_allclose(np.array(r['uv_px']), uv[:, :2] / uv[:, 2:], atol=0.05)
    self.assertEqual(r['root_depth_source'], 'given')
    # Without a depth: RootNet's prior from the square crop box (1.3 x the box's longer side).
    prior = predict.predict_image(ctx, self.image, self.calib, self.box)
    side = 1.3 * max(self.box[2], self.box[3])
    self.assertAlmostEqual(prior['root_depth_mm'],
                           np.sqrt(self.K[0, 0] * self.K[1, 1] * 4e6) / side, places=3)
    # The depth moves the pose along the rays: the same pixels, every joint's depth shifted by the
    # difference (the model's depths are relative to the root's, eq. 8).
    np.testing.assert_allclose(prior['uv_px'], r['uv_px'], atol=1e-2)
    np.testing.assert_allclose(np.array(prior['camera_mm'])[:, 2] - cam[:, 2],
                               prior['root_depth_mm'] - root_depth, atol=0.05)
    files = predict.write_image_outputs(r, os.path.join(self.tmp, 'out'))
    self.assertEqual(json.load(open(files[0]))['joint_names'][0], 'Pelvis')
    self.assertEqual(cv2.imread(files[1]).shape, (1002, 1000, 3))
    self.assertIsNotNone(cv2.imread(files[2]))

  def test_batched_images_equal_one_at_a_time(self):
    ctx = predict.load_workdir(WORKDIR)
    x0, y0, w, h = self.box
    boxes = [self.box, [x0 + 20, y0 - 10, w, h], [x0 - 15, y0 + 5, w * 1.1, h * 1.1]]
    batched = predict.predict_images(ctx, [self.image] * 3, self.calib, boxes, batch=2)
    self.assertEqual(len(batched), 3)                # 2 + 1 padded: one compiled batch shape
    for box, r in zip(boxes, batched):
      one = predict.predict_image(ctx, self.image, self.calib, box)
      np.testing.assert_allclose(r['world_mm'], one['world_mm'], atol=1e-4)   # mm
      self.assertEqual(r['crop_box'], one['crop_box'])
    self.assertGreater(np.abs(np.subtract(batched[0]['world_mm'], batched[1]['world_mm'])).max(),
                       1.0)                          # the boxes do change the prediction
    out = os.path.join(self.tmp, 'many')
    dets = os.path.join(self.tmp, 'dets')
    os.makedirs(dets)
    uv = np.asarray(batched[0]['uv_px'])
    kp = np.zeros((18, 3))
    for j, src in enumerate(detections.COCO18_TO_H36M17):
      if len(src) == 1:
        kp[src[0]] = [*uv[j], 0.9]
    stem = os.path.splitext(os.path.basename(self.image))[0]
    json.dump(dict(people=[dict(pose_keypoints_2d=kp.ravel().tolist())]),
              open(os.path.join(dets, f'{stem}.json'), 'w'))
    code, err = _run('--workdir', WORKDIR, '--out', out, '--calibration', self.calib, '--image',
                     self.image, '--detections', f'openpose:{dets}/{{stem}}.json')
    self.assertEqual(code, 0, err)
    self.assertTrue(os.path.exists(os.path.join(out, f'{stem}.json')))

  def test_bad_input_is_one_line_naming_the_file(self):
    args = ['--workdir', WORKDIR, '--out', os.path.join(self.tmp, 'o'), '--calibration',
            self.calib, '--image']
    box = ','.join(str(x) for x in self.box)
    bad = os.path.join(self.tmp, 'bad.jpg')
    open(bad, 'wb').write(b'not an image')
    for argv, want in (
        ([bad, '--box', box], f'{bad}: not a readable image'),
        ([self.image, '--box', '1200,10,50,50'], 'lies outside the 1000x1002 image'),
        ([self.image, '--box', '10,10,0,50'], 'w, h > 0'),
        ([self.image, '--box', box, '--camera', 'cam9'], "no camera 'cam9'"),
        ([self.image, '--box', box, '--run', 'multi'], "--run must name a single-view"),
    ):
      code, err = _run(*args, *argv)
      self.assertEqual(code, 1)
      self.assertIn(want, err)
      self.assertEqual(len(err.strip().splitlines()), 1, err)
    self._calibration(size=(1000, 1000))
    code, err = _run(*args, self.image, '--box', box)
    self.assertIn("image is 1000x1002 px but", err)
    code, err = _run('--workdir', self.tmp, '--out', self.tmp, '--calibration', self.calib,
                     '--image', self.image, '--box', box)
    self.assertIn('not a trained workdir (no config.json)', err)


class PredictRecordingTest(absltest.TestCase):

  def test_the_real_recording_gives_per_frame_json_video_and_the_image_path_agrees(self):
    root = shared_path('pose2sim_balancing')
    out = self.create_tempdir().full_path
    code, err = _run('--workdir', WORKDIR, '--recording', root, '--calibration',
                     'calibration.json', '--out', out)
    self.assertEqual(code, 0, err)
    summary = json.load(open(os.path.join(out, 'summary.json')))
    self.assertEqual((summary['frames'], summary['views']), (10, 40))
    self.assertTrue(np.isfinite(summary['disagreement_mm']))
    video = cv2.VideoCapture(os.path.join(out, 'overlay.mp4'))
    self.assertEqual(int(video.get(cv2.CAP_PROP_FRAME_COUNT)), 10)
    self.assertEqual(int(video.get(cv2.CAP_PROP_FRAME_WIDTH)), 4 * 256)
    frame = json.load(open(os.path.join(out, 'frames', '000040.json')))
    self.assertEqual(frame['cameras'], ['cam01', 'cam02', 'cam03', 'cam04'])
    self.assertEqual(np.array(frame['triangulated_world_mm']).shape, (17, 3))
    # One view through the single-image path, with the build's crop box and G's root depth:
    # the same crop, so the same joints.
    ctx = predict.load_workdir(WORKDIR)
    v = 2
    r = predict.predict_image(ctx, os.path.join(root, 'frames', 'cam03_f040.jpg'),
                              os.path.join(root, 'calibration.json'),
                              frame['crop_boxes_px'][v], camera='cam03', box_scale=1.0,
                              root_depth=frame['root_depth_mm'][v])
    np.testing.assert_allclose(r['world_mm'], frame['views_world_mm'][v], atol=0.5)


if __name__ == '__main__':
  absltest.main()
