"""Gaussian heatmap targets: peaks, per-joint sigmas measured back, the area rule, decoding."""

import chex
import jax.numpy as jnp
import numpy as np

from mvssl import losses
from mvssl.data import h36m
from mvssl.geometry import gaussian_heatmap as gh


class GaussianHeatmapTest(chex.TestCase):

  def test_target_peak_and_sigma_measured_back(self):
    sig = gh.joint_sigmas('set1', 17, 64)                       # the paper's own heatmap rows
    joints = np.stack([np.linspace(20.3, 40.7, 17), np.linspace(25.6, 35.1, 17)], -1)
    hm = np.asarray(gh.gaussian_targets(jnp.asarray(joints, jnp.float32), sig, (64, 64)))
    self.assertEqual(hm.shape, (17, 64, 64))
    for j in range(17):
      centre, sigma = gh.measured_sigma(hm[j])
      np.testing.assert_allclose(centre, joints[j], atol=1e-3)
      np.testing.assert_allclose(sigma, sig[j], rtol=1e-3)
      # the peak cell is the one nearest the joint, and no value exceeds 1
      iy, ix = np.unravel_index(np.argmax(hm[j]), hm[j].shape)
      self.assertEqual((ix, iy), tuple(np.round(joints[j]).astype(int)))
      self.assertLessEqual(hm[j].max(), 1.0)

  def test_area_rule_reproduces_both_sets(self):
    for name, values in gh.PAPER_SETS.items():
      c = gh.area_rule_constant(name)
      for joint, sigma in values.items():
        self.assertAlmostEqual(c * np.sqrt(gh.COCO_K[joint]), sigma, delta=0.05, msg=joint)

  def test_h36m_sigmas_follow_the_body(self):
    s = dict(zip(h36m.JOINT_NAMES, gh.joint_sigmas('set2', 17, 64)))
    self.assertAlmostEqual(s['RHip'], 1.73, delta=0.05)        # a joint both define
    self.assertAlmostEqual(s['LWrist'], 1.32, delta=0.05)
    self.assertEqual(s['Pelvis'], s['LHip'])                    # lacking joints: the area rule
    self.assertLess(s['Head'], s['Neck/Nose'])
    self.assertLess(s['Neck/Nose'], s['Thorax'])
    self.assertLess(s['Thorax'], s['Spine'])
    self.assertLess(s['Spine'], s['Pelvis'])
    # sigmas scale with the heatmap: 16 rows -> a quarter
    np.testing.assert_allclose(gh.joint_sigmas('set2', 17, 16), gh.joint_sigmas('set2', 17, 64) / 4,
                               rtol=1e-6)
    np.testing.assert_allclose(gh.joint_sigmas('1.5', 3, 32), [0.75] * 3)

  def test_bad_sigmas_raise(self):
    with self.assertRaisesRegex(ValueError, 'positive number or one of'):
      gh.joint_sigmas('wide', 17, 64)
    with self.assertRaisesRegex(ValueError, 'must be positive'):
      gh.joint_sigmas('-1', 17, 64)
    with self.assertRaisesRegex(ValueError, '17 Human3.6M joints'):
      gh.joint_sigmas('set1', 14, 64)

  def test_argmax_subpixel(self):
    hm = np.zeros((2, 5, 6), np.float32)
    hm[0, 2, 3], hm[0, 2, 4], hm[0, 1, 3] = 1.0, 0.6, 0.2      # right and up neighbours
    hm[1, 0, 5], hm[1, 0, 4] = 1.0, 0.5                         # corner: no shift at the border
    out = np.asarray(gh.argmax_subpixel(jnp.asarray(hm)))
    np.testing.assert_allclose(out, [[3.25, 1.75], [5.0, 0.0]])
    # a Gaussian between cells decodes within a quarter cell
    g = gh.gaussian_targets(jnp.array([[7.4, 5.8]]), np.array([1.0]), (16, 16))
    np.testing.assert_allclose(gh.argmax_subpixel(g)[0], [7.25, 5.75])

  def test_heatmap_mse(self):
    p = jnp.zeros((1, 2, 2, 2)).at[0, 0, 0, 0].set(1.0)
    t = jnp.zeros((1, 2, 2, 2)).at[0, 1].set(0.5)
    # joint 0: one cell off by 1 -> 1; joint 1: four cells off by 0.5 -> 1
    self.assertAlmostEqual(float(losses.heatmap_mse(p, t)), 1.0)
    self.assertAlmostEqual(float(losses.heatmap_mse(p, t, jnp.array([[1.0, 0.0]]))), 1.0)
    self.assertAlmostEqual(float(losses.heatmap_mse(p * 3, t, jnp.array([[1.0, 0.0]]))), 9.0)
