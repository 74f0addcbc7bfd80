"""The stages of the method, generic over the run table (:mod:`mvssl.train.runs`):

  build         builds the datasets the config names and prints what each split holds -> data/
  <run name>    trains one row of the table: its family's loss on its data mix, from its
                init_from run or from scratch                        -> checkpoints/<run name>
  pseudo_label  P-GT of the unlabeled split: G (config.pseudo_label.run) or the DLT of the
                dataset's 2D detections; world poses + per-view targets (eq. 4-8) -> pgt/pgt.npz

(``evaluate`` is :mod:`mvssl.train.evaluate`.) Every stage resumes from what the workdir holds.
"""

from __future__ import annotations

import functools
import json
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np

from mvssl import metrics as metrics_lib
from mvssl import parallel
from mvssl.data import arrays as arrays_lib
from mvssl.data import h36m
from mvssl.train import families
from mvssl.train import figures
from mvssl.train import heatmap_family
from mvssl.train import pgt as pgt_lib
from mvssl.train import report as report_lib
from mvssl.train.context import Context

log = logging.getLogger('mvssl')
PGT_SOURCES = ('model', 'detections')


def frames_of(d: dict, poses, *, mvc_w: float, keep=None, inputs: str = 'images') -> dict:
  """Training arrays of a split (step module docstring): ``d``'s network inputs (``inputs``:
  images or keypoints_2d), cameras and views with world poses [N, J, 3] mm (GT or P-GT), L1
  weight 1 and MVC weight ``mvc_w`` per frame; ``keep`` optionally selects frames (indices)."""
  out = {inputs: d[inputs], 'cams': d['cams'], 'view_valid': d['view_valid'],
         'pose_3d': np.asarray(poses, np.float32)}
  n = len(out['pose_3d'])
  out['l1_w'] = np.ones(n, np.float32)
  out['mvc_w'] = np.full(n, float(mvc_w), np.float32)
  return out if keep is None else arrays_lib.take(out, keep)


def _inputs(ctx: Context, run, split: str) -> dict:
  d = ctx.split(split)
  need = families.FAMILIES[run.family].inputs
  if need not in d:
    raise ValueError(f'run {run.name!r} (family {run.family}) reads {need}, which split {split!r} '
                     f'of the data does not have (dataset {ctx.config.data.dataset!r})')
  return d


def unlabeled_targets(d: dict, poses: np.ndarray, targets) -> tuple[np.ndarray, dict]:
  """The unlabeled frames' training targets as a run's :class:`mvssl.train.runs.Targets` says.

  Noise and withheld targets are drawn for every frame of the split from ``targets.seed`` (the
  same frame always gets the same draw, whatever the model seed or the frames kept).

  Args:
    d: the unlabeled split (view_valid); poses: [N, J, 3] world mm (P-GT or hidden GT).
  Returns:
    (world poses [N, J, 3] mm with the view-consistent noise, per-view extras: {} or
    target_noise [N, V, J, 3] heatmap units and target_w [N, V, J] (0 = withheld)).
  """
  poses = np.asarray(poses, np.float32)
  n, v, j = len(poses), d['view_valid'].shape[1], poses.shape[1]
  rng = np.random.default_rng([int(targets.seed), n])
  world_noise = rng.normal(0.0, 1.0, poses.shape).astype(np.float32)
  view_noise = rng.normal(0.0, 1.0, (n, v, j, 3)).astype(np.float32)
  withheld = rng.random((n, v, j)) < targets.withheld
  poses = poses + np.float32(targets.noise_mm) * world_noise
  if not targets.per_view:
    return poses, {}
  return poses, dict(target_noise=np.float32(targets.view_noise) * view_noise,
                     target_w=(~withheld).astype(np.float32))


def _hidden_gt(ctx: Context, d: dict, run) -> np.ndarray:
  if not np.all(d['has_pose_3d']):
    raise ValueError(f'config.runs.{run.name}.data.pgt_from is hidden_gt but the unlabeled split '
                     f'has {int(np.sum(~d["has_pose_3d"]))} frames without 3D labels (dataset '
                     f'{ctx.data.source("unlabeled").name}); use pgt_from=pseudo_label')
  return d['pose_3d']


def _share(arrays: dict, n_lab: int, n_unl: int, share: float) -> dict:
  """Repeats frames so that a fraction ``share`` of the rows are the last ``n_unl`` (unlabeled)
  ones; every frame stays at least once."""
  n_l = max(n_lab, int(np.ceil(n_unl * (1.0 - share) / share)))
  n_u = max(n_unl, int(round(n_l * share / (1.0 - share))))
  rows = np.concatenate([np.resize(np.arange(n_lab), n_l), n_lab + np.resize(np.arange(n_unl), n_u)])
  log.info('unlabeled share %.3f: %d labeled frames drawn as %d rows, %d unlabeled as %d',
           n_u / (n_l + n_u), n_lab, n_l, n_unl, n_u)
  return arrays_lib.take(arrays, rows)


def training_arrays(ctx: Context, run, unlabeled_frames=None) -> dict:
  """The run's data mix: labeled frames with GT and/or unlabeled frames with valid P-GT (only
  the unlabeled split's rows ``unlabeled_frames`` when given, e.g. to hold frames out), their
  targets as ``run.targets`` says (:func:`unlabeled_targets`), drawn in the proportion
  ``run.unlabeled_share`` when set.

  Raises:
    ValueError: when the data lacks what the run's family reads (images or 2D joints), or
      hidden-GT targets are asked of a split without 3D labels.
  """
  parts = []
  inputs = families.FAMILIES[run.family].inputs
  t = run.targets
  if run.gt:
    lab = _inputs(ctx, run, 'labeled')
    parts.append(frames_of(lab, lab['pose_3d'], mvc_w=run.mvc_frames == 'all', inputs=inputs))
    if run.pgt:                          # the same keys on both parts: no noise, all targets
      n, v, j = lab['pose_3d'].shape[0], lab['view_valid'].shape[1], lab['pose_3d'].shape[1]
      parts[-1]['target_w'] = np.ones((n, v, j), np.float32)
      if t.per_view:
        parts[-1]['target_noise'] = np.zeros((n, v, j, 3), np.float32)
  if run.pgt:
    unl = _inputs(ctx, run, 'unlabeled')
    if t.source == 'hidden_gt':
      poses = _hidden_gt(ctx, unl, run)
      valid = np.ones(poses.shape[:2], bool)
    else:
      pgt = pseudo_label(ctx, gated=t.source != 'pseudo_label_ungated')
      poses, valid = pgt['pose_world'], np.asarray(pgt['valid'], bool)
    # Every target is relative to the root joint: a frame without a valid root teaches nothing;
    # another rejected joint has L1 weight 0 (target_w), the rest of its frame still teaches.
    keep = valid[:, h36m.ROOT].copy()
    if unlabeled_frames is not None:
      keep &= np.isin(np.arange(len(keep)), unlabeled_frames)
    keep = np.nonzero(keep)[0]
    poses, extra = unlabeled_targets(unl, poses, t)
    part = frames_of(unl, poses, mvc_w=run.mvc_frames != 'none', inputs=inputs)
    joint_ok = np.broadcast_to(valid[:, None, :], unl['view_valid'].shape + valid.shape[1:])
    part['target_w'] = joint_ok.astype(np.float32) * extra.pop(
        'target_w', np.ones(joint_ok.shape, np.float32))
    part.update(extra)
    if not t.l1:
      part['l1_w'] = np.zeros_like(part['l1_w'])
    parts.append(arrays_lib.take(part, keep))
  arrays = functools.reduce(arrays_lib.concat, parts)
  if run.unlabeled_share:
    arrays = _share(arrays, arrays_lib.num_frames(parts[0]), arrays_lib.num_frames(parts[1]),
                    run.unlabeled_share)
  elif len(parts) == 2:
    n_lab, n_unl = (arrays_lib.num_frames(p) for p in parts)
    log.info('unlabeled share %.3f (in proportion to the frame counts; set data.unlabeled_share '
             'to fix it): %d labeled frames, %d unlabeled', n_unl / max(n_lab + n_unl, 1), n_lab,
             n_unl)
  return arrays


def train(ctx: Context, name: str, arrays: dict | None = None):
  """Trains run ``name`` of the table (resuming), starting from its ``init_from`` run's
  parameters when it has one, on ``arrays`` (default: :func:`training_arrays`, the run's data
  mix). -> the trained TrainState."""
  run = ctx.runs[name]
  if ctx.finished(name):
    log.info('[%s] already complete', name)
    return ctx.restore(name)
  state = ctx.new_state(run, pretrained=not run.init_from)
  if run.init_from:
    start = ctx.restore(run.init_from)
    state = state.replace(params=start.params, batch_stats=start.batch_stats)
  family = families.FAMILIES[run.family]
  codec = ctx.codec(run)
  arrays = training_arrays(ctx, run) if arrays is None else arrays
  if not run.init_from:
    state = family.prepare(state, arrays, codec)
  loss = functools.partial(family.loss, codec=codec, weights=run.weights, mvc_options=run.mvc)
  if run.init_from:          # warm-ups (MeTRAbs' absolute term) count a fresh run's updates
    loss = functools.partial(_warm, loss)
  return ctx.train(run, state, loss, arrays)


def _warm(loss, model, batch, **kw):
  """``loss`` without the step counter: a run that starts from another is past any warm-up."""
  return loss(model, {k: v for k, v in batch.items() if k != 'step'}, **kw)


def detections_views(d: dict, min_score: float):
  """The split's stored 2D detections as the P-GT's views: (points [N, V, J, 2] crop px,
  weights [N, V, J]: the score, 0 below ``min_score`` or in a missing view)."""
  kp = np.asarray(d['keypoints_2d'], np.float32)                       # [N, V, J, 3]
  w = np.where(kp[..., 2] >= min_score, kp[..., 2], 0.0)
  return kp[..., :2], w * d['view_valid'][..., None]


def pseudo_label(ctx: Context, gated: bool = True) -> dict:
  """P-GT of the unlabeled split, normalised into every view (eq. 4-8) -> pgt/pgt.npz.

  ``config.pseudo_label.source``: 'model' (G, the run ``config.pseudo_label.run``) or
  'detections' (DLT of the dataset's 2D detections, e.g. a recording's OpenPose output).
  An existing file is reused after checking that it holds the same frames and source; only
  process 0 writes it, and ``samples/unlabeled_pgt.png``: the P-GT projected into a few frames'
  crops (:func:`draw_sample`).

  ``gated=False``: the same P-GT triangulated without the robust gate (every view whose score
  passes; ``robust.method`` none) -> pgt/pgt_ungated.npz, for runs with ``pgt_from``
  pseudo_label_ungated (what the gate buys, measured).

  Returns:
    dict: pose_world [N, J, 3] mm, valid [N, J], target [N, V, J, 3], root_depth [N, V] mm,
    key [N], source, accuracy (JSON; against the hidden GT where the split has one).
  Raises:
    ValueError: for a file of other frames or another source; FloatingPointError for
      non-finite P-GT.
  """
  if not gated:
    if ctx.pgt_ungated is None:
      cfg = ctx.config.pseudo_label.copy_and_resolve_references()
      with cfg.unlocked():
        cfg.robust.update(method='none', temporal_mm=0.0)
      ctx.pgt_ungated = _pseudo_label(ctx, cfg, ctx.pgt_path(gated=False))
    return ctx.pgt_ungated
  if ctx.pgt is not None:
    return ctx.pgt
  ctx.pgt = _pseudo_label(ctx, ctx.config.pseudo_label, ctx.pgt_path())
  draw_sample(ctx, ctx.split('unlabeled'), 'unlabeled_pgt', poses=ctx.pgt['pose_world'],
              label=f'P-GT ({ctx.config.pseudo_label.source})')
  return ctx.pgt


def read_pgt(path: str) -> dict:
  """The arrays of a P-GT file.

  Raises:
    ValueError: one line naming the file and the remedy when it is truncated or corrupt.
  """
  try:
    out = arrays_lib.load_npz(path)
  except arrays_lib.DamagedFile as e:
    raise ValueError(f'{path}: damaged P-GT file ({e.reason}); move it away and run '
                     f'--config.stage=pseudo_label (or all) to make it again') from None
  missing = [k for k in ('key', 'source', 'pose_world', 'valid') if k not in out]
  if missing:
    raise ValueError(f'{path}: P-GT file lacks {", ".join(missing)}; move it away and run '
                     f'--config.stage=pseudo_label (or all) to make it again')
  return out


def _pseudo_label(ctx: Context, cfg, path: str) -> dict:
  d = ctx.split('unlabeled')
  keys = np.array([f'{s}/{q}/{f}' for s, q, f in zip(d['subject'], d['sequence'], d['frame'])])
  settings = pgt_lib.settings(cfg)
  if os.path.exists(path):
    out = read_pgt(path)
    if out['key'].shape != keys.shape or np.any(out['key'] != keys):
      raise ValueError(f'{path}: P-GT of other frames than the unlabeled split '
                       f'({len(out["key"])} vs {len(keys)} frames); move it away to regenerate')
    if str(out['source']) != cfg.source:
      raise ValueError(f'{path}: P-GT made by {str(out["source"])!r}, config.pseudo_label.source '
                       f'is {cfg.source!r}; move the file away to regenerate')
    made = str(out['settings']) if 'settings' in out else 'an earlier release (no settings)'
    if made != settings:
      raise ValueError(f'{path}: P-GT made with other settings ({made}) than '
                       f'config.pseudo_label ({settings}); move the file away to regenerate')
    log.info('[pseudo_label] reusing %s', path)
    return out
  if cfg.source == 'model':
    _, _, points, weights = heatmap_family.predict_triangulated(
        ctx.restore(cfg.run), d, ctx.codec(ctx.runs[cfg.run]), desc='P-GT (G on unlabeled)',
        views=True)
  else:
    points, weights = detections_views(d, float(cfg.min_score))
  tri = pgt_lib.triangulate_split(d['cams'], points, weights, pgt_lib.px_scale(d), cfg.robust)
  poses, valid = tri['pose_world'], tri['valid']
  if cfg.robust.temporal_mm > 0:
    tri['temporal'] = pgt_lib.temporal_outliers(poses, valid, d['sequence'], d['frame'],
                                                float(cfg.robust.temporal_mm),
                                                int(cfg.robust.temporal_window))
    valid = tri['valid'] = valid & ~tri['temporal']
  if not np.all(np.isfinite(poses)):
    raise FloatingPointError(f'[pseudo_label] {cfg.source} produced non-finite poses')
  # Targets in the codec of the first run that trains on the P-GT (stored with it, paper step 3).
  first = next((r for r in ctx.runs.values() if r.pgt), next(iter(ctx.runs.values())))
  target, root_depth = ctx.codec(first).encode_split(d['cams'], poses)
  acc = {'valid_fraction': float(np.mean(valid))}
  if np.all(d['has_pose_3d']):   # score against the hidden GT when the unlabeled data has one
    acc.update({k: float(np.mean(v)) for k, v in
                metrics_lib.all_metrics(jnp.asarray(poses), jnp.asarray(d['pose_3d'])).items()})
    acc['abs_mpjpe'] = float(np.mean(metrics_lib.mpjpe(jnp.asarray(poses),
                                                       jnp.asarray(d['pose_3d']), root=None)))
  log.info('[pseudo_label] P-GT of %d unlabeled frames (vs hidden GT where known): %s', len(poses),
           ' '.join(f'{k}={v:.4g}' for k, v in acc.items()))
  source = ctx.data.source('unlabeled')
  views = list(getattr(source, 'camera_names', None) or
               [f'view {v}' for v in range(d['view_valid'].shape[1])])
  rep = pgt_lib.summary(tri, views, cfg.robust, cfg.source)
  report_name = os.path.splitext(os.path.basename(path))[0] + '_report'
  log.info('[pseudo_label] robust %s: valid joints %.1f%%, frames with a valid root %.1f%%, '
           'views per valid joint %.2f, frames with a rejected view %d (pgt/%s.md)',
           cfg.robust.method, 100 * rep['valid_share'], 100 * rep['frames_with_valid_root'],
           rep['views_used_per_valid_joint'], rep['frames_with_a_rejected_view'], report_name)
  out = dict(pose_world=poses, valid=valid, target=target, root_depth=root_depth,
             key=keys, source=np.array(cfg.source), accuracy=np.array(json.dumps(acc)),
             settings=np.array(settings), used=tri['used'], error=tri['error'],
             score=tri['score'])
  if parallel.is_main_process():
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays_lib.save_npz_atomic(path, **out)
    report_lib.write_files(os.path.dirname(path), report_name, pgt_lib.markdown(rep), rep)
  return out


def build(ctx: Context) -> dict:
  """Builds (or checks) every dataset the config names and prints what each split holds."""
  out = {}
  for name in ('labeled', 'validation', 'unlabeled', 'test'):
    if name == 'validation' and not ctx.config.validation.share:
      continue
    d = ctx.split(name)
    out[name] = dict(frames=int(len(d['frame'])), subjects=sorted(set(d['subject'].tolist())),
                     views=int(d['view_valid'].sum()), with_3d=int(d['has_pose_3d'].sum()))
    log.info('[build] %s: %d frames, %d views, %d with 3D labels, subjects %s', name,
             out[name]['frames'], out[name]['views'], out[name]['with_3d'],
             ','.join(out[name]['subjects']))
    if out[name]['frames']:
      draw_sample(ctx, d, name)
  return out


def draw_sample(ctx: Context, d: dict, name: str, **kw) -> None:
  """``WORKDIR/samples/<name>.png`` (:func:`mvssl.train.figures.dataset_sample`; process 0)
  for a split of images; a sample that cannot be drawn is a warning, never the end of the
  stage."""
  if not parallel.is_main_process() or 'images' not in d:    # 2D-3D pairs have no images
    return
  path = os.path.join(ctx.workdir, 'samples', f'{name}.png')
  try:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    which = 'unlabeled' if name.startswith('unlabeled') else 'main'
    figures.dataset_sample(path, d, title=f'{name} split',
                           camera_names=ctx.data.source(which).camera_names, **kw)
  except (ValueError, OSError) as e:
    log.warning('[%s] sample not drawn: %s', name, e)
