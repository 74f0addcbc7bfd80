"""The P-GT's triangulation, its optional temporal check and its report (stage pseudo_label).

Either source gives, per unlabeled frame, every view's 2D joints and a weight per view and joint:
the dataset's detections (score, 0 below ``config.pseudo_label.min_score``) or G's per-view
heatmap joints and confidences. :func:`triangulate_split` triangulates them robustly
(:mod:`mvssl.geometry.robust`, ``config.pseudo_label.robust``); :func:`temporal_outliers`
optionally rejects joints far from their running median along a sequence; :func:`summary` and
:func:`markdown` give the report ``pgt/pgt_report.{json,md}``: per view and joint, the share of
frames the view was used, rejected (seen, yet left out), its reprojection error (px of the
original image) where used, and each joint's valid share.
"""

from __future__ import annotations

import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from mvssl.data import h36m
from mvssl.geometry import robust


def check(cfg, where: str = 'config.pseudo_label.robust') -> None:
  """Checks the robust block (:func:`mvssl.geometry.robust.check` and the temporal fields).

  Raises:
    ValueError: naming the field.
  """
  robust.check(cfg.method, cfg.max_error_px, cfg.min_views, cfg.reduce, where)
  mm = cfg.temporal_mm
  if isinstance(mm, bool) or not isinstance(mm, (int, float)) or mm < 0:
    raise ValueError(f'{where}.temporal_mm must be a distance >= 0 in mm (0 = off), got {mm!r}')
  win = cfg.temporal_window
  if isinstance(win, bool) or not isinstance(win, int) or win < 1:
    raise ValueError(f'{where}.temporal_window must be a whole number of frames >= 1, '
                     f'got {win!r}')


def settings(pseudo_label) -> str:
  """What a P-GT file depends on beyond its frames, as text: a file made with other settings is
  not reused (stage pseudo_label says so and names the remedy)."""
  out = dict(source=pseudo_label.source, robust=pseudo_label.robust.to_dict())
  if pseudo_label.source == 'detections':
    out['min_score'] = float(pseudo_label.min_score)
  else:
    out['run'] = pseudo_label.run
  return json.dumps(out, sort_keys=True)


def px_scale(d: dict) -> np.ndarray:
  """[N, V] px of the original image per px of the split's 2D points: the crop box side over the
  crop size for image datasets (crop cameras), 1 for full-image 2D (lifting)."""
  n, v = d['view_valid'].shape
  if 'box' in d and 'images' in d:
    return np.asarray(d['box'][..., 2], np.float32) / float(d['images'].shape[2])
  return np.ones((n, v), np.float32)


def triangulate_split(cams, points, weights, scale, cfg, batch: int = 256,
                      desc: str = 'P-GT triangulation') -> dict:
  """Robust triangulation of every frame (:func:`mvssl.geometry.robust.triangulate`), with a bar.

  Args:
    cams: Camera [N, V] of the images the points are in.
    points: [N, V, J, 2] px; weights: [N, V, J] >= 0; scale: [N, V] (:func:`px_scale`).
    cfg: ``config.pseudo_label.robust``.
  Returns:
    dict of numpy arrays: pose_world [N, J, 3] mm, valid [N, J], used / available [N, V, J],
    error [N, V, J] px, score [N, J] px.
  """
  f = jax.jit(jax.vmap(functools.partial(
      robust.triangulate, method=cfg.method, max_error_px=float(cfg.max_error_px),
      min_views=int(cfg.min_views), reduce=cfg.reduce)))
  n = len(points)
  parts = []
  for i in tqdm.trange(0, n, batch, desc=desc, unit='batch', leave=False):
    sl = slice(i, i + batch)
    c = jax.tree.map(lambda a: jnp.asarray(a[sl], jnp.float32), cams)
    out = f(c, jnp.asarray(points[sl], jnp.float32), jnp.asarray(weights[sl], jnp.float32),
            px_scale=jnp.asarray(scale[sl], jnp.float32))
    parts.append({k: np.asarray(v) for k, v in out.items()})
  out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
  return dict(pose_world=out['joints'], valid=out['valid'], used=out['used'],
              available=out['available'], error=out['error'], score=out['score'])


def temporal_outliers(poses, valid, sequence, frame, max_mm: float, window: int) -> np.ndarray:
  """[N, J] True where a valid joint lies more than ``max_mm`` from the median of the valid
  positions of the same joint in the frames of its sequence within ``window`` frames on either
  side (by frame number; itself included). A joint without another valid neighbour is kept.

  Args:
    poses: [N, J, 3] mm; valid: [N, J]; sequence, frame: [N] each frame's sequence and number.
  """
  poses, valid = np.asarray(poses, np.float64), np.asarray(valid, bool)
  frame = np.asarray(frame).astype(np.int64)
  out = np.zeros(valid.shape, bool)
  seq = np.asarray(sequence).astype(str)
  for s in np.unique(seq):
    rows = np.nonzero(seq == s)[0]
    rows = rows[np.argsort(frame[rows], kind='stable')]
    f = frame[rows]
    for k, r in enumerate(rows):
      near = rows[np.abs(f - f[k]) <= window]
      for j in np.nonzero(valid[r])[0]:
        ok = near[valid[near, j]]
        if len(ok) < 2:
          continue
        med = np.median(poses[ok, j], axis=0)
        out[r, j] = np.linalg.norm(poses[r, j] - med) > max_mm
  return out


def summary(out: dict, view_names, cfg, source: str) -> dict:
  """The P-GT report (module docstring) of :func:`triangulate_split`'s arrays (+ ``temporal``
  [N, J] where the temporal check ran): JSON-ready."""
  used, avail, err = out['used'], out['available'], out['error']
  valid = out['valid']
  rejected = avail & ~used
  names = list(h36m.JOINT_NAMES[:valid.shape[1]]) if valid.shape[1] == len(h36m.JOINT_NAMES) \
      else [str(j) for j in range(valid.shape[1])]

  def share(x, axis):
    return np.mean(x, axis=axis).tolist()

  used_err = np.where(used & valid[:, None], err, np.nan)
  counts = np.sum(np.isfinite(used_err), axis=0)
  reproj_view_joint = np.where(counts > 0, np.nansum(used_err, axis=0) / np.maximum(counts, 1),
                               np.nan)
  rep = dict(
      source=source, robust=cfg.to_dict(), frames=int(len(valid)), views=list(view_names),
      joints=names,
      valid_share=float(np.mean(valid)) if valid.size else 0.0,
      valid_share_per_joint=share(valid, 0),
      frames_with_valid_root=float(np.mean(valid[:, 0])) if valid.size else 0.0,
      used_share=share(used & valid[:, None], 0),            # [V][J]: the view made the joint
      rejected_share=share(rejected, 0),                     # [V][J]: seen, yet left out
      reprojection_px=np.where(np.isfinite(reproj_view_joint), reproj_view_joint,
                               -1.0).tolist(),                # [V][J] over used, -1 = never
      max_reprojection_px_of_valid=float(np.nanmax(used_err)) if np.isfinite(used_err).any()
      else 0.0,
      views_used_per_valid_joint=float(np.sum(used & valid[:, None]) / max(np.sum(valid), 1)),
      frames_with_a_rejected_view=int(np.sum(np.any(rejected, axis=(1, 2)))),
  )
  if 'temporal' in out:
    rep['temporal_rejected'] = int(np.sum(out['temporal']))
  return rep


def markdown(rep: dict) -> str:
  """The report as markdown: per view, the share of (frame, joint)s it was used / rejected and
  its mean reprojection error where used; per joint, the valid share."""
  views, joints = rep['views'], rep['joints']
  lines = [f'# P-GT report ({rep["source"]}, robust {rep["robust"]["method"]}, gate '
           f'{rep["robust"]["max_error_px"]:g} px {rep["robust"]["reduce"]}, at least '
           f'{rep["robust"]["min_views"]} views)', '',
           f'{rep["frames"]} frames; valid joints {rep["valid_share"]:.1%}; frames with a valid '
           f'root {rep["frames_with_valid_root"]:.1%}; views per valid joint '
           f'{rep["views_used_per_valid_joint"]:.2f}; largest reprojection error of a valid '
           f'joint {rep["max_reprojection_px_of_valid"]:.1f} px; frames with a rejected view '
           f'{rep["frames_with_a_rejected_view"]}' +
           (f'; joints rejected by the temporal check {rep["temporal_rejected"]}'
            if 'temporal_rejected' in rep else '') + '.', '',
           '| view | used | rejected | reprojection (px, where used) |', '|---|---|---|---|']
  for v, name in enumerate(views):
    used = np.mean(rep['used_share'][v])
    rej = np.mean(rep['rejected_share'][v])
    px = [x for x in rep['reprojection_px'][v] if x >= 0]
    lines.append(f'| {name} | {used:.1%} | {rej:.1%} | '
                 f'{np.mean(px):.1f} |' if px else f'| {name} | {used:.1%} | {rej:.1%} | - |')
  lines += ['', '| joint | valid | ' + ' | '.join(f'{n} used / rejected' for n in views) + ' |',
            '|---' * (2 + len(views)) + '|']
  for j, name in enumerate(joints):
    cells = [f'{rep["used_share"][v][j]:.0%} / {rep["rejected_share"][v][j]:.0%}'
             for v in range(len(views))]
    lines.append(f'| {name} | {rep["valid_share_per_joint"][j]:.1%} | ' + ' | '.join(cells) +
                 ' |')
  return '\n'.join(lines) + '\n'
