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

import functools

import chex
import jax
import jax.numpy as jnp

from mvssl.geometry import camera as camlib


def _cholesky(m):
  """Lower Cholesky factor (as nested lists of scalars) of a symmetric positive definite 4x4
  ``m``: unrolled scalar arithmetic that XLA fuses across a vmapped batch, instead of one LAPACK
  call per matrix."""
  n = m.shape[0]
  l = [[None] * n for _ in range(n)]
  for j in range(n):
    d = m[j, j] - sum(l[j][k] ** 2 for k in range(j))
    l[j][j] = jnp.sqrt(jnp.maximum(d, 1e-30))
    for i in range(j + 1, n):
      l[i][j] = (m[i, j] - sum(l[i][k] * l[j][k] for k in range(j))) / l[j][j]
  return l


def _cholesky_solve(l, b):
  """Solves L L^T x = b for the factor ``l`` of :func:`_cholesky`."""
  n = len(l)
  y = []
  for i in range(n):
    y.append((b[i] - sum(l[i][k] * y[k] for k in range(i))) / l[i][i])
  x = [None] * n
  for i in reversed(range(n)):
    x[i] = (y[i] - sum(l[k][i] * x[k] for k in range(i + 1, n))) / l[i][i]
  return jnp.stack(x)


ITERATIONS = 8   # inverse iterations of smallest_right_singular_vector (see its docstring)


def smallest_right_singular_vector(a: jax.Array, iterations: int = ITERATIONS) -> jax.Array:
  """The unit right singular vector of ``a`` [M, 4] for its smallest singular value (the DLT
  solution, up to sign), by inverse iteration on A^T A + eps I.

  A^T A shares A's right singular vectors; shifting by eps = 1e-5 trace keeps the Cholesky
  factorisation positive in float32 and changes no eigenvector. It is factorised once; each
  iteration (two 4x4 triangular solves) shrinks the other directions by
  (s_4^2 + eps) / (s_3^2 + eps). For consistent views that ratio is about 1e-3 and three
  iterations would do; for inconsistent ones (a wrong view among four, noisy two-view joints,
  the inputs a robust P-GT must judge) s_4 is far from 0 and the ratio approaches 0.1-0.5:
  three iterations were measured up to 5 mm from float64 SVD, eight within 1e-3 mm (and within
  float32 precision of the ray distance for two nearly parallel rays), which
  tests/geometry/triangulation_test.py checks. For a conditioned A (Hartley-normalised, as
  :func:`triangulate_views` builds it; on raw pixels and mm the shift would swamp s_3 and s_4)
  it gives the solution of :func:`svd_null_vector` several times faster under vmap
  (benchmarks/triangulation.py).
  """
  m = a.T @ a
  m = m + 1e-5 * jnp.trace(m) * jnp.eye(4, dtype=a.dtype)
  l = _cholesky(m)
  v = jnp.full((4,), 0.5, a.dtype)
  for _ in range(iterations):
    v = _cholesky_solve(l, v)
    v = v / jnp.linalg.norm(v)
  return v


def svd_null_vector(a: jax.Array) -> jax.Array:
  """The right singular vector of ``a`` [M, 4] for its smallest singular value, by SVD: exact
  for any conditioning (raw pixels and mm)."""
  return jnp.linalg.svd(a, full_matrices=False)[2][-1]


def dlt_triangulate(points: jax.Array, proj: jax.Array, weights: jax.Array,
                    mask: jax.Array | None = None, null_vector=svd_null_vector):
  """Triangulates one point seen in V views.

  Args:
    points: [V, 2] image coordinates in the frame of ``proj`` (px, or normalised coordinates).
    proj: [V, 3, 4] projection matrices.
    weights: [V] non-negative confidences w_v (a view with w_v = 0 is ignored).
    mask: optional [V] bool, False for a view that must be ignored.
    null_vector: [2V, 4] -> [4], the DLT's homogeneous solution: :func:`svd_null_vector` (any
      input), or :func:`smallest_right_singular_vector` (conditioned input only, faster).
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
  xh = null_vector(a)
  scale = jnp.where(jnp.abs(xh[3]) > 1e-12, xh[3], 1e-12)
  x = xh[:3] / scale
  return jnp.where(valid, x, 0.0), valid


def triangulate_views(cams: camlib.Camera, points: jax.Array, weights: jax.Array,
                      mask: jax.Array | None = None, null_vector=None):
  """Triangulates J joints from V calibrated views (lens distortion removed first).

  Args:
    cams: Camera with leading axis V (of the images the points are in).
    points: [V, J, 2] pixel coordinates (px).
    weights: [V, J] per-view, per-joint confidences (>= 0).
    mask: optional [V] bool, False for a view that must be ignored.
    null_vector: the DLT solver (:func:`dlt_triangulate`); default
      :func:`smallest_right_singular_vector`, which the conditioning here makes exact.
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
  dlt = functools.partial(dlt_triangulate,
                          null_vector=null_vector or smallest_right_singular_vector)
  x, valid = jax.vmap(dlt, in_axes=(1, None, 1, None))(xy, proj, weights, mask)
  return jnp.where(valid[:, None], x * scale + centroid, 0.0), valid


# [B, V, J, 2] points, Camera[B, V], [B, V, J] weights, [B, V] mask -> ([B, J, 3], [B, J]).
triangulate_batch = jax.vmap(triangulate_views)


def reprojection_error(cams: camlib.Camera, joints: jax.Array, points: jax.Array) -> jax.Array:
  """Per-view, per-joint reprojection error (px).

  joints [J, 3] mm; points [V, J, 2] px -> [V, J] px."""
  return jnp.linalg.norm(camlib.project_to_views(cams, joints) - points, axis=-1)
