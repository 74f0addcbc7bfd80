"""Robust triangulation for the P-GT: per joint, the views whose 2D points agree are kept, the
others rejected, and a joint that no set of agreeing views explains is marked invalid.

A plain confidence-weighted DLT (:func:`mvssl.geometry.triangulation.triangulate_views`) keeps
every view with a positive score: one view of a bystander, a left/right swap or a missed joint
drags the point, and a joint seen by two views that disagree still lands somewhere (metres off)
and is called valid. Here the reprojection error (px of the original image) decides:

``method='pose2sim'``: Pose2Sim's rule (Pagnon et al. 2021, ``triangulation_from_best_cameras``
  of Pose2Sim 0.8.4): triangulate with every available view; while the reprojection error of
  the best subset exceeds ``max_error_px``, exclude one more view and try every subset of that
  size, keeping at least ``min_views``. The first level (fewest views excluded) where a subset
  passes wins, the subset with the smallest error within it. All subsets are enumerated up
  front (2^V - sum_{k<min_views} C(V, k); 11 for 4 views), so the whole search is one batched
  DLT under ``jit``; more than :data:`MAX_VIEWS` views are refused.
``method='ransac'``: the RANSAC baseline of Iskakov et al. 2019 ("Learnable Triangulation of
  Human Pose", sec. 4), exhaustive over view pairs (with few views every pair is one
  hypothesis, so no sampling is needed and the result is deterministic): every pair of
  available views triangulates a hypothesis; views reprojecting within ``max_error_px`` are its
  inliers; the hypothesis with the most inliers (then the smallest mean inlier error) wins and
  the point is re-triangulated from its inliers.
``method='none'``: the plain weighted DLT of every available view, nothing rejected, no gate
  (the P-GT as it was before this module).

The error of a view set is ``reduce`` over its views: ``'mean'`` (Pose2Sim's statistic, the
default: on the Pose2Sim demo it keeps the same views as Pose2Sim for 99% of the joints,
tools/pose2sim_compare.py) or ``'max'`` (every kept view within the gate: stricter, it leaves
out about half the views Pose2Sim keeps there). A joint is valid when the DLT is defined, at least
``min_views`` views are kept and their error passes the gate, so a two-view joint passes the
same gate as any other. Views with weight 0 (score below the threshold, a missing view) are
never available.

Points may be given in a crop (the dataset stores crop cameras); ``px_scale`` [V] then converts
crop px to px of the original image (the crop box side over the crop size), the unit of the
gate (Pose2Sim's default is 15 px on its 1080p demo).
"""

from __future__ import annotations

import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np

from mvssl.geometry import camera as camlib
from mvssl.geometry import triangulation

METHODS = ('none', 'pose2sim', 'ransac')
REDUCE = ('max', 'mean')
MAX_VIEWS = 10          # 2^10 subsets for the exhaustive search


def check(method, max_error_px, min_views, reduce='mean', where='config.pseudo_label.robust'):
  """Raises ValueError naming the field for an unknown method or reduce, a gate that is not a
  positive number, or fewer than 2 minimum views."""
  if method not in METHODS:
    raise ValueError(f'{where}.method must be one of {METHODS}, got {method!r}')
  if reduce not in REDUCE:
    raise ValueError(f'{where}.reduce must be one of {REDUCE}, got {reduce!r}')
  if isinstance(max_error_px, bool) or not isinstance(max_error_px, (int, float)) or \
      not max_error_px > 0:
    raise ValueError(f'{where}.max_error_px must be a positive number of pixels (Pose2Sim: 15 on '
                     f'1080p images), got {max_error_px!r}')
  if isinstance(min_views, bool) or not isinstance(min_views, int) or min_views < 2:
    raise ValueError(f'{where}.min_views must be a whole number >= 2 (a point needs two rays), '
                     f'got {min_views!r}')


def view_subsets(num_views: int, min_views: int) -> np.ndarray:
  """[S, V] bool: every subset of the V views with at least ``min_views`` views, largest first.

  Raises:
    ValueError: for more than :data:`MAX_VIEWS` views.
  """
  if num_views > MAX_VIEWS:
    raise ValueError(f'robust triangulation enumerates view subsets: {num_views} views is more '
                     f'than {MAX_VIEWS}; use method=ransac or fewer cameras')
  rows = []
  for k in range(num_views, min_views - 1, -1):
    for keep in itertools.combinations(range(num_views), k):
      m = np.zeros(num_views, bool)
      m[list(keep)] = True
      rows.append(m)
  return np.array(rows, bool).reshape(-1, num_views)


def _errors(cams, joints, points, px_scale):
  """[V, J] reprojection error (px of the original image) of ``joints`` [J, 3] in every view."""
  return triangulation.reprojection_error(cams, joints, points) * px_scale[:, None]


def _reduce(err, used, how):
  """[J] the error of each joint's used views (``how``: max or mean; inf with none used)."""
  n = jnp.sum(used, axis=0)
  if how == 'max':
    out = jnp.max(jnp.where(used, err, -jnp.inf), axis=0)
  else:
    out = jnp.sum(jnp.where(used, err, 0.0), axis=0) / jnp.maximum(n, 1)
  return jnp.where(n > 0, out, jnp.inf)


def triangulate(cams: camlib.Camera, points: jax.Array, weights: jax.Array, *,
                method: str = 'pose2sim', max_error_px: float = 15.0, min_views: int = 2,
                reduce: str = 'mean', px_scale: jax.Array | None = None) -> dict:
  """Robust triangulation of J joints from V calibrated views (module docstring).

  Args:
    cams: Camera with leading axis V (of the images the points are in).
    points: [V, J, 2] px in those images.
    weights: [V, J] confidences >= 0; 0 = the view does not see the joint.
    method, max_error_px, min_views, reduce: module docstring (static).
    px_scale: [V] px of the original image per px of ``points`` (crop box side / crop size);
      default 1.
  Returns:
    dict: joints [J, 3] world mm (the all-views DLT where the joint is invalid); valid [J];
    used [V, J] bool, the views the joint was triangulated from; available [V, J] bool;
    error [V, J] px, every view's reprojection error of the returned joint (original image px);
    score [J] px, ``reduce`` of error over the used views.
  """
  chex.assert_rank([points, weights], [3, 2])
  v = points.shape[0]
  scale = jnp.ones((v,), points.dtype) if px_scale is None else jnp.asarray(px_scale,
                                                                           points.dtype)
  w = jnp.maximum(weights, 0.0)
  avail = w > 0
  tri = functools.partial(triangulation.triangulate_views, cams, points)
  err_of = lambda x: _errors(cams, x, points, scale)                        # noqa: E731
  if method == 'none':
    x, ok = tri(w)
    err = err_of(x)
    return dict(joints=x, valid=ok, used=avail, available=avail, error=err,
                score=_reduce(err, avail, reduce))
  if method == 'pose2sim':
    subs = jnp.asarray(view_subsets(v, min_views))                            # [S, V]
    used_s = subs[:, :, None] & avail[None]                                   # [S, V, J]
    x_s, ok_s = jax.vmap(tri)(w[None] * used_s)                                # [S, J, 3]
    err_s = jax.vmap(err_of)(x_s)                                             # [S, V, J]
    stat_s = jax.vmap(lambda e, u: _reduce(e, u, reduce))(err_s, used_s)      # [S, J]
    n_used = jnp.sum(used_s, axis=1)
    level = jnp.sum(avail, axis=0)[None] - n_used                             # views excluded
    passes = ok_s & (n_used >= min_views) & (stat_s <= max_error_px)
    key = jnp.where(passes, level * (2.0 * max_error_px + 1.0) + stat_s, jnp.inf)
    best = jnp.argmin(key, axis=0)                                            # [J]
    any_pass = jnp.any(passes, axis=0)
    used = jnp.where(any_pass[None], _pick_views(used_s, best), avail)
    x = jnp.where(any_pass[:, None], jnp.take_along_axis(x_s, best[None, :, None], 0)[0],
                  x_s[0])                       # subset 0: every view (the all-views DLT)
  elif method == 'ransac':
    pairs = np.array(list(itertools.combinations(range(v), 2)), int).reshape(-1, 2)
    pair_mask = np.zeros((len(pairs), v), bool)
    pair_mask[np.arange(len(pairs))[:, None], pairs] = True
    hyp_used = jnp.asarray(pair_mask)[:, :, None] & avail[None]               # [P, V, J]
    x_p, ok_p = jax.vmap(tri)(w[None] * hyp_used)
    err_p = jax.vmap(err_of)(x_p)                                             # [P, V, J]
    inl_p = avail[None] & (err_p <= max_error_px) & ok_p[:, None, :]
    count = jnp.sum(inl_p, axis=1)                                            # [P, J]
    mean_in = jnp.sum(jnp.where(inl_p, err_p, 0.0), axis=1) / jnp.maximum(count, 1)
    key = jnp.where(ok_p, -count * (2.0 * max_error_px + 1.0) + mean_in, jnp.inf)
    best = jnp.argmin(key, axis=0)
    inliers = _pick_views(inl_p, best)                                         # [V, J]
    any_pass = jnp.sum(inliers, axis=0) >= min_views
    used = jnp.where(any_pass[None], inliers, avail)
    x_all, _ = tri(w)
    x_in, _ = tri(w * inliers)
    x = jnp.where(any_pass[:, None], x_in, x_all)
  else:
    raise ValueError(f'robust.triangulate: method must be one of {METHODS}, got {method!r}')
  _, ok_all = tri(w * used)
  err = err_of(x)
  score = _reduce(err, used, reduce)
  n = jnp.sum(used, axis=0)
  valid = any_pass & ok_all & (n >= min_views) & (score <= max_error_px)
  return dict(joints=x, valid=valid, used=used, available=avail, error=err, score=score)


def _pick_views(per_candidate, best):
  """[C, V, J] bool and [J] candidate index -> [V, J] the chosen candidate's views per joint."""
  idx = jnp.broadcast_to(best[None, None, :], (1,) + per_candidate.shape[1:])
  return jnp.take_along_axis(per_candidate, idx, axis=0)[0]
