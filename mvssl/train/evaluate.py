"""Stage ``evaluate``: every reported run of the table on the test split -> results.{md,json,png}.

Per-view families (the integral model) are scored per camera: each view's prediction mapped to
world with the GT root depth (Pi), MPJPE / PA-MPJPE / N-MPJPE / PCK3D / AUC, views a camera did
not record left out; runs whose poses are absolute (the integral model with the GT's or a RootNet's
root depth, MeTRAbs) also without alignment: absolute MPJPE, PCK3D_abs and MRPE (per camera axis).
A root-only run (RootNet) is scored by MRPE alone. Multi-view families (G) are scored on their triangulated pose and their
per-view 2D stage (crop px, PCK of the crop side; :func:`views_2d`). The P-GT's
own accuracy (against the hidden GT, where the unlabeled data has one) is added when present,
and the paired bootstrap interval of consecutive columns (e.g. L1-only - Base, Ours - L1-only)
over the test frames of this one run.

Another split with 3D labels (e.g. the hidden GT of the unlabeled split, the reproduction
study's validation, or the truncated test crops of ``config.truncation``, added to the test
results under 'truncated') is scored the same way into ``<split>_results.json`` / ``<split>_errors.npz``.
Every run's predictions are kept in ``predictions/<split>/<run>.npz`` with the identity of the
checkpoint they came from, so a resumed evaluation predicts only what changed.
"""

from __future__ import annotations

import json
import logging
import os

import jax.numpy as jnp
import numpy as np

from mvssl import metrics as metrics_lib
from mvssl import parallel
from mvssl import stats
from mvssl.data import arrays as arrays_lib
from mvssl.train import families
from mvssl.train import figures
from mvssl.train import heatmap_family
from mvssl.train import report
from mvssl.train import runs as runs_lib
from mvssl.train import stages
from mvssl.train import summaries
from mvssl.train.context import Context

log = logging.getLogger('mvssl')
BLOCK = stats.BLOCK     # errors.npz: [N] str, every frame's 'subject/sequence'


def _checkpoint_id(ctx: Context, name: str) -> str:
  """The finished checkpoint of run ``name`` as 'step@mtime' ('' when unfinished)."""
  steps = ctx.schedule(ctx.runs[name]).steps
  path = os.path.join(ctx.workdir, 'checkpoints', name, str(steps))
  return f'{steps}@{os.stat(path).st_mtime_ns}' if ctx.finished(name) and os.path.isdir(path) \
      else ''


def predictions(ctx: Context, run, split: str, d: dict, root_from: str = '') -> np.ndarray:
  """The run's world poses on ``split`` (its family's ``predict``; with ``root_from``, a rootnet
  run, the integral run's poses at that run's predicted root depths), read from
  ``predictions/<split>/<run>[+<root_from>].npz`` when that file came from the same finished checkpoint and
  the same frames (and, for a truncated or crowd split, the same settings), else predicted and
  stored (process 0).

  Raises:
    FileNotFoundError: when the run has no finished checkpoint.
  """
  path = os.path.join(ctx.workdir, 'predictions', split,
                      f'{run.name}+{root_from}.npz' if root_from else f'{run.name}.npz')
  ident = _checkpoint_id(ctx, run.name)
  if root_from:
    ident = ident and f'{ident}+{root_from}:{_checkpoint_id(ctx, root_from)}'
  if ident and ctx.split_settings(split):      # a made split: its settings too (not only its size)
    ident = f'{ident}|{ctx.split_settings(split)}'
  if ident and os.path.exists(path):
    try:
      z = arrays_lib.load_npz(path)
      if str(z['checkpoint']) == ident and len(z['pred']) == len(d['frame']):
        return z['pred']
    except (ValueError, KeyError) as e:     # a damaged file is predicted again
      log.warning('[evaluate] %s unreadable (%s); predicting again', path, e)
  if root_from:                        # PoseNet + RootNet: the predicted root depths
    d = dict(d, root_depth=predicted_root_depth(ctx, ctx.runs[root_from], split, d))
  state = ctx.restore(run.name)
  pred = np.asarray(families.FAMILIES[run.family].predict(state, d, ctx.codec(run)))
  if parallel.is_main_process() and ident:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arrays_lib.save_npz_atomic(path, pred=pred, checkpoint=np.array(ident))
  return pred


def _entries(ctx: Context):
  """(run, label, name, root_from) of every reported run, in the table's order; an integral run
  with ``root_from`` twice: with the GT root depth, then as '<label> + <RootNet label>'."""
  for run in sorted(ctx.runs.values(), key=lambda r: (r.order, r.name)):
    if run.report != 'none':
      yield run, run.label, run.name, ''
      if run.root_from:
        yield (run, f'{run.label} + {ctx.runs[run.root_from].label}',
               f'{run.name}+{run.root_from}', run.root_from)


def predicted_root_depth(ctx: Context, rootnet, split: str, d: dict) -> np.ndarray:
  """A rootnet run's root depths on ``split``: camera-frame z of its world roots, [N, V] mm."""
  roots = jnp.asarray(predictions(ctx, rootnet, split, d))[:, :, 0]            # [N, V, 3]
  cams = d['cams']
  return np.asarray(jnp.einsum('nvj,nvj->nv', cams.R[..., 2, :], roots) + cams.t[..., 2])


def evaluate(ctx: Context, split: str = 'test') -> dict:
  """Scores every finished run whose ``report`` is not 'none' (unfinished ones are skipped with
  a warning) on ``split`` and writes the report (process 0): results.{md,json,png},
  errors.npz and the figures of :func:`draw` for the test split, ``<split>_results.json`` and
  ``<split>_errors.npz`` otherwise.

  Returns:
    dict: cameras, num_test_frames, models {label: {camera | 'mean': {metric: mm or fraction}}},
    with several views per frame also the keys of :func:`mvssl.metrics.multiview_decomposition`,
    triangulated {label: {metric: value}}, runs {label: name, report, order, description},
    when the test split names actions, actions {label: {action | 'mean of actions': {metric}}}
    (Protocol #1 / #2 per action over every frame and view, then the mean of the actions, as the
    literature reports Human3.6M), with several test subjects subjects {label: {subject:
    {metric}}}, when the P-GT file exists, pgt (its accuracy), and pairs (paired intervals of
    consecutive columns, :func:`paired`), per_joint {label: {joint: mm}}
    for per-view runs (root-aligned). The per-(frame, view) MPJPE and
    PA-MPJPE of every per-view run go to ``errors.npz`` (mm, [N, V]; NaN for a view not
    recorded) for paired statistics.
  Raises:
    ValueError: when ``split`` has frames without 3D labels.
  """
  d = ctx.split(split)
  if not np.all(d['has_pose_3d']):
    raise ValueError(f'[evaluate] split {split!r} has {int(np.sum(~d["has_pose_3d"]))} frames '
                     f'without 3D labels; it cannot be scored')
  gt = jnp.asarray(d['pose_3d'])
  seen = d['view_valid']
  results = dict(cameras=ctx.data.camera_names, num_test_frames=len(gt), models={},
                 triangulated={}, runs={})
  errors, drawn = {}, {}
  actions = d['action'] if 'action' in d and len(set(d['action'])) > 1 else None
  for run, label, name, root_from in _entries(ctx):
    try:
      pred = jnp.asarray(predictions(ctx, run, split, d, root_from))
    except FileNotFoundError as e:
      log.warning('[evaluate] skipping %s: %s', label, e)
      continue
    family = families.FAMILIES[run.family]
    if family.root_only:                                              # [N, V, 1, 3]
      per = {k: np.asarray(v) for k, v in metrics_lib.root_errors(
          pred, jnp.broadcast_to(gt[:, None, :1], pred.shape), jnp.asarray(d['cams'].R)).items()}
      results.setdefault('roots', {})[label] = _per_camera(per, seen, results['cameras'])
    elif family.per_view:                                             # [N, V, J, 3]
      gt_views = jnp.broadcast_to(gt[:, None], pred.shape)
      per = metrics_lib.all_metrics(pred, gt_views)
      if not family.root_relative:           # absolute poses: no alignment, MRPE per axis
        per.update(metrics_lib.absolute_metrics(pred, gt_views, jnp.asarray(d['cams'].R)))
      if pred.shape[1] > 1:                   # agreement and where the error lies (MVC's view)
        per.update(metrics_lib.multiview_decomposition(pred, gt, d['cams'].R, seen))
      per = {k: np.asarray(v) for k, v in per.items()}                 # [N, V] each
      results['models'][label] = _per_camera(per, seen, results['cameras'])
      for k in ('mpjpe', 'pa_mpjpe', 'abs_mpjpe', 'mrpe'):
        if k in per:
          errors[f'{name}/{k}'] = np.where(seen, per[k], np.nan)
      pj = figures.per_joint_errors(np.asarray(pred), d['pose_3d'], seen)
      results.setdefault('per_joint', {})[label] = dict(
          zip(figures.joint_names(len(pj)), (float(x) for x in pj)))
      if run.report == 'column':
        drawn[label] = (np.asarray(pred), errors[f'{name}/mpjpe'])
      if actions is not None:
        results.setdefault('actions', {})[label] = per_action(per, seen, actions)
      if len(set(d['subject'])) > 1:
        results.setdefault('subjects', {})[label] = {
            s: {k: float(np.mean(per[k][d['subject'] == s][seen[d['subject'] == s]]))
                for k in ('mpjpe', 'pa_mpjpe')} for s in sorted(set(d['subject']))}
    else:                                                             # [N, J, 3]
      results['triangulated'][label] = {
          k: float(np.mean(v)) for k, v in metrics_lib.all_metrics(pred, gt).items()}
      if 'images' in d:
        results.setdefault('views_2d', {})[label] = views_2d(ctx, run, d)
    described = runs_lib.describe(run, ctx.schedule(run))
    results['runs'][label] = dict(name=name, report=run.report, order=run.order,
                                  description=described + (f'; evaluated at the root depths of '
                                                           f'{root_from}' if root_from else ''),
                                  minutes=summaries.wall_minutes(os.path.join(ctx.workdir, name)))
  pgt_path = ctx.pgt_path()
  if os.path.exists(pgt_path):
    try:
      results['pgt'] = json.loads(str(stages.read_pgt(pgt_path)['accuracy']))
    except (ValueError, KeyError) as e:     # the models' scores are still written
      log.warning('[evaluate] P-GT accuracy left out: %s', e)
  errors[BLOCK] = blocks(d)
  results['pairs'] = paired(results, errors, ctx.config.pairs)
  if split == 'test':
    for mode in ctx.config.truncation.modes:
      results.setdefault('truncated', {})[mode] = truncated(ctx, f'{split}@{mode}')
    if int(ctx.config.crowd.people):
      results['crowd'] = crowd(ctx, f'{split}@crowd')
  if parallel.is_main_process():
    prefix = '' if split == 'test' else f'{split}_'
    np.savez(os.path.join(ctx.workdir, f'{prefix}errors.npz'), **errors)
    if split == 'test':
      report.write(results, ctx.workdir, title=ctx.config.title)
      draw(ctx, d, results, drawn)
    else:
      with open(os.path.join(ctx.workdir, f'{prefix}results.json'), 'w') as f:
        json.dump(results, f, indent=2)
  return results


def blocks(d: dict) -> np.ndarray:
  """[N] str: 'subject/sequence' of every frame of split ``d`` (consecutive frames of one
  sequence are not independent samples; mvssl.stats resamples these blocks whole)."""
  return np.array([f'{s}/{q}' for s, q in zip(d['subject'], d['sequence'])])


TRUNCATED_KEYS = ('mpjpe', 'pa_mpjpe', 'abs_mpjpe', 'mrpe', 'root_dz')
CROWD_KEYS = ('mpjpe', 'pa_mpjpe', 'abs_mpjpe', 'pck3d_abs', 'mrpe', 'root_dz')


def truncated(ctx: Context, split: str) -> dict:
  """Every run scored on a truncated split ('test@bottom', :mod:`mvssl.data.truncate`; its own
  ``<split>_results.json``): {'joints_outside': fraction of recorded (view, joint)s outside the
  crop, 'models': {label: {metric: mean}}, 'roots': {label: {metric: mean}}}."""
  r = evaluate(ctx, split)
  d = ctx.split(split)
  return dict(joints_outside=float(np.mean(d['joints_outside'][d['view_valid']])),
              models={m: {k: v['mean'][k] for k in TRUNCATED_KEYS if k in v['mean']}
                      for m, v in r['models'].items()},
              roots={m: v['mean'] for m, v in r.get('roots', {}).items()})


def crowd(ctx: Context, split: str) -> dict:
  """Every run scored on the multi-person scenes ('test@crowd', :mod:`mvssl.data.crowd`; its own
  ``<split>_results.json``), every person of every scene from its own box: {'people': persons per
  scene, 'crops': scored crops, 'people_in_crop': mean persons whose root falls in a crop,
  'models': {label: {metric: mean}} (CROWD_KEYS: absolute MPJPE and PCK3D_abs at 150 mm per
  person, MRPE), 'roots': {label: {metric: mean}}}."""
  r = evaluate(ctx, split)
  d = ctx.split(split)
  ok = d['view_valid']
  return dict(people=int(ctx.config.crowd.people), crops=int(np.sum(ok)),
              people_in_crop=float(np.mean(d['people_in_crop'][ok])),
              models={m: {k: v['mean'][k] for k in CROWD_KEYS if k in v['mean']}
                      for m, v in r['models'].items()},
              roots={m: v['mean'] for m, v in r.get('roots', {}).items()})


def views_2d(ctx: Context, run, d: dict) -> dict:
  """The 2D scores of a multi-view run's per-view stage on split ``d`` (every recorded view,
  both decoders): {decoder: {'px', 'pck@0.05', 'pck@0.1', 'pck@0.2', 'per_joint_px': {joint: px},
  'per_joint_pck@F': {joint: fraction}}} (:func:`mvssl.metrics.scores_2d`; PCK thresholds are
  fractions of the crop side, the box the crop was cut from)."""
  codec = ctx.codec(run)
  gt = np.asarray(codec.encode_split(d['cams'], d['pose_3d'])[0])[..., :2] * codec.stride
  names = figures.joint_names(gt.shape[-2])
  out = {}
  for decoder, pred in heatmap_family.predict_views_2d(ctx.restore(run.name), d, codec).items():
    s = metrics_lib.scores_2d(pred, gt, d['view_valid'], float(ctx.config.model.image_size))
    out[decoder] = {k: (dict(zip(names, map(float, v))) if k.startswith('per_joint') else v)
                    for k, v in s.items()}
  return out


def draw(ctx: Context, d: dict, results: dict, drawn: dict) -> None:
  """The evaluation's pictures (:mod:`mvssl.train.figures`): qualitative.png for the best /
  median / worst test frames of the last column run (e.g. Ours), per_joint.png, and these with
  results.png as TensorBoard images under ``WORKDIR/eval``. A figure that cannot be drawn is a
  warning: the scores are already written."""
  pngs = {'results': os.path.join(ctx.workdir, 'results.png')}
  try:
    if drawn and 'images' in d:                   # 2D-3D pairs (lifting) have no images
      reference = list(drawn)[-1]
      path = os.path.join(ctx.workdir, 'qualitative.png')
      chosen = figures.qualitative(path, d, {m: p for m, (p, _) in drawn.items()},
                                   drawn[reference][1], reference=reference,
                                   camera_names=results['cameras'], title=ctx.config.title)
      pngs['qualitative'] = path
      log.info('[evaluate] qualitative.png: %s', ', '.join(f'{n} frame {i}' for n, i in chosen))
    if results.get('per_joint'):
      path = os.path.join(ctx.workdir, 'per_joint.png')
      figures.per_joint(path, {m: np.array(list(v.values()))
                               for m, v in results['per_joint'].items()}, ctx.config.title)
      pngs['per_joint'] = path
  except (ValueError, OSError) as e:
    log.warning('[evaluate] figures not drawn: %s', e)
  events = summaries.Summaries(os.path.join(ctx.workdir, 'eval'), purge_step=0)
  try:
    for name, path in pngs.items():
      if os.path.exists(path):
        events.image(name, path)
  finally:
    events.close()


def pair_list(results: dict, pairs=()) -> list[tuple[str, str, str]]:
  """(label a, label b, metric) of ``config.pairs`` (run names; configs/default.py) whose runs
  were evaluated, or of consecutive 'column' runs with MPJPE when ``pairs`` is empty."""
  if not pairs:
    cols = report.labels(results, 'column')
    return [(a, b, 'mpjpe') for a, b in zip(cols[1:], cols[:-1])]
  label = {r['name']: m for m, r in results['runs'].items()}
  out = []
  for p in pairs:
    a, b, metric = (tuple(p) + ('mpjpe',))[:3]
    if a in label and b in label:
      out.append((label[a], label[b], metric))
  return out


def paired(results: dict, errors: dict, pairs=()) -> list[dict]:
  """Paired intervals (a - b, mm) of one evaluation (one seed: whole test sequences resampled,
  :func:`mvssl.stats.paired`) of the pairs of :func:`pair_list`: [{a, b, metric, mean, low,
  high, per_seed, seeds, blocks, frames, ...}]. ``errors`` holds 'block'."""
  runs = results['runs']
  return [dict(a=a, b=b, metric=k, **stats.paired_over_seeds(
      [errors], f'{runs[a]["name"]}/{k}', f'{runs[b]["name"]}/{k}'))
          for a, b, k in pair_list(results, pairs)]


def _per_camera(per: dict, seen: np.ndarray, cameras) -> dict:
  """{camera | 'mean': {metric: mean over the recorded (frame, view)s}} of per {metric: [N, V]}."""
  out = {cam: {k: _mean(v[seen[:, i], i], k) for k, v in per.items()}
         for i, cam in enumerate(cameras)}
  out['mean'] = {k: _mean(v[seen], k) for k, v in per.items()}
  return out


def _mean(values: np.ndarray, key: str) -> float:
  """Mean of a metric over (frame, view)s; the multi-view decomposition leaves out views with
  no other recorded view (NaN there), every other metric keeps a NaN (a diverged model shows)."""
  if key in metrics_lib.DECOMPOSITION:
    values = values[np.isfinite(values)]
    return float(np.mean(values)) if values.size else float('nan')
  return float(np.mean(values))


def per_action(per: dict, seen: np.ndarray, actions: np.ndarray) -> dict:
  """Mean MPJPE and PA-MPJPE per action over every recorded (frame, view), and their mean over
  actions. per: {metric: [N, V]}; seen [N, V] bool; actions [N] str."""
  out = {}
  for a in sorted(set(actions)):
    rows = actions == a
    out[a] = {k: float(np.mean(per[k][rows][seen[rows]])) for k in ('mpjpe', 'pa_mpjpe')}
  out['mean of actions'] = {k: float(np.mean([out[a][k] for a in sorted(set(actions))]))
                            for k in ('mpjpe', 'pa_mpjpe')}
  return out
