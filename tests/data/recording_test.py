"""Bring your own recording: every calibration, frame and detection format builds into an
unlabeled dataset whose P-GT is the truth; the real Pose2Sim recording gives the pipeline's own
P-GT through this path; clear errors."""

import json
import os

import chex
import numpy as np
from absl.testing import parameterized

from configs import recording as recording_config
from configs import smoke
from mvssl.data import builder
from mvssl.data import recording
from mvssl.geometry import camera as camlib
from mvssl.train import pose2sim as run_p2s
from mvssl.train import stages
from tests.conftest import shared_path
from tests.data import fakes

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
    data_cfg = recording_config.recording_data(**cfg)
    adapter = recording.adapter(data_cfg)
    self.assertEqual(adapter.camera_names, list(fakes.REC_CAMS))
    for got, want in zip(adapter.cams, cams):
      for f in ('K', 'R', 't', 'dist'):
        np.testing.assert_allclose(getattr(got, f), getattr(want, f), atol=1e-6, err_msg=f)
    b = builder.build(adapter, os.path.join(tmp, 'data'), image_size=SIZE, box_scale=1.3,
                      undistort=True, num_workers=2)
    d = builder.load_split(b, 'unlabeled')
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
    pgt, valid = stages.detections_pgt(d, 0.3)
    self.assertTrue(np.all(valid))
    err = np.linalg.norm(pgt - poses, axis=-1)[:, exact]
    self.assertLess(float(err.max()), 0.5)                             # mm

  def test_bad_input_is_named(self):
    tmp = self.create_tempdir().full_path
    root = os.path.join(tmp, 'rec')
    os.makedirs(root)
    _, _, cfg = fakes.write_recording(root, calib='json')

    def make(**kw):
      return recording.adapter(recording_config.recording_data(**dict(cfg, **kw)))

    with self.assertRaisesRegex(FileNotFoundError, r'rec/nope.json: calibration file not found'):
      make(calibration='nope.json')
    with self.assertRaisesRegex(KeyError, r"no camera 'camZ'"):
      make(cameras=('camA', 'camZ'))
    with self.assertRaisesRegex(ValueError, 'exactly one of images'):
      make(video='videos/{camera}.avi')
    with self.assertRaisesRegex(FileNotFoundError, r"no frames of camera 'camA'"):
      make(images='frames/{camera}_{frame}.png')
    data = json.load(open(os.path.join(root, 'calib.json')))
    del data['cameras']['camB']['t']
    json.dump(data, open(os.path.join(root, 'bad.json'), 'w'))
    with self.assertRaisesRegex(KeyError, r"bad.json: camera 'camB' lacks field 't'"):
      make(calibration='bad.json')
    data = json.load(open(os.path.join(root, 'calib.json')))
    data['cameras']['camC']['rvec'] = None
    data['cameras']['camC']['R'] = (2 * np.eye(3)).tolist()
    del data['cameras']['camC']['rvec']
    json.dump(data, open(os.path.join(root, 'bad.json'), 'w'))
    with self.assertRaisesRegex(ValueError, r"bad.json: camera 'camC' field R is not a rotation"):
      make(calibration='bad.json')
    path = os.path.join(root, 'openpose', 'camB', 'camB_000000000002_keypoints.json')
    j = json.load(open(path))
    j['people'][0]['pose_keypoints_2d'] = j['people'][0]['pose_keypoints_2d'][:60]
    json.dump(j, open(path, 'w'))
    with self.assertRaisesRegex(ValueError, r'camB_000000000002_keypoints.json: '
                                            r'pose_keypoints_2d has 20 joints'):
      make()
    np.savez(os.path.join(root, 'det.npz'), kp=np.zeros((2, 4, 17, 3)))
    with self.assertRaisesRegex(ValueError, r'det.npz\[kp\]: expected \[V=3, T, 17, 3\]'):
      make(detections='npz:det.npz:kp')


class Pose2SimTest(chex.TestCase):
  """The real Pose2Sim recording through the bring-your-own path."""

  def test_same_pgt_as_the_recordings_own_reader(self):
    root = shared_path('pose2sim_balancing')
    tmp = self.create_tempdir().full_path
    config = smoke.get_config()
    config.unlabeled_data = recording_config.recording_data(root, num_workers=2)
    config.pseudo_label.source = 'detections'
    ctx = stages.Context(config, tmp)
    d = ctx.split('unlabeled')
    self.assertEqual(ctx.builder(config.unlabeled_data).camera_names,
                     ['cam01', 'cam02', 'cam03', 'cam04'])
    self.assertEqual(d['frame'].tolist(), list(range(0, 100, 10)))
    self.assertTrue(np.all(d['view_valid']))
    self.assertGreater(float(d['images'][3].std()), 20.0)             # real pixels
    pgt = stages.pseudo_label(ctx)
    self.assertTrue(os.path.exists(ctx.pgt_path()))
    names, _, poses, valid, reproj = run_p2s.reference_pgt(config)
    self.assertEqual(names, ['cam01', 'cam02', 'cam03', 'cam04'])
    ok = valid[d['frame']] & pgt['valid']
    self.assertGreater(ok.mean(), 0.9)
    dist = np.linalg.norm(pgt['pose_world'] - poses[d['frame']], axis=-1)[ok]
    self.assertLess(float(np.max(dist)), 1.0)                          # mm
    self.assertLess(float(np.median(dist)), 0.05)
    # The P-GT file matches the split and is reused, not recomputed.
    again = stages.pseudo_label(ctx)
    np.testing.assert_array_equal(again['pose_world'], pgt['pose_world'])
    self.assertLess(np.nanmean(reproj), 30.0)
