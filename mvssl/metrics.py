"""Pose metrics: 3D (mm) MPJPE, PA-MPJPE, N-MPJPE, PCK3D, AUC; 2D (px) error and PCK in the crop.

The 3D ones take predictions and ground truth of shape [..., J, 3] (mm) and return per-pose values of
shape [...] (mean over joints), so that per-camera or per-action averages are plain means.
Protocol #1 (MPJPE) and #2 (PA-MPJPE) as in Martinez et al. 2017 / Pavllo et al. 2019;
N-MPJPE (scale-only alignment) as in Rhodin et al. 2018; PCK3D@150 mm and AUC over 0-150 mm in
31 thresholds as in Mehta et al. 2017 (MPI-INF-3DHP).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

PCK_THRESHOLD_MM = 150.0
DECOMPOSITION = ('disagreement', 'consensus_mpjpe', 'view_specific', 'lateral', 'depth',
                 'pose_scale')                         # keys of multiview_decomposition
AUC_THRESHOLDS_MM = tuple(float(t) for t in jnp.linspace(0.0, 150.0, 31))


def root_relative(pose: jax.Array, root: int = 0) -> jax.Array:
  """Subtracts the root joint: [..., J, 3] -> [..., J, 3]."""
  return pose - pose[..., root:root + 1, :]


def joint_errors(pred: jax.Array, gt: jax.Array, root: int | None = 0) -> jax.Array:
  """Per-joint Euclidean errors [..., J] (mm), after root alignment unless root is None."""
  if pred.shape != gt.shape:
    raise ValueError(f'pred {pred.shape} and gt {gt.shape} differ in shape')
  if root is not None:
    pred, gt = root_relative(pred, root), root_relative(gt, root)
  return jnp.linalg.norm(pred - gt, axis=-1)


def mpjpe(pred, gt, root: int | None = 0):
  """Mean per-joint position error (Protocol #1), root-aligned by default. -> [...] mm."""
  return jnp.mean(joint_errors(pred, gt, root), axis=-1)


def _procrustes_one(pred, gt):
  mu_p, mu_g = pred.mean(0), gt.mean(0)
  p, g = pred - mu_p, gt - mu_g
  u, s, vt = jnp.linalg.svd(p.T @ g)
  d = jnp.sign(jnp.linalg.det(u @ vt))
  s = s.at[-1].multiply(d)
  u = u.at[:, -1].multiply(d)
  rot = u @ vt                                  # p @ rot ~ g
  scale = jnp.sum(s) / jnp.sum(p * p)
  return scale * p @ rot + mu_g


def procrustes_align(pred: jax.Array, gt: jax.Array) -> jax.Array:
  """Similarity (rotation, translation, scale) alignment of pred onto gt, reflections excluded.

  Args:
    pred, gt: [..., J, 3].
  Returns:
    [..., J, 3] aligned prediction.
  """
  lead = pred.shape[:-2]
  f = _procrustes_one
  for _ in lead:
    f = jax.vmap(f)
  return f(pred, gt)


def pa_mpjpe(pred, gt):
  """MPJPE after similarity Procrustes alignment (Protocol #2). -> [...] mm."""
  return mpjpe(procrustes_align(pred, gt), gt, root=None)


def n_mpjpe(pred, gt, root: int = 0):
  """MPJPE after root alignment and the least-squares scale of pred. -> [...] mm."""
  p, g = root_relative(pred, root), root_relative(gt, root)
  s = jnp.sum(p * g, axis=(-2, -1), keepdims=True) / jnp.sum(p * p, axis=(-2, -1), keepdims=True)
  return mpjpe(s * p, g, root=None)


def pck3d(pred, gt, threshold: float = PCK_THRESHOLD_MM, root: int | None = 0):
  """Fraction of joints within ``threshold`` mm (root-aligned). -> [...] in [0, 1]."""
  return jnp.mean(joint_errors(pred, gt, root) < threshold, axis=-1)


def auc(pred, gt, thresholds=AUC_THRESHOLDS_MM, root: int | None = 0):
  """Area under the PCK3D curve over ``thresholds`` (mean PCK). -> [...] in [0, 1]."""
  err = joint_errors(pred, gt, root)[..., None]
  return jnp.mean(err < jnp.asarray(thresholds), axis=(-2, -1))


def all_metrics(pred, gt, root: int = 0) -> dict:
  """Every metric above, per pose: dict of [...] arrays."""
  return dict(mpjpe=mpjpe(pred, gt, root), pa_mpjpe=pa_mpjpe(pred, gt),
              n_mpjpe=n_mpjpe(pred, gt, root), pck3d=pck3d(pred, gt, root=root),
              auc=auc(pred, gt, root=root))


def root_errors(pred: jax.Array, gt: jax.Array, R: jax.Array | None = None, root: int = 0) -> dict:
  """MRPE, the mean root position error (Moon et al. 2019): the root joint's Euclidean error
  (mm), and with the world-to-camera rotations R its absolute error per camera axis (x right,
  y down, z depth) and its signed depth error (root_dz = predicted minus true camera z, mm:
  negative = placed too near the camera; a bias the absolute values hide).

  Args:
    pred, gt: [..., J, 3] world mm (J may be 1: a root alone); R: optional [..., 3, 3].
  Returns:
    {'mrpe': [...]} and, with R, 'mrpe_x', 'mrpe_y', 'mrpe_z', 'root_dz' [...] (mm).
  """
  d = pred[..., root, :] - gt[..., root, :]
  out = dict(mrpe=jnp.linalg.norm(d, axis=-1))
  if R is not None:
    dc = jnp.einsum('...ij,...j->...i', R, d)
    out.update(mrpe_x=jnp.abs(dc[..., 0]), mrpe_y=jnp.abs(dc[..., 1]), mrpe_z=jnp.abs(dc[..., 2]),
               root_dz=dc[..., 2])
  return out


def absolute_metrics(pred: jax.Array, gt: jax.Array, R: jax.Array | None = None,
                     root: int = 0) -> dict:
  """Metrics of absolute poses (no alignment): abs_mpjpe (MPJPE without root alignment, mm),
  pck3d_abs (PCK3D_abs at 150 mm, as MuPoTS-3D's absolute protocol) and :func:`root_errors`.
  pred, gt [..., J, 3] world mm; R optional [..., 3, 3] -> dict of [...]."""
  return dict(abs_mpjpe=mpjpe(pred, gt, root=None), pck3d_abs=pck3d(pred, gt, root=None),
              **root_errors(pred, gt, R, root))


ABSOLUTE = ('abs_mpjpe', 'pck3d_abs', 'mrpe', 'mrpe_x', 'mrpe_y', 'mrpe_z', 'root_dz')   # their keys


def view_disagreement(world: jax.Array, seen: jax.Array | None = None) -> jax.Array:
  """Disagreement between the views of one instant, the quantity L_MVC penalises: per view, the
  mean joint distance (mm) from its world prediction to each other recorded view's, averaged
  over those views.

  Args:
    world: [N, V, J, 3] each view's prediction in world coordinates (mm): absolute, or rotated
      root-relative (lifting), as the model's Pi gives it.
    seen: [N, V] bool, views recorded (default all).

  Returns:
    [N, V] mm; NaN for a view not recorded or with no other recorded view.
  """
  n, v = world.shape[:2]
  seen = jnp.ones((n, v), bool) if seen is None else jnp.asarray(seen, bool)
  dist = jnp.linalg.norm(world[:, :, None] - world[:, None], axis=-1).mean(-1)   # [N, V, V]
  other = seen[:, None, :] & ~jnp.eye(v, dtype=bool)[None]
  count = other.sum(-1)
  mean = jnp.where(other, dist, 0.0).sum(-1) / jnp.maximum(count, 1)
  return jnp.where(seen & (count > 0), mean, jnp.nan)


def multiview_decomposition(world: jax.Array, gt: jax.Array, R: jax.Array,
                            seen: jax.Array | None = None, root: int = 0) -> dict:
  """Where a per-view model's root-aligned error lies, for frames seen by several views: what
  all views agree on, what each view adds, in-image vs along the camera's axis, and the scale.

  Args:
    world: [N, V, J, 3] each view's prediction in world coordinates (mm).
    gt: [N, J, 3] world ground truth (mm).
    R: [N, V, 3, 3] world-to-camera rotations.
    seen: [N, V] bool, views recorded (default all).
    root: the root joint; every quantity but the disagreement is root-aligned.

  Returns:
    dict of [N, V] arrays (NaN where a view is not recorded): ``disagreement``
    (:func:`view_disagreement` of the world poses as given, mm); ``consensus_mpjpe``: MPJPE of
    the mean of the frame's recorded views' predictions (the same for every view of a frame,
    mm); ``view_specific``: mean joint distance from the view's prediction to that mean (mm);
    ``lateral`` / ``depth``: the mean per-joint error in the view's own camera frame across the
    image plane (norm of x, y) and along the optical axis (|z|), mm; ``pose_scale``: mean joint
    distance to the root, prediction over GT (1 = right size).
  """
  n, v = world.shape[:2]
  seen = jnp.ones((n, v), bool) if seen is None else jnp.asarray(seen, bool)
  pred = root_relative(world, root)
  ref = root_relative(gt, root)[:, None]                                    # [N, 1, J, 3]
  w = seen[..., None, None].astype(pred.dtype)
  mean = (pred * w).sum(1, keepdims=True) / jnp.maximum(w.sum(1, keepdims=True), 1.0)
  err_cam = jnp.einsum('nvij,nvkj->nvki', R, pred - ref)                    # camera frame
  size = lambda p: jnp.linalg.norm(p, axis=-1).mean(-1)
  out = dict(
      disagreement=view_disagreement(world, seen),
      consensus_mpjpe=jnp.broadcast_to(jnp.linalg.norm(mean - ref, axis=-1).mean(-1), (n, v)),
      view_specific=jnp.linalg.norm(pred - mean, axis=-1).mean(-1),
      lateral=jnp.linalg.norm(err_cam[..., :2], axis=-1).mean(-1),
      depth=jnp.abs(err_cam[..., 2]).mean(-1),
      pose_scale=size(pred) / jnp.maximum(size(ref), 1e-6))
  return {k: jnp.where(seen, x, jnp.nan) for k, x in out.items()}


PCK2D_FRACTIONS = (0.05, 0.1, 0.2)   # of the box size (the crop side)


def scores_2d(pred: np.ndarray, gt: np.ndarray, seen: np.ndarray, box_px: float,
              fractions=PCK2D_FRACTIONS) -> dict:
  """2D scores of per-view joint predictions in the crop (the per-view stage of G).

  Args:
    pred, gt: [N, V, J, 2] px in the crop; seen: [N, V] bool (views recorded); box_px: the box
      size (crop side, px) the PCK thresholds are fractions of.
  Returns:
    {'px': mean pixel error, 'pck@F': fraction of joints within F * box_px for each F,
    'per_joint_px': [J], 'per_joint_pck@F': [J]}, over the seen views.
  Raises:
    ValueError: for mismatched shapes or no seen view.
  """
  if pred.shape != gt.shape or pred.shape[:2] != seen.shape:
    raise ValueError(f'pred {pred.shape}, gt {gt.shape} and seen {seen.shape} do not match')
  if not np.any(seen):
    raise ValueError('no recorded view to score')
  err = np.linalg.norm(np.asarray(pred, np.float64) - gt, axis=-1)[np.asarray(seen, bool)]
  out = {'px': float(np.mean(err)), 'per_joint_px': np.mean(err, axis=0)}
  for f in fractions:
    hit = err < f * box_px
    out[f'pck@{f:g}'] = float(np.mean(hit))
    out[f'per_joint_pck@{f:g}'] = np.mean(hit, axis=0)
  return out
