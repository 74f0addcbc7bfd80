"""Augmentation: the warped camera reproduces the warped labels exactly, for both lens models."""

import jax
import numpy as np
from absl.testing import absltest, parameterized

from mvssl.data import augment, h36m, poses, render
from mvssl.geometry import camera as camlib


def _frame(dist_model, size=96):
  rng = np.random.default_rng(0)
  pose = poses.procedural_poses(1, rng)[0]
  cams = poses.procedural_rig(rng, 3)
  imgs, K, R, t, d = [], [], [], [], []
  for c in cams:
    c = c.replace(dist=np.array([-0.2, 0.1, 0.01, 0.004, -0.003]), dist_model=dist_model)
    img, crop, _ = render.render_view(pose, c, size, rng, 1.3)
    imgs.append(img)
    K.append(np.asarray(crop.K, np.float64))
    R.append(np.asarray(crop.R, np.float64))
    t.append(np.asarray(crop.t, np.float64))
    d.append(np.asarray(crop.dist, np.float64))
  cams = camlib.Camera(K=np.stack(K), R=np.stack(R), t=np.stack(t), dist=np.stack(d),
                      dist_model=dist_model)
  return dict(images=np.stack(imgs), cams=cams, view_valid=np.ones(len(cams.K), bool),
              pose_3d=pose.astype(np.float64))


def _project(ex, i, pts):
  return camlib.project(jax.tree.map(lambda a: a[i], ex['cams']), pts)


class AugmentTest(parameterized.TestCase):

  @parameterized.product(dist_model=['h36m', 'opencv'], flip=[False, True], shift=[0.0, 0.3])
  def test_warped_camera_matches_warped_pixels(self, dist_model, flip, shift):
    ex = _frame(dist_model)
    ex['keypoints_2d'] = np.stack([np.concatenate(
        [_project(ex, i, ex['pose_3d']), np.ones((17, 1))], -1) for i in range(3)])
    out = augment.augment_frame(ex, np.random.default_rng(1), flip_prob=float(flip),
                                shift=shift)
    perm = list(h36m.FLIP_PERM) if flip else list(range(17))
    np.testing.assert_allclose(out['pose_3d'], ex['pose_3d'][perm])
    for i in range(3):
      # Exact: the new camera's projection of the (renamed) joints == old pixels mapped by A.
      new = _project(out, i, out['pose_3d'])
      np.testing.assert_allclose(new, out['keypoints_2d'][i, :, :2], atol=1e-6)
      np.testing.assert_allclose(np.linalg.det(out['cams'].R[i]), -1.0 if flip else 1.0,
                                 atol=1e-9)
      self.assertGreater(out['cams'].K[i, 0, 0], 0)
      self.assertGreater(out['cams'].K[i, 1, 1], 0)
      self.assertFalse(np.allclose(new, _project(ex, i, ex['pose_3d'])[perm]))
    # The depth of every joint is unchanged (the warp is in the image plane only).
    for i in range(3):
      np.testing.assert_allclose(ex['pose_3d'] @ ex['cams'].R[i][2] + ex['cams'].t[i][2],
                                 out['pose_3d'][perm] @ out['cams'].R[i][2] + out['cams'].t[i][2],
                                 rtol=1e-9)

  def test_image_moves_with_the_labels(self):
    ex = _frame('h36m', size=128)
    # Replace each view by a black image with a white disc on the projected left wrist.
    for i in range(3):
      img = np.zeros((128, 128, 3), np.uint8)
      u, v = _project(ex, i, ex['pose_3d'])[13]
      yy, xx = np.mgrid[:128, :128]
      img[(xx - u) ** 2 + (yy - v) ** 2 <= 9] = 255
      ex['images'][i] = img
    out = augment.augment_frame(ex, np.random.default_rng(3), flip_prob=1.0, colour=False,
                                scale=(0.9, 0.9), rotation_deg=20)
    for i in range(3):
      w = out['images'][i, ..., 0].astype(np.float64)
      self.assertGreater(w.sum(), 0)
      yy, xx = np.mgrid[:128, :128]
      centroid = np.array([(w * xx).sum(), (w * yy).sum()]) / w.sum()
      # After the flip the physical left wrist is named the right wrist (16).
      expected = _project(out, i, out['pose_3d'])[16]
      np.testing.assert_allclose(centroid, expected, atol=0.3)

  def test_shift_truncates_and_leaves_other_draws_alone(self):
    ex = _frame('h36m')
    plain = augment.augment_frame(ex, np.random.default_rng(4))
    zero = augment.augment_frame(ex, np.random.default_rng(4), shift=0.0)
    for x, y in zip(jax.tree.leaves(plain), jax.tree.leaves(zero)):
      np.testing.assert_array_equal(x, y)          # shift=0 draws nothing: same stream as before
    outside = []
    for seed in range(8):
      out = augment.augment_frame(ex, np.random.default_rng(seed), shift=0.4, scale=(1, 1),
                                  rotation_deg=0, flip_prob=0)
      for i in range(3):
        px = _project(out, i, out['pose_3d'])
        moved = px - _project(ex, i, ex['pose_3d'])
        np.testing.assert_allclose(moved, np.broadcast_to(moved[0], moved.shape), atol=1e-6)
        self.assertLessEqual(np.abs(moved[0]).max(), 0.4 * 96 + 1e-6)   # a pure translation
        outside.append(np.any((px < 0) | (px > 95)))
    self.assertTrue(any(outside))                  # some crops cut part of the body off
    self.assertFalse(all(outside))

  def test_missing_view_is_left_alone(self):
    ex = _frame('h36m')
    ex['view_valid'] = np.array([True, False, True])
    out = augment.augment_frame(ex, np.random.default_rng(2), flip_prob=0.0)
    np.testing.assert_array_equal(out['images'][1], ex['images'][1])
    np.testing.assert_array_equal(out['cams'].K[1], ex['cams'].K[1])
    self.assertFalse(np.array_equal(out['cams'].K[0], ex['cams'].K[0]))

  def test_deterministic(self):
    ex = _frame('h36m')
    a = augment.augment_frame(ex, np.random.default_rng(5))
    b = augment.augment_frame(ex, np.random.default_rng(5))
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
      np.testing.assert_array_equal(x, y)


if __name__ == '__main__':
  absltest.main()
