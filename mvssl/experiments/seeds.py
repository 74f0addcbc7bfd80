"""An experiment repeated over seeds (``config.seeds``): one workdir per seed
(``WORKDIR/seed_S``, resumable, datasets shared in ``WORKDIR/data``), then the table of every
reported run as mean +- std over seeds, and paired intervals of consecutive columns (e.g.
L1-only - Base, Ours - L1-only) on the seed-averaged per-(frame, view) errors ->
``WORKDIR/seeds.{md,json,png}``.

The seed changes the model initialisation, the data order and the augmentation; the data (and a
detector-noise draw) stay fixed.
"""

from __future__ import annotations

import logging
import os

import numpy as np

from mvssl import metrics
from mvssl import parallel
from mvssl import plots
from mvssl import stats
from mvssl.train import evaluate
from mvssl.train import report

log = logging.getLogger('mvssl')


def run(config, workdir: str, experiment) -> dict:
  """Runs ``experiment(config with seed S, WORKDIR/seed_S)`` for every S in ``config.seeds``
  and writes the aggregate (module docstring). Returns the aggregate dict."""
  per_seed = each_seed(config, workdir, experiment)
  out = aggregate(per_seed, {s: os.path.join(workdir, f'seed_{s}') for s in per_seed},
                  config.pairs)
  if parallel.is_main_process():
    write(out, workdir, config.title)
  return out


def each_seed(config, workdir: str, experiment) -> dict:
  """{S: ``experiment(config with seed S, WORKDIR/seed_S)``} for every S in ``config.seeds``
  (:func:`seed_config`), in order."""
  per_seed = {}
  for s in config.seeds:
    c = seed_config(config, workdir, s)
    log.info('[seeds] seed %d of %s', s, tuple(config.seeds))
    per_seed[int(s)] = experiment(c, os.path.join(workdir, f'seed_{s}'))
  return per_seed


def seed_config(config, workdir: str, seed: int):
  """A copy of ``config`` for one seed: ``seed`` set, ``seeds`` cleared, and datasets without
  their own data_dir shared in ``WORKDIR/data`` (built once for every seed)."""
  c = config.copy_and_resolve_references()
  with c.unlocked():
    c.seed, c.seeds = int(seed), ()
    for d in (c.data, c.unlabeled_data):
      if d is not None and 'data_dir' in d and not d.data_dir:
        d.data_dir = os.path.join(workdir, 'data')
  return c


def over_seeds(per_seed: dict, key: str, keys) -> dict:
  """{label: {camera: {metric: {mean, std}}}} of ``results[key]`` over seeds."""
  first = next(iter(per_seed.values()))
  out = {}
  for m in first.get(key, {}):
    out[m] = {}
    for cam in first[key][m]:
      out[m][cam] = {}
      for k in keys:
        if k in first[key][m][cam]:
          mean, std = stats.mean_std([r[key][m][cam][k] for r in per_seed.values()])
          out[m][cam][k] = dict(mean=mean, std=std)
  return out


def aggregate(per_seed: dict, workdirs: dict, pairs=()) -> dict:
  """Mean +- std over seeds of every per-camera number (absolute metrics and RootNet's MRPE where
  evaluated), and paired intervals of ``pairs`` (``config.pairs``; () = consecutive columns,
  MPJPE; module docstring)."""
  first = next(iter(per_seed.values()))
  runs = first['runs']
  out = dict(seeds=sorted(per_seed), cameras=first['cameras'],
             num_test_frames=first['num_test_frames'], pairs=[], runs=runs,
             models=over_seeds(per_seed, 'models',
                                ('mpjpe', 'pa_mpjpe') + metrics.DECOMPOSITION + metrics.ABSOLUTE))
  if 'roots' in first:
    out['roots'] = over_seeds(per_seed, 'roots', metrics.ABSOLUTE)
  for mode, t in first.get('truncated', {}).items():
    out.setdefault('truncated', {})[mode] = dict(
        joints_outside=dict(zip(('mean', 'std'), stats.mean_std(
            [r['truncated'][mode]['joints_outside'] for r in per_seed.values()]))),
        models={m: {k: dict(zip(('mean', 'std'), stats.mean_std(
            [r['truncated'][mode]['models'][m][k] for r in per_seed.values()])))
            for k in t['models'][m]} for m in t['models']})
  if 'crowd' in first:
    ms = lambda xs: dict(zip(('mean', 'std'), stats.mean_std(xs)))         # noqa: E731
    c = first['crowd']
    each = [r['crowd'] for r in per_seed.values()]
    out['crowd'] = dict(
        people=c['people'], crops=ms([e['crops'] for e in each]),
        people_in_crop=ms([e['people_in_crop'] for e in each]),
        models={m: {k: ms([e['models'][m][k] for e in each]) for k in c['models'][m]}
                for m in c['models']},
        roots={m: {k: ms([e['roots'][m][k] for e in each]) for k in c['roots'][m]}
               for m in c.get('roots', {})})
  errors = [np.load(os.path.join(w, 'errors.npz')) for w in workdirs.values()]
  for a, b, k in evaluate.pair_list(first, pairs):
    out['pairs'].append(dict(a=a, b=b, metric=k, **stats.paired_over_seeds(
        errors, f'{runs[a]["name"]}/{k}', f'{runs[b]["name"]}/{k}')))
  # training wall time per run (minutes, mean over seeds; summaries.wall_minutes)
  out['minutes'] = {m: stats.mean_std([r['runs'][m].get('minutes', np.nan)
                                       for r in per_seed.values()])[0] for m in runs}
  if 'pgt' in first and 'mpjpe' in first['pgt']:
    out['pgt_mpjpe'] = dict(zip(('mean', 'std'), stats.mean_std(
        [r['pgt']['mpjpe'] for r in per_seed.values()])))
  return out


def markdown(out: dict, title: str) -> str:
  """The aggregate as markdown: the per-camera table (mean +- std) and the paired intervals."""
  cols = report.labels(out, 'column')
  lines = [f'# {title}: {len(out["seeds"])} seeds ({", ".join(map(str, out["seeds"]))}), '
           f'{out["num_test_frames"]} test frames', '',
           'MPJPE / PA-MPJPE (mm), mean +- std over seeds.', '',
           '| camera | ' + ' | '.join(cols) + ' |', '|---' * (1 + len(cols)) + '|']
  def cell(r):
    return (f'{r["mpjpe"]["mean"]:.1f} +- {r["mpjpe"]["std"]:.1f} / '
            f'{r["pa_mpjpe"]["mean"]:.1f} +- {r["pa_mpjpe"]["std"]:.1f}')
  for cam in list(out['cameras']) + ['mean']:
    cells = [cell(out['models'][m][cam]) for m in cols]
    lines.append(f'| {cam} | ' + ' | '.join(cells) + ' |')
  if all('disagreement' in out['models'][m]['mean'] for m in cols):
    lines += ['', 'Means over seeds. ' + report.decomposition_table(
        [(m, {k: v['mean'] for k, v in out['models'][m]['mean'].items()}) for m in cols])]
  lines += ['', 'Paired differences, MPJPE unless named (mvssl.stats.paired: seeds and whole test '
            'sequences resampled, with the seed-level t-interval; 95%, * = excludes 0):', '']
  lines += [report.pair_line(p) for p in out['pairs']]
  absolute = [m for m in out['models'] if 'abs_mpjpe' in out['models'][m]['mean']]
  if absolute or out.get('roots'):
    ms = lambda r, k: f'{r[k]["mean"]:.1f} +- {r[k]["std"]:.1f}'          # noqa: E731
    lines += ['', 'Absolute poses, mean over cameras (mm; no alignment; MRPE per camera axis x, y, '
              'z = depth; root z bias: mean signed depth error, negative = too near), '
              'mean +- std over seeds:', '',
              '| model | MPJPE / PA-MPJPE | absolute MPJPE | MRPE | MRPE x / y / z | root z bias |',
              '|---|---|---|---|---|---|']
    dz = lambda r: ms(r, 'root_dz') if 'root_dz' in r else ''               # noqa: E731
    for m in absolute:
      r = out['models'][m]['mean']
      lines.append(f'| {m} | {r["mpjpe"]["mean"]:.1f} / {r["pa_mpjpe"]["mean"]:.1f} | '
                   f'{ms(r, "abs_mpjpe")} | {ms(r, "mrpe")} | {r["mrpe_x"]["mean"]:.1f} / '
                   f'{r["mrpe_y"]["mean"]:.1f} / {r["mrpe_z"]["mean"]:.1f} | {dz(r)} |')
    for m, per in out.get('roots', {}).items():
      r = per['mean']
      lines.append(f'| {m} (root alone) | | | {ms(r, "mrpe")} | {r["mrpe_x"]["mean"]:.1f} / '
                   f'{r["mrpe_y"]["mean"]:.1f} / {r["mrpe_z"]["mean"]:.1f} | {dz(r)} |')
  if out.get('truncated'):
    lines += ['', 'Mean +- std over seeds. ' + report.truncation_table(
        out['truncated'], out['models'], cell=lambda v: f'{v["mean"]:.1f} +- {v["std"]:.1f}')]
  if out.get('crowd'):
    lines += ['', 'Mean +- std over seeds. ' + report.crowd_table(
        out['crowd'], cell=lambda v: f'{v["mean"]:.1f} +- {v["std"]:.1f}')]
  if 'pgt_mpjpe' in out:
    lines += ['', f'P-GT vs hidden GT: MPJPE {out["pgt_mpjpe"]["mean"]:.1f} +- '
              f'{out["pgt_mpjpe"]["std"]:.1f} mm.']
  return '\n'.join(lines) + '\n'


def write(out: dict, workdir: str, title: str) -> str:
  """seeds.md (printed too), seeds.json and seeds.png in ``workdir``."""
  text = markdown(out, title)
  report.write_files(workdir, 'seeds', text, out)
  cols = report.labels(out, 'column')
  cams = list(out['cameras']) + ['mean']
  if cols:
    plots.grouped_bars(cams, {'MPJPE (mm), mean over seeds': {
        m: [out['models'][m][c]['mpjpe']['mean'] for c in cams] for m in cols}},
        os.path.join(workdir, 'seeds.png'), title)
  return text
