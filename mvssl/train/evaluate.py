"""Stage ``evaluate``: every reported run of the table on the test split -> results.{md,json,png}.

Per-view families (the integral model) are scored per camera: each view's prediction mapped to
world with the GT root depth (Pi), MPJPE / PA-MPJPE / N-MPJPE / PCK3D / AUC, views a camera did
not record left out. Multi-view families (G) are scored on their triangulated pose. The P-GT's
own accuracy (against the hidden GT, where the unlabeled data has one) is added when present.
"""

from __future__ import annotations

import json
import logging
import os

import jax.numpy as jnp
import numpy as np

from mvssl import metrics as metrics_lib
from mvssl import parallel
from mvssl.train import families
from mvssl.train import report
from mvssl.train import runs as runs_lib
from mvssl.train.context import Context

log = logging.getLogger('mvssl')


def evaluate(ctx: Context) -> dict:
  """Scores every finished run whose ``report`` is not 'none' (unfinished ones are skipped with
  a warning) and writes the report (process 0).

  Returns:
    dict: cameras, num_test_frames, models {label: {camera | 'mean': {metric: mm or fraction}}},
    with several views per frame also the keys of :func:`mvssl.metrics.multiview_decomposition`,
    triangulated {label: {metric: value}}, runs {label: name, report, order, description},
    when the test split names actions, actions {label: {action | 'mean of actions': {metric}}}
    (Protocol #1 / #2 per action over every frame and view, then the mean of the actions, as the
    literature reports Human3.6M), with several test subjects subjects {label: {subject:
    {metric}}}, and, when the P-GT file exists, pgt (its accuracy). The
    per-(frame, view) MPJPE and PA-MPJPE of every per-view run go to ``errors.npz`` (mm,
    [N, V]; NaN for a view not recorded) for paired statistics.
  """
  d = ctx.split('test')
  gt = jnp.asarray(d['pose_3d'])
  seen = d['view_valid']
  results = dict(cameras=ctx.data.camera_names, num_test_frames=len(gt), models={},
                 triangulated={}, runs={})
  errors = {}
  actions = d['action'] if 'action' in d and len(set(d['action'])) > 1 else None
  for run in sorted(ctx.runs.values(), key=lambda r: (r.order, r.name)):
    if run.report == 'none':
      continue
    try:
      state = ctx.restore(run.name)
    except FileNotFoundError as e:
      log.warning('[evaluate] skipping %s: %s', run.label, e)
      continue
    family = families.FAMILIES[run.family]
    pred = jnp.asarray(family.predict(state, d, ctx.codec(run)))
    if family.per_view:                                               # [N, V, J, 3]
      per = metrics_lib.all_metrics(pred, jnp.broadcast_to(gt[:, None], pred.shape))
      if pred.shape[1] > 1:                   # agreement and where the error lies (MVC's view)
        per.update(metrics_lib.multiview_decomposition(pred, gt, d['cams'].R, seen))
      per = {k: np.asarray(v) for k, v in per.items()}                 # [N, V] each
      results['models'][run.label] = {
          cam: {k: _mean(v[seen[:, i], i], k) for k, v in per.items()}
          for i, cam in enumerate(results['cameras'])}
      results['models'][run.label]['mean'] = {k: _mean(v[seen], k) for k, v in per.items()}
      for k in ('mpjpe', 'pa_mpjpe'):
        errors[f'{run.name}/{k}'] = np.where(seen, per[k], np.nan)
      if actions is not None:
        results.setdefault('actions', {})[run.label] = per_action(per, seen, actions)
      if len(set(d['subject'])) > 1:
        results.setdefault('subjects', {})[run.label] = {
            s: {k: float(np.mean(per[k][d['subject'] == s][seen[d['subject'] == s]]))
                for k in ('mpjpe', 'pa_mpjpe')} for s in sorted(set(d['subject']))}
    else:                                                             # [N, J, 3]
      results['triangulated'][run.label] = {
          k: float(np.mean(v)) for k, v in metrics_lib.all_metrics(pred, gt).items()}
    results['runs'][run.label] = dict(name=run.name, report=run.report, order=run.order,
                                      description=runs_lib.describe(run, ctx.schedule(run)))
  pgt_path = ctx.pgt_path()
  if os.path.exists(pgt_path):
    results['pgt'] = json.loads(str(np.load(pgt_path)['accuracy']))
  if parallel.is_main_process():
    np.savez(os.path.join(ctx.workdir, 'errors.npz'), **errors)
    report.write(results, ctx.workdir, title=ctx.config.title)
  return results


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
