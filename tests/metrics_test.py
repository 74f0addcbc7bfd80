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
