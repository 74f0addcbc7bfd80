"""Bring your own recording: every calibration, frame and detection format builds into an
unlabeled dataset whose P-GT is the truth; clear errors for a bad recording folder, masked
views where the detector found nobody."""

import json
import os

import cv2
import numpy as np
from absl.testing import parameterized

from configs import default
from mvssl.data import builder
from mvssl.data import recording
from mvssl.geometry import camera as camlib
from mvssl.train import pgt as pgt_lib
from mvssl.train import stages
from tests.fixtures import fakes

SIZE = 96
EXACT_BODY25 = [j for j in range(17) if j != 7]              # spine is a 2D midpoint there
EXACT_COCO = [j for j in range(17) if j not in (0, 7, 8)]    # pelvis, spine, thorax: midpoints


def _np_cam(cams, i, v):
  return camlib.Camera(K=np.float64(cams.K[i, v]), R=np.float64(cams.R[i, v]),
                       t=np.float64(cams.t[i, v]), dist=np.float64(cams.dist[i, v]),
                       dist_model=cams.dist_model)


class FormatsTest(parameterized.TestCase):

  @parameterized.parameters(('json', 'images', 'openpose'), ('toml', 'video', 'coco'),
                            ('yaml', 'images', 'coco'), ('json', 'video', 'openpose'),
                            ('qca', 'images', 'openpose'))
  def test_build_gives_exact_detections_crops_and_pgt(self, calib, frames, detections):
    tmp = self.create_tempdir().full_path
    root = os.path.join(tmp, 'rec')
    os.makedirs(root)
    cams, poses, cfg = fakes.write_recording(root, calib=calib, frames=frames,
                                             detections=detections)
    data_cfg = default.recording_data(**cfg)
    adapter = recording.adapter(data_cfg)
    self.assertEqual(adapter.camera_names, list(fakes.REC_CAMS))
    for got, want in zip(adapter.cams, cams):
      for f in ('K', 'R', 't', 'dist'):
        np.testing.assert_allclose(getattr(got, f), getattr(want, f), atol=1e-6, err_msg=f)
    b = builder.build(adapter, os.path.join(tmp, 'data'), image_size=SIZE, box_scale=1.3,
                      undistort=True, num_workers=2)
    d = b.load_split('unlabeled')
    self.assertEqual(d['frame'].tolist(), list(fakes.REC_FRAMES))
    self.assertTrue(np.all(d['view_valid']))
    self.assertFalse(np.any(d['has_pose_3d']))
    exact = EXACT_BODY25 if detections == 'openpose' else EXACT_COCO
    images = d['images'][np.arange(len(poses))]
    for i, pose in enumerate(poses):
      for v in range(len(cams)):
        crop = _np_cam(d['cams'], i, v)
        self.assertEqual(float(np.abs(crop.dist).max()), 0.0)        # undistorted crops
        uv = np.asarray(camlib.project(crop, pose))
        kp = d['keypoints_2d'][i, v]
        np.testing.assert_allclose(kp[exact, :2], uv[exact], atol=0.02)
        self.assertGreater(kp[exact, 2].min(), 0.5)
        for j, ch in ((0, 0), (10, 1)):                               # red pelvis, green head
          x, y = np.round(uv[j]).astype(int)
          px = images[i, v, y, x].astype(int)
          self.assertGreater(px[ch], 140, f'frame {i} view {v} joint {j}: {px}')
          self.assertLess(np.delete(px, ch).max(), 120)
    points, weights = stages.detections_views(d, 0.3)
    tri = pgt_lib.triangulate_split(d['cams'], points, weights, pgt_lib.px_scale(d),
                                    default.get_config().pseudo_label.robust)
    pgt, valid = tri['pose_world'], tri['valid']
    self.assertTrue(np.all(valid))
    err = np.linalg.norm(pgt - poses, axis=-1)[:, exact]
    self.assertLess(float(err.max()), 0.5)                             # mm

  def test_bad_recording_is_named(self):
    tmp = self.create_tempdir().full_path
    root = os.path.join(tmp, 'rec')
    os.makedirs(root)
    _, _, cfg = fakes.write_recording(root, calib='json')

    def make(**kw):
      return recording.adapter(default.recording_data(**dict(cfg, **kw)))

    with self.assertRaisesRegex(FileNotFoundError, r'rec/nope.json: calibration file not found'):
      make(calibration='nope.json')
    with self.assertRaisesRegex(KeyError, r"no camera 'camZ'"):
      make(cameras=('camA', 'camZ'))
    with self.assertRaisesRegex(ValueError, 'exactly one of images'):
      make(video='videos/{camera}.avi')
    with self.assertRaisesRegex(FileNotFoundError, r"no frames of camera 'camA'"):
      make(images='frames/{camera}_{frame}.png')
    with self.assertRaisesRegex(FileNotFoundError, r'recording folder not found'):
      make(manual_dir=os.path.join(tmp, 'nope'))


class FaultsTest(parameterized.TestCase):
  """A hostile user's recording folder (issue 14): each fault is one line naming the file, or a
  masked view, never a silently wrong crop."""

  def setUp(self):
    super().setUp()
    self.tmp = self.create_tempdir().full_path
    self.root = os.path.join(self.tmp, 'rec')
    os.makedirs(self.root)
    self.cams, _, self.cfg = fakes.write_recording(self.root, calib='json')

  def _adapter(self, **kw):
    return recording.adapter(default.recording_data(**dict(self.cfg, **kw)))

  def _frame_file(self, camera, frame):
    return os.path.join(self.root, 'images', camera, f'{frame:06d}.jpg')

  def test_views_without_detections_are_masked_and_empty_frames_skipped(self):
    det = os.path.join(self.root, 'openpose', '{c}', '{c}_{f:012d}_keypoints.json')
    os.remove(det.format(c='camB', f=1))                   # one view of frame 1
    for c in fakes.REC_CAMS:                               # every view of frame 3
      os.remove(det.format(c=c, f=3))
    with self.assertLogs('mvssl', 'WARNING') as logs:
      b = builder.build(self._adapter(), os.path.join(self.tmp, 'data'), image_size=SIZE,
                        box_scale=1.3, undistort=True, num_workers=2)
    d = b.load_split('unlabeled')
    self.assertEqual(d['frame'].tolist(), [0, 1, 2])
    np.testing.assert_array_equal(d['view_valid'], [[1, 1, 1], [1, 0, 1], [1, 1, 1]])
    text = '\n'.join(logs.output)
    self.assertIn('1 of 9 views masked', text)
    self.assertIn('1 frame(s) skipped', text)

  def test_a_frame_of_another_size_than_the_calibration_is_named(self):
    path = self._frame_file('camB', 2)
    cv2.imwrite(path, cv2.resize(cv2.imread(path), (400, 300)))
    views = {f.frame: f.views for f in self._adapter().frames('unlabeled')}
    self.assertEqual(views[0][1].image().shape, (800, 800, 3))
    with self.assertRaisesRegex(ValueError, r"camB/000002.jpg: image is 400x300 px but calib.json "
                                r"gives camera 'camB' size 800x800"):
      views[2][1].image()
    # a calibration giving the codec-padded size (as Pose2Sim's 1088 for 1080-px frames) is fine,
    # a frame larger than calibrated is not
    path = self._frame_file('camC', 1)
    cv2.imwrite(path, cv2.imread(path)[:, :792])
    self.assertEqual(views[1][2].image().shape, (800, 792, 3))
    cv2.imwrite(path, cv2.copyMakeBorder(cv2.imread(path), 0, 8, 0, 8, cv2.BORDER_CONSTANT))
    with self.assertRaisesRegex(ValueError, r'camC/000001.jpg: image is 800x808 px'):
      views[1][2].image()

  def test_a_truncated_jpeg_is_named(self):
    path = self._frame_file('camA', 1)
    data = open(path, 'rb').read()
    open(path, 'wb').write(data[:len(data) // 2])
    views = {f.frame: f.views for f in self._adapter().frames('unlabeled')}
    with self.assertRaisesRegex(ValueError, r'camA/000001.jpg: truncated JPEG'):
      views[1][0].image()
    open(path, 'wb').write(b'not an image')
    with self.assertRaisesRegex(ValueError, r'camA/000001.jpg: not a readable image'):
      views[1][0].image()

  def test_a_camera_missing_from_the_calibration_is_blamed_on_the_calibration(self):
    path = os.path.join(self.root, 'calib.json')
    data = json.load(open(path))
    del data['cameras']['camC']
    json.dump(data, open(path, 'w'))
    with self.assertRaisesRegex(KeyError, r"calib.json: no camera 'camC', yet .*images/\{camera\}"
                                r"/\{frame\}.jpg has its frames"):
      self._adapter(cameras=())
    self.assertEqual(self._adapter(cameras=('camA', 'camB')).camera_names, ['camA', 'camB'])
