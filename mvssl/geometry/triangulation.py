"""Confidence-weighted DLT triangulation (Iskakov et al. 2019, "Learnable Triangulation of Human
Pose", algebraic triangulation, eq. 2-3), vectorised over batch x joints with a view mask.

For view v with projection P_v (rows P_v^1..3) and 2D point (x_v, y_v), the DLT rows are

  w_v (x_v P_v^3 - P_v^1),   w_v (y_v P_v^3 - P_v^2)

and the homogeneous point is the right singular vector of the smallest singular value of the
stacked [2V, 4] matrix A (with unit weights this is exactly ``cv2.triangulatePoints``). float32
DLT on raw pixels and millimetres is ill-conditioned (errors of hundreds of mm), so
:func:`triangulate_views` conditions the problem first (Hartley normalisation): it works in
undistorted normalised camera coordinates (x = K^-1 u) and in a world frame centred on the
cameras' centroid c and scaled by their RMS distance s to it (X = c + s X').

Fewer than two valid views cannot be triangulated: the result is then zeros with ``valid=False``,
NaN-free in value and gradient (the "double where" trick).
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from mvssl.geometry import camera as camlib


def dlt_triangulate(points: jax.Array, proj: jax.Array, weights: jax.Array,
                    mask: jax.Array | None = None):
  """Triangulates one point seen in V views.

  Args:
    points: [V, 2] image coordinates in the frame of ``proj`` (px, or normalised coordinates).
    proj: [V, 3, 4] projection matrices.
    weights: [V] non-negative confidences w_v (a view with w_v = 0 is ignored).
    mask: optional [V] bool, False for a view that must be ignored.
  Returns:
    (X, valid): X [3] the point (world units of ``proj``), valid [] bool, True when at least two
    views have positive weight.
  """
  chex.assert_rank([points, proj, weights], [2, 3, 1])
  num_views = points.shape[0]
  w = jnp.maximum(weights, 0.0)
  if mask is not None:
    w = jnp.where(mask, w, 0.0)
  valid = jnp.sum(w > 0) >= 2
  rows = jnp.concatenate([
      points[:, 0:1] * proj[:, 2] - proj[:, 0],
      points[:, 1:2] * proj[:, 2] - proj[:, 1]], axis=0)                   # [2V, 4]
  a = rows * jnp.concatenate([w, w])[:, None]
  # Safe stand-in for degenerate inputs so that neither value nor gradient becomes NaN;
  # distinct singular values (4, 3, 2, 1) keep the SVD gradient finite.
  n = min(4, 2 * num_views)
  dummy = jnp.zeros_like(a).at[jnp.arange(n), jnp.arange(n)].set(
      jnp.arange(4, 4 - n, -1).astype(a.dtype))
  a = jnp.where(valid, a, dummy)
  _, _, vh = jnp.linalg.svd(a, full_matrices=False)
  xh = vh[-1]
  scale = jnp.where(jnp.abs(xh[3]) > 1e-12, xh[3], 1e-12)
  x = xh[:3] / scale
  return jnp.where(valid, x, 0.0), valid


def triangulate_views(cams: camlib.Camera, points: jax.Array, weights: jax.Array,
                      mask: jax.Array | None = None):
  """Triangulates J joints from V calibrated views (lens distortion removed first).

  Args:
    cams: Camera with leading axis V (of the images the points are in).
    points: [V, J, 2] pixel coordinates (px).
    weights: [V, J] per-view, per-joint confidences (>= 0).
    mask: optional [V] bool, False for a view that must be ignored.
  Returns:
    (joints, valid): joints [J, 3] world (mm); valid [J] bool.
  """
  chex.assert_rank([points, weights], [3, 2])
  xy = jax.vmap(lambda c, p: camlib.undistort(c, camlib._invert_k(c.K, p)))(cams, points)
  centres = cams.center                                                     # [V, 3]
  centroid = jnp.mean(centres, axis=0)
  scale = jnp.sqrt(jnp.mean(jnp.sum((centres - centroid) ** 2, axis=-1))) + 1e-6
  t = (cams.t + jnp.einsum('vij,j->vi', cams.R, centroid)) / scale         # X = c + s X'
  proj = jnp.concatenate([cams.R, t[..., None]], axis=-1)                   # [V, 3, 4]
  if mask is None:
    mask = jnp.ones(points.shape[0], bool)
  x, valid = jax.vmap(dlt_triangulate, in_axes=(1, None, 1, None))(xy, proj, weights, mask)
  return jnp.where(valid[:, None], x * scale + centroid, 0.0), valid


# [B, V, J, 2] points, Camera[B, V], [B, V, J] weights, [B, V] mask -> ([B, J, 3], [B, J]).
triangulate_batch = jax.vmap(triangulate_views)


def reprojection_error(cams: camlib.Camera, joints: jax.Array, points: jax.Array) -> jax.Array:
  """Per-view, per-joint reprojection error (px).

  joints [J, 3] mm; points [V, J, 2] px -> [V, J] px."""
  return jnp.linalg.norm(camlib.project_to_views(cams, joints) - points, axis=-1)
