"""The paper's per-camera table from the run table's results: results.md (printed too),
results.json and results.png (written by :func:`write`, on process 0)."""

from __future__ import annotations

import json
import os

import numpy as np

from mvssl import plots
from mvssl import provenance


def labels(results: dict, report: str) -> list[str]:
  """The labels of the evaluated runs whose ``report`` is ``report``, in the table's order."""
  runs = results['runs']
  return [m for m in sorted(runs, key=lambda m: runs[m]['order'])
          if runs[m]['report'] == report and m in results['models']]


def table(results: dict) -> str:
  """Markdown table: per camera, MPJPE and PA-MPJPE (mm) of every 'column' run."""
  models = labels(results, 'column')
  head = '| camera | ' + ' | '.join(f'{m} MPJPE | {m} PA-MPJPE' for m in models) + ' |'
  sep = '|---' * (1 + 2 * len(models)) + '|'
  lines = [head, sep]
  for cam in list(results['cameras']) + ['mean']:
    cells = []
    for m in models:
      r = results['models'][m][cam]
      cells += [f'{r["mpjpe"]:.1f}', f'{r["pa_mpjpe"]:.1f}']
    lines.append(f'| {cam} | ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def per_action_table(results: dict) -> str:
  """Markdown: MPJPE / PA-MPJPE (mm) per action of every run with per-action results."""
  models = list(results['actions'])
  acts = list(next(iter(results['actions'].values())))
  lines = ['| action | ' + ' | '.join(f'{m} MPJPE / PA-MPJPE' for m in models) + ' |',
           '|---' * (1 + len(models)) + '|']
  for a in acts:
    lines.append(f'| {a} | ' + ' | '.join(
        f'{results["actions"][m][a]["mpjpe"]:.1f} / {results["actions"][m][a]["pa_mpjpe"]:.1f}'
        for m in models) + ' |')
  return '\n'.join(lines)


def truncation_table(truncated: dict, full: dict, cell=None) -> str:
  """Markdown: every per-view model on the full and on each truncated test split, MPJPE and
  (absolute poses) absolute MPJPE, mm. truncated {mode: {'joints_outside', 'models': {label:
  {metric: value}}}}; full {label: {'mean': {metric: value}}}; ``cell(value)`` formats a number
  (default one decimal; the seeds' aggregate passes its mean +- std)."""
  cell = cell or (lambda v: f'{v:.1f}')
  modes = list(truncated)
  lines = ['Truncated crops (mvssl.data.truncate; share of joints outside the crop: ' +
           ', '.join(f'{m} {_plain(truncated[m]["joints_outside"]):.1%}' for m in modes) +
           '): MPJPE / absolute MPJPE (root z bias) (mm; absolute only for absolute poses; the '
           'bias is the mean signed depth error of the root, negative = too near).', '',
           '| model | full crops | ' + ' | '.join(modes) + ' |', '|---' * (2 + len(modes)) + '|']
  for m in full:
    row = [full[m]['mean']] + [truncated[t]['models'].get(m, {}) for t in modes]
    lines.append(f'| {m} | ' + ' | '.join(
        cell(r['mpjpe']) + (f' / {cell(r["abs_mpjpe"])}' if 'abs_mpjpe' in r else '')
        + (f' ({cell(r["root_dz"])})' if 'root_dz' in r else '')
        if 'mpjpe' in r else '' for r in row) + ' |')
  return '\n'.join(lines)


def _dz(r) -> str:
  """The root z bias of a results row, signed, or '' where it was not measured."""
  return f'{r["root_dz"]:+.1f}' if 'root_dz' in r else ''


def crowd_table(crowd: dict, cell=None) -> str:
  """Markdown: every model on the multi-person scenes (:mod:`mvssl.data.crowd`), each person from
  its own box: MPJPE / PA-MPJPE and, for absolute poses, absolute MPJPE, PCK3D_abs@150 (%) and
  MRPE with its root z bias (mean signed depth error, negative = too near). crowd {'people',
  'crops', 'people_in_crop', 'models': {label: {metric: value}}, 'roots': {label: {metric:
  value}}}; ``cell`` as :func:`truncation_table`'s."""
  cell = cell or (lambda v: f'{v:.1f}')
  pct = lambda v: cell({k: 100 * x for k, x in v.items()} if isinstance(v, dict)   # noqa: E731
                       else 100 * v)
  lines = [f'Several people per frame (mvssl.data.crowd: {crowd["people"]} per scene, each '
           f'person cropped from its own GT box, {_plain(crowd["crops"]):.0f} crops; persons '
           f'whose root falls in a crop: {_plain(crowd["people_in_crop"]):.2f} on average), mm:',
           '', '| model | MPJPE / PA-MPJPE | absolute MPJPE | PCK3D_abs@150 (%) | MRPE | '
           'root z bias |', '|---|---|---|---|---|---|']
  dz = lambda r: cell(r['root_dz']) if 'root_dz' in r else ''                 # noqa: E731
  for m, r in crowd['models'].items():
    lines.append(f'| {m} | {cell(r["mpjpe"])} / {cell(r["pa_mpjpe"])} | ' + (
        f'{cell(r["abs_mpjpe"])} | {pct(r["pck3d_abs"])} | {cell(r["mrpe"])} | {dz(r)} |'
        if 'abs_mpjpe' in r else ' | | | |'))
  for m, r in crowd.get('roots', {}).items():
    lines.append(f'| {m} (root alone) | | | | {cell(r["mrpe"])} | {dz(r)} |')
  return '\n'.join(lines)


def _plain(v):
  """A number, or the mean of a {mean, std} cell."""
  return v['mean'] if isinstance(v, dict) else v


def decomposition_table(rows: list) -> str:
  """Markdown: where each model's error lies over the views of a frame (mean over cameras;
  :func:`mvssl.metrics.multiview_decomposition`). rows: [(label, per-camera 'mean' dict)]."""
  lines = ['Where the error lies (root-aligned, mm; mean over cameras): MPJPE of the mean of a '
           "frame's views, each view's distance to that mean, the error across the image and "
           "along the camera's axis, the views' disagreement (what L_MVC penalises), and the "
           'predicted size over the true one.', '',
           '| model | MPJPE | MPJPE of the views\' mean | view-specific | lateral | depth | '
           'disagreement | pose scale |', '|---' * 8 + '|']
  lines += [f'| {m} | {r["mpjpe"]:.1f} | {r["consensus_mpjpe"]:.1f} | {r["view_specific"]:.1f} | '
            f'{r["lateral"]:.1f} | {r["depth"]:.1f} | {r["disagreement"]:.1f} | '
            f'{r["pose_scale"]:.3f} |' for m, r in rows]
  return '\n'.join(lines)


METRIC_NAMES = dict(mpjpe='MPJPE', pa_mpjpe='PA-MPJPE', abs_mpjpe='absolute MPJPE', mrpe='MRPE')


def interval(p: dict, per_seed: bool = False) -> str:
  """'+0.12 [-0.05, +0.30]' of a paired comparison (:func:`mvssl.stats.paired`; mm), with ' *'
  when the interval excludes 0, and with ``per_seed`` the per-seed differences after it."""
  if not (np.isfinite(p['low']) and np.isfinite(p['high'])):
    text = f'{p["mean"]:+.2f} [no interval: one seed, one sequence]'
  else:
    mark = ' *' if p['high'] < 0 or p['low'] > 0 else ''
    text = f'{p["mean"]:+.2f} [{p["low"]:+.2f}, {p["high"]:+.2f}]{mark}'
  if per_seed and len(p.get('per_seed', ())) > 1:
    text += ' (per seed ' + ', '.join(f'{x:+.2f}' for x in p['per_seed']) + ')'
  return text


def pair_line(p: dict) -> str:
  """One markdown bullet for a paired comparison (:func:`mvssl.stats.paired`; mm)."""
  verdict = 'lower' if p['high'] < 0 else 'higher' if p['low'] > 0 else 'not different'
  metric = '' if p.get('metric', 'mpjpe') == 'mpjpe' else f' ({METRIC_NAMES[p["metric"]]})'
  seeds = f'{p["seeds"]} seed{"s" if p["seeds"] > 1 else ""}, ' if 'seeds' in p else ''
  return (f'- {p["a"]} - {p["b"]}{metric}: {interval(p, per_seed=True)} mm ({seeds}'
          f'{p.get("blocks", p["frames"])} sequences, {p["frames"]} frames): {p["a"]} is '
          f'{verdict}')


def markdown(results: dict, title: str = 'mvssl') -> str:
  """The whole report as markdown (see :func:`write`)."""
  md = [f'# {title}: per-camera results on the test split ({results["num_test_frames"]} frames)',
        '', 'MPJPE (root-aligned, Protocol #1) and PA-MPJPE (Procrustes, Protocol #2), mm.', '',
        table(results), '']
  if results.get('pairs'):
    md += ['Paired differences (MPJPE unless named), this run (one seed: the interval covers '
           'the test sequences, not another training run; whole sequences resampled, 95%):',
           ''] + [pair_line(p) for p in results['pairs']] + ['']
  extra = [(m, results['models'][m]['mean'])
           for m in labels(results, 'column') + labels(results, 'below')]
  if extra:
    md += ['| model (mean over cameras) | MPJPE / PA-MPJPE | N-MPJPE | PCK3D@150 | AUC |',
           '|---|---|---|---|---|']
    md += [f'| {m} | {r["mpjpe"]:.1f} / {r["pa_mpjpe"]:.1f} | {r["n_mpjpe"]:.1f} | '
           f'{100 * r["pck3d"]:.1f} | {100 * r["auc"]:.1f} |' for m, r in extra]
    if all('disagreement' in r for _, r in extra):
      md += ['', decomposition_table(extra)]
    md.append('')
  absolute = [(m, r) for m, r in extra if 'abs_mpjpe' in r]
  if absolute or results.get('roots'):
    md += ['Absolute poses (no alignment; MRPE: root position error, |error| per camera axis x, '
           'y, z = depth; root z bias: the mean signed depth error, negative = too near), mm, '
           'mean over cameras. The integral model\'s root depth is the GT\'s '
           '(its root z error is its own relative depth of the root) unless "+ RootNet":', '',
           '| model | absolute MPJPE | PCK3D_abs@150 (%) | MRPE | MRPE x / y / z | root z bias |',
           '|---|---|---|---|---|---|']
    md += [f'| {m} | {r["abs_mpjpe"]:.1f} | {100 * r["pck3d_abs"]:.1f} | {r["mrpe"]:.1f} | '
           f'{r["mrpe_x"]:.1f} / {r["mrpe_y"]:.1f} / {r["mrpe_z"]:.1f} | {_dz(r)} |'
           for m, r in absolute]
    md += [f'| {m} (root alone) | | | {r["mean"]["mrpe"]:.1f} | {r["mean"]["mrpe_x"]:.1f} / '
           f'{r["mean"]["mrpe_y"]:.1f} / {r["mean"]["mrpe_z"]:.1f} | {_dz(r["mean"])} |'
           for m, r in results.get('roots', {}).items()]
    md.append('')
  if results.get('truncated'):
    md += [truncation_table(results['truncated'], results['models']), '']
  if results.get('crowd'):
    md += [crowd_table(results['crowd']), '']
  if 'pgt' in results and 'mpjpe' in results['pgt']:
    p = results['pgt']
    md.append(f'P-GT vs hidden GT of the unlabeled split: MPJPE {p["mpjpe"]:.1f} mm, PA-MPJPE '
              f'{p["pa_mpjpe"]:.1f} mm, absolute (no root alignment) {p["abs_mpjpe"]:.1f} mm.')
  for m, r in results['triangulated'].items():
    md.append(f'{m} (multi-view, all views triangulated) on the test split: MPJPE '
              f'{r["mpjpe"]:.1f} mm, PA-MPJPE {r["pa_mpjpe"]:.1f} mm.')
  for m, per in results.get('views_2d', {}).items():
    md.append(f'{m}, its per-view 2D stage on the test split (crop px; PCK of the crop side): ' +
              '; '.join(f'{dec} {r["px"]:.2f} px, PCK@0.05/0.1/0.2 {100 * r["pck@0.05"]:.1f} / '
                        f'{100 * r["pck@0.1"]:.1f} / {100 * r["pck@0.2"]:.1f} %'
                        for dec, r in per.items()) + '.')
  if 'actions' in results:
    md += ['', per_action_table(results)]
  if 'subjects' in results:
    md += ['', 'Per test subject, MPJPE / PA-MPJPE (mm): ' + '; '.join(
        f'{m}: ' + ', '.join(f'{s} {r["mpjpe"]:.1f} / {r["pa_mpjpe"]:.1f}' for s, r in per.items())
        for m, per in results['subjects'].items())]
  runs = results['runs']
  md += ['', 'Runs:', ''] + [f'- {runs[m]["description"]}'
                             for m in sorted(runs, key=lambda m: runs[m]['order'])]
  return '\n'.join(md) + '\n'


def write_files(workdir: str, stem: str, text: str, data: dict) -> None:
  """Writes a report's markdown ``stem.md`` and data ``stem.json`` into workdir and prints the
  markdown. The JSON carries its provenance (:mod:`mvssl.provenance`): ``made_by``, every
  command run in the workdir (what trained the models), and ``written_by``, this process."""
  with open(os.path.join(workdir, f'{stem}.md'), 'w') as f:
    f.write(text)
  data = dict(data, provenance=dict(made_by=provenance.history_of(workdir),
                                    written_by=provenance.collect(data.get('seeds'))))
  with open(os.path.join(workdir, f'{stem}.json'), 'w') as f:
    json.dump(data, f, indent=2)
  print(text, flush=True)


def write(results: dict, workdir: str, title: str = 'mvssl') -> str:
  """Writes results.{md,json,png} into workdir, prints the markdown, returns it."""
  text = markdown(results, title)
  write_files(workdir, 'results', text, results)
  models = labels(results, 'column')
  if models:
    cams = list(results['cameras']) + ['mean']
    plots.grouped_bars(cams, {
        f'{key.upper().replace("_", "-")} (mm)': {
            m: [results['models'][m][c][key] for c in cams] for m in models}
        for key in ('mpjpe', 'pa_mpjpe')}, os.path.join(workdir, 'results.png'), title)
  return text
