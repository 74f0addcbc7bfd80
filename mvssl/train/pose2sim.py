"""The method on a real calibrated recording without 3D labels (configs/pose2sim.py).

1. P-GT from the recording's 2D detections by confidence-weighted DLT (G = external detections),
   per-view reprojection error (px) against those detections.
2. Base: the single-view model pre-trained on the embedded rendered data (stage pretrain_single).
3. Fine-tune Base on the real crops with L = 1.0 * L1(P-GT) + 0.1 * MVC.
4. Report per view, before and after fine-tuning: P-GT reprojection error (px), MVC disagreement
   (mean distance between this view's world prediction and the other views', mm) and the
   distance of this view's prediction to the P-GT (mm). Writes pose2sim_results.{md,json,png}
   and pgt_overlay.png (the P-GT reprojected onto one frame of every camera).
"""

from __future__ import annotations

import functools
import json
import logging
import os

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from mvssl.data import h36m
from mvssl.data import pose2sim as p2s
from mvssl.geometry import camera as camlib
from mvssl.geometry import triangulation
from mvssl.train import stages
from mvssl.train import step as step_lib

log = logging.getLogger('mvssl')


def pseudo_gt(cams, det, min_score):
  """DLT P-GT of every frame: ([T, 17, 3] mm, valid [T, 17], reprojection error [V, T, 17] px)."""
  w = np.where(det[..., 2] >= min_score, det[..., 2], 0.0)                 # [V, T, J]
  tri = jax.jit(jax.vmap(triangulation.triangulate_views, in_axes=(None, 1, 1)))
  uv = jnp.asarray(det[..., :2], jnp.float32)                                # [V, T, J, 2]
  poses, valid = tri(cams, uv, jnp.asarray(w, jnp.float32))
  err = jax.vmap(triangulation.reprojection_error, in_axes=(None, 0, 1), out_axes=1)(
      cams, poses, uv)                                                       # [V, T, J]
  err = np.asarray(err)
  err = np.where(w > 0, err, np.nan)
  return np.asarray(poses), np.asarray(valid), err


def disagreement(world):
  """Per view mean distance (mm) to the other views' predictions. world [N, V, J, 3] -> [V]."""
  d = np.linalg.norm(world[:, :, None] - world[:, None], axis=-1).mean(-1)   # [N, V, V]
  v = world.shape[1]
  return d.sum(-1).mean(0) / (v - 1)


def _overlay(paths, cams, pose, out_png):
  tiles = []
  for v, p in enumerate(paths):
    img = cv2.imread(p)
    cam = p2s.camera_at(cams, v)
    uv = np.asarray(camlib.project(cam, jnp.asarray(pose, jnp.float32)))
    for a, b in h36m.BONES:
      colour = (255, 128, 0) if b in h36m.LEFT else (0, 128, 255) if b in h36m.RIGHT \
          else (0, 200, 0)
      cv2.line(img, tuple(int(x) for x in uv[a]), tuple(int(x) for x in uv[b]), colour, 6,
               cv2.LINE_AA)
    tiles.append(cv2.resize(img, (img.shape[1] // 4, img.shape[0] // 4),
                            interpolation=cv2.INTER_AREA))
  cv2.imwrite(out_png, np.concatenate(tiles, axis=1))


def run(config, workdir):
  root = config.pose2sim.root
  names, cams, _ = p2s.load_cameras(os.path.join(root, 'calibration.json'))
  det = p2s.load_detections(os.path.join(root, 'keypoints.npz'))
  if det.shape[0] != len(names):
    raise ValueError(f'{root}/keypoints.npz: {det.shape[0]} views of detections but '
                     f'{len(names)} cameras in calibration.json')
  cams32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), cams)
  poses, valid, reproj = pseudo_gt(cams32, det, config.pose2sim.min_score)
  files = p2s.frame_files(root, names)
  if not files:
    raise FileNotFoundError(f'{root}/frames: no frame present in every camera {names}')
  frames = sorted(files)
  ctx = stages.Context(config, workdir)
  geo = ctx.geo
  images, crop_cams = [], []
  for f in frames:
    im, cc, _ = p2s.crop_views(files[f], cams, det[:, f], config.data.image_size,
                               config.pose2sim.box_scale, config.pose2sim.min_score)
    images.append(im)
    crop_cams.append(cc)
  crop_cams = jax.tree.map(lambda *a: np.stack([np.asarray(x, np.float32) for x in a]),
                           *crop_cams)
  images = np.stack(images)
  pgt = poses[frames].astype(np.float32)
  target, root_depth = stages.targets(crop_cams, pgt, geo)
  split = dict(images=images, cams=crop_cams, root_depth=root_depth)
  arrays = stages.single_arrays(split, target, root_depth, 1.0)

  base = stages.pretrain_single(ctx)       # on the embedded rendered data (resumable)
  cfg = config.finetune
  state = ctx.new_state('single', cfg).replace(params=base.params, batch_stats=base.batch_stats)
  loss = functools.partial(step_lib.single_loss, geo=geo, weights=step_lib.LossWeights(
      l1=float(cfg.l1_weight), mvc=float(cfg.mvc_weight)))
  tuned = ctx.train('pose2sim_ours', state, loss, arrays, cfg)

  out = dict(views=names, frames=[int(f) for f in frames], models={})
  out['pgt_reprojection_px'] = {n: float(np.nanmean(reproj[v])) for v, n in enumerate(names)}
  out['pgt_reprojection_px_on_frames'] = {n: float(np.nanmean(reproj[v][frames]))
                                          for v, n in enumerate(names)}
  for label, st in (('Base', base), ('Fine-tuned (L1 + MVC)', tuned)):
    world = stages.predict_world(st, split, geo)                           # [N, V, J, 3]
    to_pgt = np.linalg.norm(world - pgt[:, None], axis=-1).mean(axis=(0, 2))
    dis = disagreement(world)
    out['models'][label] = {n: dict(mvc_disagreement_mm=float(dis[v]),
                                    mpjpe_to_pgt_mm=float(to_pgt[v])) for v, n in enumerate(names)}
  _overlay(files[frames[len(frames) // 2]], cams32, poses[frames[len(frames) // 2]],
           os.path.join(workdir, 'pgt_overlay.png'))
  _write(out, workdir)
  return out


def _write(out, workdir):
  labels = list(out['models'])
  lines = ['# Pose2Sim balancing recording (4 real calibrated cameras, no 3D labels)', '',
           'P-GT: confidence-weighted DLT of the OpenPose detections (Human3.6M-17).',
           'Reprojection error (px) against the detections, all 100 frames / the '
           f'{len(out["frames"])} frames with images; MVC disagreement (mm): mean distance from '
           'this view\'s world prediction to the other views\'; to P-GT: mean joint distance.', '',
           '| view | P-GT reproj. (px) | ' + ' | '.join(
               f'{m} MVC disagreement (mm) | {m} to P-GT (mm)' for m in labels) + ' |',
           '|---' * (2 + 2 * len(labels)) + '|']
  for n in out['views']:
    cells = [f'{out["pgt_reprojection_px"][n]:.1f} / {out["pgt_reprojection_px_on_frames"][n]:.1f}']
    for m in labels:
      r = out['models'][m][n]
      cells += [f'{r["mvc_disagreement_mm"]:.1f}', f'{r["mpjpe_to_pgt_mm"]:.1f}']
    lines.append(f'| {n} | ' + ' | '.join(cells) + ' |')
  text = '\n'.join(lines) + '\n'
  with open(os.path.join(workdir, 'pose2sim_results.md'), 'w') as f:
    f.write(text)
  with open(os.path.join(workdir, 'pose2sim_results.json'), 'w') as f:
    json.dump(out, f, indent=2)
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6, 3))
  x = np.arange(len(out['views']))
  for i, m in enumerate(labels):
    ax.bar(x + 0.4 * i, [out['models'][m][n]['mvc_disagreement_mm'] for n in out['views']], 0.4,
           label=m)
  ax.set_xticks(x + 0.2, out['views'])
  ax.set_ylabel('MVC disagreement (mm)')
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, 'pose2sim_results.png'), dpi=90)
  plt.close(fig)
  print(text, flush=True)
