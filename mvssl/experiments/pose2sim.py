"""The method on a real calibrated recording without 3D labels (``config.experiment='pose2sim'``,
configs/pose2sim.py).

1. The recording is read through the bring-your-own path (:mod:`mvssl.data.recording`, TFDS
   build of the crops and their detections, ``config.unlabeled_data``); its P-GT is the
   confidence-weighted DLT of the stored detections (stage pseudo_label, source 'detections').
   The recording's own reader (:mod:`mvssl.data.pose2sim`) triangulates all its frames as a
   reference: the report gives the agreement of the two (mm) and the reprojection error (px).
2. The run table of configs/pose2sim.py: Base, the single-view model pre-trained on the embedded
   rendered data (run ``base``), then fine-tuned on the real crops with L = 1.0 * L1(P-GT) +
   0.1 * MVC (run ``pose2sim_ours``), and the same fine-tuned on the P-GT without the robust
   gate (run ``pose2sim_ungated``, ``pgt_from`` pseudo_label_ungated): what the gate buys.
3. Report per view, before and after fine-tuning: P-GT reprojection error (px), MVC disagreement
   (mean distance between this view's world prediction and the other views', mm) and the
   distance of this view's prediction to the (gated) P-GT over its valid joints (mm), the same
   reference for every model. Writes pose2sim_results.{md,json,png} and pgt_overlay.png (the
   P-GT reprojected onto one frame of every camera); ``config.pose2sim.results`` names the
   report's files.
4. With ``config.seeds``: once per seed in WORKDIR/seed_S, then every number as mean +- std over
   seeds and seed-level paired comparisons (:func:`mvssl.stats.paired`; the recording is one
   sequence, so only seeds are resampled) of the held-out frames: the P-GT without the gate
   against with it, and the gated fine-tuning against Base, with Holm's correction over them
   -> WORKDIR/pose2sim_results.{md,json,png}.
"""

from __future__ import annotations

import logging
import os

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from mvssl import metrics
from mvssl import parallel
from mvssl import plots
from mvssl import stats
from mvssl.data import pose2sim as p2s
from mvssl.data import render
from mvssl.experiments import seeds as seeds_lib
from mvssl.geometry import camera as camlib
from mvssl.train import families
from mvssl.train import pgt as pgt_lib
from mvssl.train import report
from mvssl.train import stages
from mvssl.train.context import Context

log = logging.getLogger('mvssl')


def pseudo_gt(cams, det, min_score, robust_cfg):
  """P-GT of every frame of full-image detections det [V, T, J, 3] (x, y px, score), triangulated
  as the P-GT stage does (:func:`mvssl.train.pgt.triangulate_split`, ``robust_cfg``).

  Returns:
    ([T, 17, 3] mm, valid [T, 17], reprojection error [V, T, 17] px (NaN where a view has no
    detection above ``min_score``), the triangulation's arrays (used / available [T, V, J]))."""
  w = np.where(det[..., 2] >= min_score, det[..., 2], 0.0)                 # [V, T, J]
  t = det.shape[1]
  cams_t = jax.tree.map(lambda a: np.broadcast_to(np.asarray(a), (t,) + a.shape), cams)
  tri = pgt_lib.triangulate_split(cams_t, np.moveaxis(det[..., :2], 0, 1), np.moveaxis(w, 0, 1),
                                  np.ones((t, det.shape[0]), np.float32), robust_cfg)
  err = np.moveaxis(tri['error'], 1, 0)
  err = np.where(w > 0, err, np.nan)
  return tri['pose_world'], tri['valid'], err, tri


def _overlay(paths, cams, pose, out_png):
  tiles = []
  for v, p in enumerate(paths):
    img = cv2.imread(p)
    cam = jax.tree.map(lambda a, v=v: np.asarray(a[v], np.float64), cams)
    uv = np.asarray(camlib.project(cam, jnp.asarray(pose, jnp.float32)))
    img = render.draw_skeleton(img, uv, thickness=6)
    tiles.append(cv2.resize(img, (img.shape[1] // 4, img.shape[0] // 4),
                            interpolation=cv2.INTER_AREA))
  cv2.imwrite(out_png, np.concatenate(tiles, axis=1))


def reference_pgt(config):
  """The recording's own reader (mvssl.data.pose2sim) over all its frames: DLT P-GT.

  Returns:
    (names [V], full-image Camera [V] (float32), world poses [T, J, 3] mm, valid [T, J],
    reprojection error [V, T, J] px).
  """
  rec = config.unlabeled_data
  kind, _, rest = rec.detections.partition(':')
  file, _, key = rest.partition(':')
  if kind != 'npz':
    raise ValueError(f'config.unlabeled_data.detections must be npz:FILE:KEY for the Pose2Sim '
                     f'report, got {rec.detections!r}')
  names, cams, _ = p2s.load_cameras(os.path.join(rec.manual_dir, rec.calibration))
  det = p2s.load_detections(os.path.join(rec.manual_dir, file), key)
  if det.shape[0] != len(names):
    raise ValueError(f'{rec.manual_dir}/{file}: {det.shape[0]} views of detections but '
                     f'{len(names)} cameras in {rec.calibration}')
  cams32 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), cams)
  poses, valid, reproj, _ = pseudo_gt(cams32, det, float(config.pseudo_label.min_score),
                                      config.pseudo_label.robust)
  return names, cams32, poses, valid, reproj


def run(config, workdir: str) -> dict:
  """The Pose2Sim experiment (module docstring) in ``workdir``, once per seed of
  ``config.seeds`` when given (then their aggregate, :func:`aggregate`); returns the report's
  dict (per-seed dicts for a stage short of the report)."""
  if not config.seeds:
    return run_one(config, workdir)
  per_seed = seeds_lib.each_seed(config, workdir, run_one)
  if config.stage not in ('all', 'evaluate'):
    return per_seed
  out = aggregate(per_seed)
  if parallel.is_main_process():
    _write(out, workdir, config.pose2sim.results)
  return out


def run_one(config, workdir: str) -> dict:
  """The Pose2Sim experiment of one seed in ``workdir``; returns the report's dict.

  ``config.stage``: ``all``; ``build`` (the recording's dataset and its samples);
  ``pseudo_label`` (the P-GT alone, its report ``pgt/pgt_report.md`` and its agreement with the
  recording's own reader: no training); a run's name (that run alone); ``evaluate`` (the report
  of finished runs).

  Raises:
    FileNotFoundError: ``evaluate`` before every run has finished, naming the stage to run.
  """
  ctx = Context(config, workdir)
  if config.stage == 'build':
    return stages.build(ctx)
  names, cams32, poses, valid_ref, reproj = reference_pgt(config)
  # The recording through the bring-your-own path: TFDS build of the crops (+ detections).
  d = ctx.split('unlabeled')
  recording = ctx.data.source('unlabeled')
  if recording.camera_names != list(names):
    raise ValueError(f'camera order differs: {recording.camera_names} vs {names}')
  pgt = stages.pseudo_label(ctx)                 # DLT of the stored detections (crop cameras)
  frames = [int(f) for f in d['frame']]
  both = np.asarray(pgt['valid'], bool) & valid_ref[frames]
  agree = np.linalg.norm(pgt['pose_world'] - poses[frames], axis=-1)[both]
  n_tune = len(frames) - int(round(config.pose2sim.holdout_fraction * len(frames)))
  runs = [dict(name=r.name, label=r.label, init_from=r.init_from, pgt=r.pgt,
               pgt_from=r.targets.source) for r in ctx.runs.values()]
  out = dict(views=names, frames=frames, tuning_frames=frames[:n_tune], models={}, runs=runs,
             pairs=[(ctx.runs[p[0]].label, ctx.runs[p[1]].label) for p in config.pairs]
             or pairs(runs),
             pgt_vs_reference_mm=dict(median=float(np.median(agree)) if agree.size else 0.0,
                                      max=float(np.max(agree)) if agree.size else 0.0),
             pgt_valid_share=float(np.mean(pgt['valid'])))
  out['pgt_reprojection_px'] = {n: float(np.nanmean(reproj[v])) for v, n in enumerate(names)}
  out['pgt_reprojection_px_on_frames'] = {n: float(np.nanmean(reproj[v][frames]))
                                          for v, n in enumerate(names)}
  if config.stage == 'pseudo_label':
    log.info('[pose2sim] P-GT of %d frames: valid joints %.1f%%; vs the recording\'s own reader '
             'median %.3f mm, max %.3f mm (pgt/pgt_report.md)', len(frames),
             100 * out['pgt_valid_share'], out['pgt_vs_reference_mm']['median'],
             out['pgt_vs_reference_mm']['max'])
    return out
  if config.stage in ctx.runs:
    r = ctx.runs[config.stage]
    return stages.train(ctx, r.name, arrays=_tuning_arrays(ctx, r, n_tune))
  if config.stage == 'evaluate':
    missing = [n for n in ctx.runs if not ctx.finished(n)]
    if missing:
      raise FileNotFoundError(f'{workdir}: run {missing[0]!r} has not finished; run '
                              f'--config.stage={missing[0]} (or all) first')
  trained = {r.label: stages.train(ctx, r.name, arrays=_tuning_arrays(ctx, r, n_tune))
             for r in ctx.runs.values()}
  split = dict(d, pose_3d=pgt['pose_world'])
  subsets = {'models': slice(0, n_tune)}
  if n_tune < len(frames):
    subsets['heldout_models'] = slice(n_tune, len(frames))
  # Every model against the same reference: the gated P-GT's valid joints (a run trained on the
  # ungated P-GT is measured where the gate trusts the triangulation).
  valid = np.asarray(pgt['valid'], bool)
  out['per_frame'] = {}
  for run in ctx.runs.values():
    family = families.FAMILIES[run.family]
    world = family.predict(trained[run.label], split, ctx.codec(run))      # [N, V, J, 3]
    ref = pgt['pose_world'] - (pgt['pose_world'][:, :1] if family.root_relative else 0.0)
    for key, rows in subsets.items():
      err = np.linalg.norm(world[rows] - ref[rows, None], axis=-1)                  # [n, V, J]
      ok = np.broadcast_to(valid[rows, None, :], err.shape)
      frame_to_pgt = np.where(ok, err, 0.0).sum(-1) / np.maximum(ok.sum(-1), 1)     # [n, V]
      frame_to_pgt = np.where(ok.any(-1), frame_to_pgt, np.nan)
      frame_dis = np.asarray(metrics.view_disagreement(world[rows]))                   # [n, V]
      to_pgt, dis = np.nanmean(frame_to_pgt, axis=0), np.nanmean(frame_dis, axis=0)     # [V]
      rows_out = {n: dict(mvc_disagreement_mm=float(dis[v]), mpjpe_to_pgt_mm=float(to_pgt[v]))
                  for v, n in enumerate(names)}
      if not family.root_relative:          # its world root: own (metrabs) or P-GT depth
        root_ok = valid[rows, 0]
        for v, n in enumerate(names):
          rows_out[n]['root_to_pgt_mm'] = float(err[root_ok, v, 0].mean())
      out.setdefault(key, {})[run.label] = rows_out
      out['per_frame'][(key, run.label)] = dict(mvc_disagreement_mm=frame_dis,
                                                mpjpe_to_pgt_mm=frame_to_pgt)
  if parallel.is_main_process():
    mid = frames[len(frames) // 2]
    files = recording.builder.adapter.files                   # None for a video recording
    if files is not None and all(mid in f for f in files):
      _overlay([f[mid] for f in files], cams32, poses[mid],
               os.path.join(workdir, 'pgt_overlay.png'))
    _write(out, workdir, config.pose2sim.results)
  return out


def _tuning_arrays(ctx, run, n_tune: int):
  """A P-GT run's training arrays restricted to the recording's first ``n_tune`` frames (the
  rest are held out), or None (the run's usual arrays) when nothing is held out."""
  n = len(ctx.split('unlabeled')['frame'])
  if n_tune >= n or not run.pgt:
    return None
  return stages.training_arrays(ctx, run, unlabeled_frames=np.arange(n_tune))


COMPARED = ('mvc_disagreement_mm', 'mpjpe_to_pgt_mm')
_HEAD = ('views', 'frames', 'tuning_frames', 'runs', 'pairs', 'pgt_vs_reference_mm',
         'pgt_valid_share', 'pgt_reprojection_px', 'pgt_reprojection_px_on_frames')


def pairs(runs: list) -> list:
  """(a, b) run labels compared (a - b): every fine-tuned run against the run it starts from,
  and a run on the ungated P-GT against its gated twin (same start, pgt_from pseudo_label)."""
  by_name = {r['name']: r for r in runs}
  out = []
  for r in runs:
    if r['pgt'] and r['pgt_from'] == 'pseudo_label_ungated':
      twin = next((t for t in runs if t['pgt'] and t['pgt_from'] == 'pseudo_label'
                   and t['init_from'] == r['init_from']), None)
      if twin is not None:
        out.append((r['label'], twin['label']))
    elif r['pgt'] and r['init_from'] in by_name:
      out.append((r['label'], by_name[r['init_from']]['label']))
  return out


def aggregate(per_seed: dict) -> dict:
  """The per-seed reports of :func:`run_one` over seeds: every number as {mean, std}, and
  ``comparisons``: :func:`mvssl.stats.paired` of their ``pairs`` (``config.pairs``, both
  metrics of each, or :func:`pairs`) on the per-(frame, view) MVC
  disagreement and distance to the P-GT (mm) of the held-out frames (the frames fine-tuned on
  when none are held out), the recording one block; ``holm`` marks those that survive Holm's
  correction over all of them."""
  first = per_seed[min(per_seed)]
  out = {k: first[k] for k in _HEAD}
  out['seeds'] = sorted(per_seed)
  for key in ('models', 'heldout_models'):
    if key in first:
      out[key] = seeds_lib.over_seeds(per_seed, key, COMPARED + ('root_to_pgt_mm',))
  key = 'heldout_models' if 'heldout_models' in first else 'models'
  comps = []
  for a, b in first['pairs']:
    for metric in COMPARED:
      errs = [(r['per_frame'][(key, a)][metric], r['per_frame'][(key, b)][metric])
              for r in per_seed.values()]
      p = stats.paired([e[0] for e in errs], [e[1] for e in errs],
                       np.zeros(len(errs[0][0]), int))
      comps.append(dict(a=a, b=b, metric=metric, frames_of=key, **p))
  for c, keep in zip(comps, stats.holm([c['p'] for c in comps])):
    c['holm'] = keep
  out['comparisons'] = comps
  return out


def _mean(x) -> float:
  """A number, or the mean of a {mean, std} over seeds."""
  return x['mean'] if isinstance(x, dict) else x


def _cell(x) -> str:
  """One decimal, or mean +- std over seeds."""
  return f'{x["mean"]:.1f} ± {x["std"]:.1f}' if isinstance(x, dict) else f'{x:.1f}'


def comparison_lines(out) -> list:
  """Markdown of the seed-level comparisons (:func:`aggregate`): a heading line, then a bullet
  per comparison; [] when there are none."""
  comps = out.get('comparisons', ())
  if not comps:
    return []
  names = dict(mvc_disagreement_mm='MVC disagreement', mpjpe_to_pgt_mm='distance to the P-GT')
  return [f'Paired over seeds {", ".join(map(str, out["seeds"]))} on the '
          f'{"held-out" if comps[0]["frames_of"] == "heldout_models" else "fine-tuned"} frames '
          '(a - b; the recording is one sequence: seeds resampled, seed-level t; * the interval '
          f'excludes 0; Holm over the {len(comps)} comparisons):', ''] + [
              f'- {c["a"]} - {c["b"]}, {names[c["metric"]]} (mm): '
              f'{report.interval(c, per_seed=True)}{" (Holm)" if c["holm"] else ""}'
              for c in comps]


def table(out, key, reproj=True):
  """Markdown lines: per view, the P-GT's reprojection error (with ``reproj``) and every model's
  MVC disagreement, distance to the P-GT (and its root's), from ``out[key]`` (mm, px)."""
  labels = list(out[key])
  first = out['views'][0]
  rooted = {m: 'root_to_pgt_mm' in out[key][m][first] for m in labels}
  head = []
  for m in labels:
    head += [f'{m} MVC disagreement (mm)', f'{m} to P-GT (mm)']
    head += [f'{m} root to P-GT (mm)'] if rooted[m] else []
  lines = ['| view | ' + ('P-GT reproj. (px) | ' if reproj else '') + ' | '.join(head) + ' |',
           '|---' * (1 + reproj + len(head)) + '|']
  for n in out['views']:
    cells = ([f'{out["pgt_reprojection_px"][n]:.1f} / '
              f'{out["pgt_reprojection_px_on_frames"][n]:.1f}'] if reproj else [])
    for m in labels:
      r = out[key][m][n]
      cells += [_cell(r['mvc_disagreement_mm']), _cell(r['mpjpe_to_pgt_mm'])]
      cells += [_cell(r['root_to_pgt_mm'])] if rooted[m] else []
    lines.append(f'| {n} | ' + ' | '.join(cells) + ' |')
  return lines


def _write(out, workdir, name='pose2sim_results'):
  labels = list(out['models'])
  held = 'heldout_models' in out
  lines = ['# Pose2Sim balancing recording (4 real calibrated cameras, no 3D labels)', '',
           'P-GT: confidence-weighted DLT of the OpenPose detections (Human3.6M-17).',
           'Reprojection error (px) against the detections, all 100 frames / the '
           f'{len(out["frames"])} frames read; MVC disagreement (mm): mean distance from '
           'this view\'s world prediction to the other views\'; to P-GT: mean joint distance '
           '(root-aligned for root-relative models; absolute for MeTRAbs, whose root is its own; '
           'the integral model\'s root depth is the P-GT\'s); root to P-GT: the world root\'s '
           'distance (MRPE against the P-GT); every model against the gated P-GT\'s valid '
           'joints' + (f'; mean ± std over seeds {out["seeds"]}.' if 'seeds' in out else '.'),
           'P-GT read through the bring-your-own path vs the recording\'s own reader: median '
           f'{out["pgt_vs_reference_mm"]["median"]:.4f} mm, max '
           f'{out["pgt_vs_reference_mm"]["max"]:.4f} mm.', '']
  if held:
    lines += [f'Frames fine-tuned on ({len(out["tuning_frames"])}):', '']
  lines += table(out, 'models')
  if held:
    lines += ['', f'Held-out frames ({len(out["frames"]) - len(out["tuning_frames"])}), '
              'never fine-tuned on:', ''] + table(out, 'heldout_models', reproj=False)
  if out.get('comparisons'):
    lines += [''] + comparison_lines(out)
  text = '\n'.join(lines) + '\n'
  report.write_files(workdir, name, text,
                     {k: v for k, v in out.items() if k != 'per_frame'})
  plots.grouped_bars(out['views'], {'MVC disagreement (mm)': {
      m: [_mean(out['models'][m][n]['mvc_disagreement_mm']) for n in out['views']]
      for m in labels}}, os.path.join(workdir, f'{name}.png'))

