"""Metrics against an independent numpy/scipy reference and known transforms."""

import chex
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from mvssl import metrics


def _scipy_pa_mpjpe(pred, gt):
  """Independent reference: scipy's orthogonal Procrustes for rotation, closed-form scale."""
  from scipy.linalg import orthogonal_procrustes
  p = pred - pred.mean(0)
  g = gt - gt.mean(0)
  rot, s = orthogonal_procrustes(p, g)
  if np.linalg.det(rot) < 0:   # exclude reflections (Umeyama)
    u, sv, vt = np.linalg.svd(p.T @ g)
    dd = np.diag([1, 1, np.sign(np.linalg.det(u @ vt))])
    rot = u @ dd @ vt
    s = np.sum(sv * np.diag(dd))
  scale = s / np.sum(p * p)
  aligned = scale * p @ rot + gt.mean(0)
  return np.mean(np.linalg.norm(aligned - gt, axis=-1))


class MetricsTest(chex.TestCase):

  def setUp(self):
    super().setUp()
    rng = np.random.default_rng(0)
    self.gt = rng.normal(size=(16, 17, 3)) * 300
    self.pred = self.gt + rng.normal(size=(16, 17, 3)) * 40

  def test_pa_mpjpe_matches_scipy_reference(self):
    ours = np.asarray(metrics.pa_mpjpe(jnp.asarray(self.pred, jnp.float32),
                                       jnp.asarray(self.gt, jnp.float32)))
    ref = np.array([_scipy_pa_mpjpe(p, g) for p, g in zip(self.pred, self.gt)])
    np.testing.assert_allclose(ours, ref, rtol=1e-4)

  def test_pa_mpjpe_removes_similarity_transform(self):
    rot = Rotation.from_rotvec([0.3, -1.0, 0.5]).as_matrix()
    moved = 1.3 * self.gt @ rot.T + np.array([100.0, -20, 3000])
    self.assertLess(float(jnp.max(metrics.pa_mpjpe(jnp.asarray(moved), jnp.asarray(self.gt)))),
                    1e-2)
    self.assertGreater(float(jnp.min(metrics.mpjpe(jnp.asarray(moved), jnp.asarray(self.gt)))),
                       10.0)

  def test_mpjpe_and_n_mpjpe(self):
    ref = np.mean(np.linalg.norm((self.pred - self.pred[:, :1]) - (self.gt - self.gt[:, :1]),
                                 axis=-1), axis=-1)
    np.testing.assert_allclose(metrics.mpjpe(jnp.asarray(self.pred), jnp.asarray(self.gt)), ref,
                               rtol=1e-5)
    scaled = 0.8 * (self.gt - self.gt[:, :1])
    self.assertLess(float(jnp.max(metrics.n_mpjpe(jnp.asarray(scaled), jnp.asarray(self.gt)))),
                    1e-2)

  def test_pck_and_auc(self):
    gt = np.zeros((1, 4, 3))
    pred = gt.copy()
    pred[0, 1:, 0] = [12.0, 103.0, 200.0]        # joint errors 0 (root), 12, 103, 200 mm
    self.assertAlmostEqual(float(metrics.pck3d(jnp.asarray(pred), jnp.asarray(gt))[0]), 0.75)
    # AUC: per threshold t in 0..150 step 5 the fraction below t, averaged.
    errs = np.array([0, 12, 103, 200])
    ref = np.mean([(errs < t).mean() for t in np.linspace(0, 150, 31)])
    self.assertAlmostEqual(float(metrics.auc(jnp.asarray(pred), jnp.asarray(gt))[0]), ref, 6)

  def test_view_disagreement_by_hand(self):
    # 3 views of one instant, 2 joints: view 1 is 30 mm off along x, view 2 40 mm along y.
    base = np.array([[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]])
    world = np.stack([base, base + [30.0, 0.0, 0.0], base + [0.0, 40.0, 0.0]])[None]
    got = np.asarray(metrics.view_disagreement(jnp.asarray(world)))
    np.testing.assert_allclose(got, [[(30 + 40) / 2, (30 + 50) / 2, (40 + 50) / 2]], atol=1e-4)
    seen = np.array([[True, False, True]])              # view 1 not recorded: left out
    got = np.asarray(metrics.view_disagreement(jnp.asarray(world), jnp.asarray(seen)))
    np.testing.assert_allclose(got[0, [0, 2]], [40.0, 40.0], atol=1e-4)
    self.assertTrue(np.isnan(got[0, 1]))
    alone = np.array([[True, False, False]])            # no other view: NaN, not 0
    self.assertTrue(np.all(np.isnan(metrics.view_disagreement(jnp.asarray(world),
                                                              jnp.asarray(alone)))))

  def test_multiview_decomposition_by_hand(self):
    # GT: root at 0, one joint at +100 mm x. Camera 0 looks along world z (R = I), camera 1 along
    # world x (R swaps x and z). Both predict the joint 20 mm too far in +x and 10 mm in +z.
    gt = np.array([[[0.0, 0.0, 0.0], [100.0, 0.0, 0.0]]])
    swap = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    R = np.stack([np.eye(3), swap])[None]
    off = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 10.0]])
    world = np.stack([gt[0] + off + 500.0, gt[0] + off])[None]     # view 0 also shifted: no effect
    out = {k: np.asarray(v) for k, v in metrics.multiview_decomposition(
        jnp.asarray(world), jnp.asarray(gt), jnp.asarray(R)).items()}
    e = np.hypot(20.0, 10.0)
    np.testing.assert_allclose(out['consensus_mpjpe'], [[e / 2, e / 2]], atol=1e-4)
    np.testing.assert_allclose(out['view_specific'], [[0.0, 0.0]], atol=1e-4)
    np.testing.assert_allclose(out['lateral'], [[20.0 / 2, 10.0 / 2]], atol=1e-4)   # joint-mean
    np.testing.assert_allclose(out['depth'], [[10.0 / 2, 20.0 / 2]], atol=1e-4)
    np.testing.assert_allclose(out['pose_scale'], [[e_scale := np.hypot(120.0, 10.0) / 100.0,
                                                     e_scale]], atol=1e-5)
    # The disagreement is not root-aligned (L_MVC compares the views' world poses as they are).
    np.testing.assert_allclose(out['disagreement'], [[500 * np.sqrt(3)] * 2], atol=1e-3)
    # One view off by 30 mm on the joint: half of it is view-specific for each view.
    world2 = np.stack([gt[0], gt[0] + [[0.0, 0.0, 0.0], [0.0, 30.0, 0.0]]])[None]
    out = metrics.multiview_decomposition(jnp.asarray(world2), jnp.asarray(gt), jnp.asarray(R))
    np.testing.assert_allclose(np.asarray(out['view_specific']), [[7.5, 7.5]], atol=1e-4)
    np.testing.assert_allclose(np.asarray(out['consensus_mpjpe']), [[7.5, 7.5]], atol=1e-4)
    masked = metrics.multiview_decomposition(jnp.asarray(world2), jnp.asarray(gt),
                                             jnp.asarray(R), jnp.asarray([[True, False]]))
    self.assertTrue(np.isnan(np.asarray(masked['lateral'])[0, 1]))
    np.testing.assert_allclose(np.asarray(masked['consensus_mpjpe'])[0, 0], 0.0, atol=1e-4)

  def test_absolute_metrics_by_hand(self):
    # A camera looking along world +y (its z axis): world y is depth, world x is image x.
    R = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
    gt = np.zeros((2, 3, 3))
    gt[:, 1:, 2] = 100.0                               # joints 1, 2 above the root
    pred = gt.copy()
    pred[0] += [30.0, -400.0, 0.0]                     # frame 0: 30 mm right, 400 mm too near
    pred[1] += [0.0, 200.0, 0.0]                       # frame 1: 200 mm too far
    out = {k: np.asarray(v) for k, v in metrics.absolute_metrics(
        jnp.asarray(pred), jnp.asarray(gt), jnp.asarray(np.stack([R, R]))).items()}
    np.testing.assert_allclose(out['mrpe'], [np.hypot(30, 400), 200], rtol=1e-6)
    np.testing.assert_allclose(out['mrpe_x'], [30, 0], atol=1e-4)
    np.testing.assert_allclose(out['mrpe_z'], [400, 200], rtol=1e-6)
    np.testing.assert_allclose(out['root_dz'], [-400, 200], rtol=1e-6)   # signed: near < 0
    np.testing.assert_allclose(out['abs_mpjpe'], out['mrpe'], rtol=1e-6)  # a rigid shift
    np.testing.assert_allclose(out['pck3d_abs'], [0.0, 0.0])
    self.assertNotIn('root_dz', metrics.root_errors(jnp.asarray(pred), jnp.asarray(gt)))

  def test_scores_2d_by_hand(self):
    # 1 frame, 2 views (the second not recorded), 3 joints; box 100 px: PCK at 5 / 10 / 20 px.
    gt = np.zeros((1, 2, 3, 2))
    pred = gt.copy()
    pred[0, 0, :, 0] = [3.0, 8.0, 30.0]        # errors 3, 8, 30 px in the recorded view
    pred[0, 1] = 1000.0                         # an unrecorded view: ignored
    out = metrics.scores_2d(pred, gt, np.array([[True, False]]), box_px=100.0)
    self.assertAlmostEqual(out['px'], (3 + 8 + 30) / 3)
    self.assertAlmostEqual(out['pck@0.05'], 1 / 3)
    self.assertAlmostEqual(out['pck@0.1'], 2 / 3)
    self.assertAlmostEqual(out['pck@0.2'], 2 / 3)
    np.testing.assert_allclose(out['per_joint_px'], [3.0, 8.0, 30.0])
    np.testing.assert_allclose(out['per_joint_pck@0.1'], [1.0, 1.0, 0.0])
    with self.assertRaisesRegex(ValueError, 'no recorded view'):
      metrics.scores_2d(pred, gt, np.zeros((1, 2), bool), box_px=100.0)
    with self.assertRaisesRegex(ValueError, 'do not match'):
      metrics.scores_2d(pred[:, :1], gt, np.ones((1, 2), bool), box_px=100.0)
