"""2D-3D pairs of the real motion: each subject's own cameras, the detector-noise model's
statistics, splits by subject."""

import chex
import numpy as np

from configs import default
from mvssl.data import h36m
from mvssl.data import motion2d
from mvssl.geometry import camera as camlib
from tests.conftest import shared_path


def _cfg(**kw):
  cfg = default.motion2d_data()
  cfg.motion_path = shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz')
  cfg.cameras_path = shared_path('h36m_motion', 'h36m_cameras.json')
  cfg.subjects.update(labeled=['S1'], unlabeled=[], test=['S9'])
  cfg.update(kw)
  return cfg


class Motion2DTest(chex.TestCase):

  def test_exact_2d_is_each_subjects_official_projection(self):
    src = motion2d.Motion2D(_cfg(max_frames=50))
    d = src.load_split('test')
    self.assertEqual(set(d['subject']), {'S9'})
    self.assertEqual(d['keypoints_2d'].shape, (50, 4, 17, 3))
    np.testing.assert_array_equal(d['keypoints_2d'][..., :2], d['gt_2d'])
    official = h36m.load_cameras(shared_path('h36m_motion', 'h36m_cameras.json'))['S9']
    motion = h36m.load_motion(shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz'),
                              subjects=('S9',))
    for i in (0, 17, 49):
      pose = motion[d['sequence'][i]][d['frame'][i]]
      np.testing.assert_allclose(d['pose_3d'][i], pose, atol=1e-3)
      for v, (cam_id, cam) in enumerate(official):
        self.assertEqual(src.camera_names[v], cam_id)
        uv = np.asarray(camlib.project(cam, pose.astype(np.float64)))
        np.testing.assert_allclose(d['gt_2d'][i, v], uv, atol=0.01)            # px
    # The person is inside the 1000-px images; actions merge the two trials.
    self.assertGreater(np.mean((d['gt_2d'] > 0) & (d['gt_2d'] < 1002)), 0.99)
    self.assertEqual(motion2d.action_of('S9/walkingdog_2'), 'walkingdog')
    self.assertEqual(d['action'][0], motion2d.action_of(d['sequence'][0]))
    self.assertEqual(src.load_split('unlabeled')['pose_3d'].shape, (0, 17, 3))

  def test_detector_noise_has_the_requested_statistics(self):
    rng = np.random.default_rng(0)
    gt = rng.uniform(200, 800, (20000, 2, 17, 2))
    sigma = np.linspace(3.0, 9.0, 17)
    clean = motion2d.detector_noise(gt, rng, sigma, swap_rate=0.0, jump_rate=0.0) - gt
    np.testing.assert_allclose(clean.std(axis=(0, 1, 3)), sigma, rtol=0.03)
    self.assertLess(abs(clean.mean()), 0.05)
    big = np.zeros_like(gt)
    big[..., :, 0] = np.arange(17) * 100.0                          # joints far apart in x
    swapped = motion2d.detector_noise(big, rng, np.zeros(17), swap_rate=0.25, jump_rate=0.0)
    l, r = h36m.LEFT[0], h36m.RIGHT[0]
    self.assertAlmostEqual(np.mean(swapped[..., l, 0] == big[..., r, 0]), 0.25, delta=0.01)
    jumped = motion2d.detector_noise(big, rng, np.zeros(17), swap_rate=0.0, jump_rate=0.1)
    moved = np.any(jumped != big, axis=-1)
    self.assertAlmostEqual(moved.mean(), 0.1, delta=0.01)
    self.assertTrue(np.all((jumped >= big.min(-2, keepdims=True) - 1e-9)
                           & (jumped <= big.max(-2, keepdims=True) + 1e-9)))

  def test_noisy_split_is_fixed_and_named_errors(self):
    cfg = _cfg(max_frames=30, noise='detector')
    a = motion2d.Motion2D(cfg).load_split('labeled')
    b = motion2d.Motion2D(cfg).load_split('labeled')
    np.testing.assert_array_equal(a['keypoints_2d'], b['keypoints_2d'])
    err = np.linalg.norm(a['keypoints_2d'][..., :2] - a['gt_2d'], axis=-1)
    self.assertGreater(np.median(err), 3.0)
    with self.assertRaisesRegex(ValueError, 'field motion_path is empty'):
      motion2d.Motion2D(_cfg(motion_path=''))
    with self.assertRaisesRegex(ValueError, 'field noise_sigma_px needs 17 values'):
      motion2d.Motion2D(_cfg(noise_sigma_px=(1.0, 2.0)))
    bad = _cfg()
    bad.subjects.test = ['S2']                      # calibrated, but not in the motion set
    with self.assertRaisesRegex(KeyError, "10hz.npz: no motion for subject 'S2'"):
      motion2d.Motion2D(bad).load_split('test')
    bad.subjects.test = ['S99']
    with self.assertRaisesRegex(KeyError, "h36m_cameras.json: no cameras for subject 'S99'"):
      motion2d.Motion2D(bad).load_split('test')


def _bone_lengths(poses):
  """(..., 17, 3) -> (..., 16) lengths of h36m.BONES, in the poses' unit."""
  a, b = np.array(h36m.BONES).T
  return np.linalg.norm(poses[..., a, :] - poses[..., b, :], axis=-1)


class BoneLengthTest(chex.TestCase):
  """The README's caveat on protocol (a): the motion gives every subject Subject 1's bones, while
  the real labels of other subjects differ from them by centimetres."""

  def test_motion_bones_are_subject_1s_and_real_subjects_differ(self):
    motion = h36m.load_motion(shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz'),
                              subjects=('S1', 'S9', 'S11'))
    per_subject = {}
    for key, seq in motion.items():
      per_subject.setdefault(key.split('/')[0], []).append(_bone_lengths(seq[::10]))
    s1 = np.median(np.concatenate(per_subject['S1']), axis=0)
    for subject, lengths in per_subject.items():
      np.testing.assert_allclose(np.concatenate(lengths), np.broadcast_to(
          s1, np.concatenate(lengths).shape), atol=0.1, err_msg=subject)       # mm (float32)
    labels = np.load(shared_path('mmpose_fixtures', 'h36m', 'test_h36m_body3d.npz'))
    real = _bone_lengths(labels['S'][..., :3] * 1000.0)                         # m -> mm
    subjects = [str(n).split('/')[0] for n in labels['imgname']]
    self.assertEqual(subjects[0], 'S1')
    np.testing.assert_allclose(real[0], s1, atol=0.5)    # the fixture's S1 frame has S1's bones
    for i in range(1, len(subjects)):                     # S5, S7, S8: centimetres off
      self.assertGreater(np.abs(real[i] - s1).mean(), 5.0, subjects[i])
