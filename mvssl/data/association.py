"""Person association across calibrated views: which detected person in each view is the
subject, frame by frame (single-person recordings with bystanders).

The rule of Pose2Sim's personAssociation (Pagnon et al. 2021, ``best_persons_and_cameras_
combination`` of Pose2Sim 0.8.4), with every joint instead of one tracked keypoint: every
combination of one detected person per view is triangulated (confidence-weighted DLT,
:func:`mvssl.geometry.triangulation.triangulate_views`) and scored by its reprojection error
(px, the mean over its joints seen by two views or more of the mean over their views). The
combination with the smallest error wins if it is within ``max_error_px``; otherwise views are
left out (no person taken there), one more at a time, keeping at least ``min_views``, and the
first level with a combination within the gate wins (the smallest error if none is). A view left
out gets no detection (score 0), exactly as a view where the detector found no one.

All combinations of all frames are one batched DLT: people are padded to the most any view has,
and a padded slot is a "no person" choice.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from mvssl.geometry import camera as camlib
from mvssl.geometry import triangulation

FRAMES_PER_CHUNK = 128

def pad_people(people) -> np.ndarray:
  """people[v][t]: [P, J, 3] detections of view v in frame t (P may be 0) -> [T, V, P_max, J, 3]
  with zero-score padding."""
  v_n, t_n = len(people), len(people[0])
  p_max = max(1, max(len(p) for view in people for p in view))
  j = next((p.shape[1] for view in people for p in view if len(p)), 17)
  out = np.zeros((t_n, v_n, p_max, j, 3))
  for v, view in enumerate(people):
    for t, p in enumerate(view):
      if len(p):
        out[t, v, :len(p)] = p
  return out


def combinations(num_views: int, num_people: int) -> np.ndarray:
  """[C, V] every choice of one person slot per view, slot ``num_people`` = nobody."""
  return np.array(list(itertools.product(range(num_people + 1), repeat=num_views)), int)


def associate(cams: camlib.Camera, people: np.ndarray, *, max_error_px: float = 20.0,
              min_views: int = 2, min_score: float = 0.3) -> dict:
  """Picks the subject in every view of every frame (module docstring).

  Args:
    cams: Camera [V] of the full images (lens model included).
    people: [T, V, P, J, 3] detections (x, y px, score), zero-score padding (:func:`pad_people`).
    max_error_px: the gate of a combination (Pose2Sim's association default: 20 px).
    min_views: views a combination keeps at least.
    min_score: detections below this score do not count (weight 0).
  Returns:
    dict: detections [V, T, J, 3] of the chosen people (zeros where no one is taken); choice
    [T, V] the chosen person's index in its view's file (-1: nobody); error [T] px of the chosen
    combination (inf when no combination of two views exists).
  """
  t_n, v_n, p_n, j_n, _ = people.shape
  if t_n > FRAMES_PER_CHUNK:         # a long recording, a bounded batch of combinations at once
    parts = [associate(cams, people[i:i + FRAMES_PER_CHUNK], max_error_px=max_error_px,
                       min_views=min_views, min_score=min_score)
             for i in range(0, t_n, FRAMES_PER_CHUNK)]
    return dict(detections=np.concatenate([p['detections'] for p in parts], axis=1),
                choice=np.concatenate([p['choice'] for p in parts]),
                error=np.concatenate([p['error'] for p in parts]))
  combos = combinations(v_n, p_n)                                          # [C, V]
  padded = np.concatenate([people, np.zeros((t_n, v_n, 1, j_n, 3))], axis=2)
  picked = padded[:, np.arange(v_n)[None, :], combos]                      # [T, C, V, J, 3]
  w = np.where(picked[..., 2] >= min_score, picked[..., 2], 0.0)
  real = np.any(w > 0, axis=-1)                                            # [T, C, V] a person
  err = _combination_errors(cams, picked[..., :2], w)                      # [T, C]
  n_views = real.sum(-1)
  err = np.where(n_views >= min_views, err, np.inf)
  # Pose2Sim's levels: fewest views left out first (of the views where someone was detected).
  seen = np.any(people[..., 2] >= min_score, axis=(2, 3)).sum(-1)          # [T]
  level = seen[:, None] - n_views
  key = np.where(err <= max_error_px, level * (2.0 * max_error_px + 1.0) + err, np.inf)
  fallback = np.argmin(err, axis=1)
  best = np.where(np.isfinite(key).any(1), np.argmin(key, axis=1), fallback)
  rows = np.arange(t_n)
  choice = combos[best]                                                    # [T, V]
  choice = np.where(real[rows, best], choice, -1)
  dets = np.where(real[rows, best][..., None, None], picked[rows, best], 0.0)
  return dict(detections=np.moveaxis(dets, 0, 1), choice=choice, error=err[rows, best])


def _combination_errors(cams, points, weights, chunk: int = 4096) -> np.ndarray:
  """[T, C] mean reprojection error (px) of each combination's DLT, over its joints with two or
  more weighted views (mean over those views); inf without such a joint."""
  t_n, c_n, v_n, j_n, _ = points.shape
  pts = jnp.asarray(points.reshape(-1, v_n, j_n, 2), jnp.float32)
  w = jnp.asarray(weights.reshape(-1, v_n, j_n), jnp.float32)
  cams32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), cams)
  out = []
  for i in range(0, len(pts), chunk):
    out.append(np.asarray(_errors(cams32, pts[i:i + chunk], w[i:i + chunk])))
  return np.concatenate(out).reshape(t_n, c_n)


@jax.jit
def _errors(cams, pts, w):
  def one(p, ww):
    x, ok = triangulation.triangulate_views(cams, p, ww)
    e = triangulation.reprojection_error(cams, x, p)                       # [V, J]
    seen = ww > 0
    per_joint = jnp.sum(jnp.where(seen, e, 0.0), 0) / jnp.maximum(jnp.sum(seen, 0), 1)
    n = jnp.sum(ok)
    return jnp.where(n > 0, jnp.sum(jnp.where(ok, per_joint, 0.0)) / jnp.maximum(n, 1), jnp.inf)
  return jax.vmap(one)(pts, w)
