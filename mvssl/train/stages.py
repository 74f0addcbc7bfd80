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
from mvssl.geometry import triangulation
from mvssl.train import families
from mvssl.train import heatmap_family
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


def training_arrays(ctx: Context, run, unlabeled_frames=None) -> dict:
  """The run's data mix: labeled frames with GT and/or unlabeled frames with valid P-GT (only
  the unlabeled split's rows ``unlabeled_frames`` when given, e.g. to hold frames out).

  Raises:
    ValueError: when the data lacks what the run's family reads (images or 2D joints).
  """
  parts = []
  inputs = families.FAMILIES[run.family].inputs
  if run.gt:
    lab = _inputs(ctx, run, 'labeled')
    parts.append(frames_of(lab, lab['pose_3d'], mvc_w=run.mvc_frames == 'all', inputs=inputs))
  if run.pgt:
    unl = _inputs(ctx, run, 'unlabeled')
    pgt = pseudo_label(ctx)
    keep = np.all(pgt['valid'], axis=-1)
    if unlabeled_frames is not None:
      keep &= np.isin(np.arange(len(keep)), unlabeled_frames)
    keep = np.nonzero(keep)[0]
    parts.append(frames_of(unl, pgt['pose_world'], mvc_w=run.mvc_frames != 'none', keep=keep,
                           inputs=inputs))
  return functools.reduce(arrays_lib.concat, parts)


def train(ctx: Context, name: str, arrays: dict | None = None):
  """Trains run ``name`` of the table (resuming), starting from its ``init_from`` run's
  parameters when it has one, on ``arrays`` (default: :func:`training_arrays`, the run's data
  mix). -> the trained TrainState."""
  run = ctx.runs[name]
  if ctx.finished(name):
    log.info('[%s] already complete', name)
    return ctx.restore(name)
  state = ctx.new_state(run)
  if run.init_from:
    start = ctx.restore(run.init_from)
    state = state.replace(params=start.params, batch_stats=start.batch_stats)
  family = families.FAMILIES[run.family]
  codec = ctx.codec(run)
  arrays = training_arrays(ctx, run) if arrays is None else arrays
  if not run.init_from:
    state = family.prepare(state, arrays, codec)
  loss = functools.partial(family.loss, codec=codec, weights=run.weights)
  return ctx.train(run, state, loss, arrays)


def detections_pgt(d: dict, min_score: float):
  """P-GT from the split's stored 2D detections: confidence-weighted DLT in the crop cameras.

  Returns:
    (world poses [N, J, 3] mm, valid [N, J]); detections below ``min_score`` get weight 0.
  """
  kp = np.asarray(d['keypoints_2d'], np.float32)                       # [N, V, J, 3]
  w = np.where(kp[..., 2] >= min_score, kp[..., 2], 0.0)
  w = w * d['view_valid'][..., None]
  cams = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), d['cams'])
  poses, valid = jax.jit(jax.vmap(triangulation.triangulate_views))(
      cams, jnp.asarray(kp[..., :2]), jnp.asarray(w, jnp.float32))
  return np.asarray(poses), np.asarray(valid)


def _atomic_savez(path, **arrays):
  tmp = path + '.tmp.npz'
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def pseudo_label(ctx: Context) -> dict:
  """P-GT of the unlabeled split, normalised into every view (eq. 4-8) -> pgt/pgt.npz.

  ``config.pseudo_label.source``: 'model' (G, the run ``config.pseudo_label.run``) or
  'detections' (DLT of the dataset's 2D detections, e.g. a recording's OpenPose output).
  An existing file is reused after checking that it holds the same frames and source; only
  process 0 writes it.

  Returns:
    dict: pose_world [N, J, 3] mm, valid [N, J], target [N, V, J, 3], root_depth [N, V] mm,
    key [N], source, accuracy (JSON; against the hidden GT where the split has one).
  Raises:
    ValueError: for a file of other frames or another source; FloatingPointError for
      non-finite P-GT.
  """
  if ctx.pgt is not None:
    return ctx.pgt
  ctx.pgt = _pseudo_label(ctx)
  return ctx.pgt


def _pseudo_label(ctx: Context) -> dict:
  path = ctx.pgt_path()
  d = ctx.split('unlabeled')
  cfg = ctx.config.pseudo_label
  keys = np.array([f'{s}/{q}/{f}' for s, q, f in zip(d['subject'], d['sequence'], d['frame'])])
  if os.path.exists(path):
    out = dict(np.load(path))
    if out['key'].shape != keys.shape or np.any(out['key'] != keys):
      raise ValueError(f'{path}: P-GT of other frames than the unlabeled split '
                       f'({len(out["key"])} vs {len(keys)} frames); move it away to regenerate')
    if str(out['source']) != cfg.source:
      raise ValueError(f'{path}: P-GT made by {str(out["source"])!r}, config.pseudo_label.source '
                       f'is {cfg.source!r}; move the file away to regenerate')
    log.info('[pseudo_label] reusing %s', path)
    return out
  if cfg.source == 'model':
    poses, valid = heatmap_family.predict_triangulated(
        ctx.restore(cfg.run), d, ctx.codec(ctx.runs[cfg.run]), desc='P-GT (G on unlabeled)')
  else:
    poses, valid = detections_pgt(d, float(cfg.min_score))
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
  out = dict(pose_world=poses, valid=valid, target=target, root_depth=root_depth,
             key=keys, source=np.array(cfg.source), accuracy=np.array(json.dumps(acc)))
  if parallel.is_main_process():
    os.makedirs(os.path.dirname(path), exist_ok=True)
    _atomic_savez(path, **out)
  return out


def build(ctx: Context) -> dict:
  """Builds (or checks) every dataset the config names and prints what each split holds."""
  out = {}
  for name in ('labeled', 'unlabeled', 'test'):
    d = ctx.split(name)
    out[name] = dict(frames=int(len(d['frame'])), subjects=sorted(set(d['subject'].tolist())),
                     views=int(d['view_valid'].sum()), with_3d=int(d['has_pose_3d'].sum()))
    log.info('[build] %s: %d frames, %d views, %d with 3D labels, subjects %s', name,
             out[name]['frames'], out[name]['views'], out[name]['with_3d'],
             ','.join(out[name]['subjects']))
  return out
