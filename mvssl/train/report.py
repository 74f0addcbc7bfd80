"""The paper's per-camera table: results.md (printed too), results.json and results.png."""

from __future__ import annotations

import json
import os

MODELS = ('Base', 'L1-only', 'Ours')
PRETRAIN = 'Base (pre-training only)'   # reported below the table, not a column


def table(results: dict) -> str:
  """Markdown table: per camera, MPJPE and PA-MPJPE (mm) of Base, L1-only and Ours."""
  models = [m for m in MODELS if m in results['models']]
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


def write(results: dict, workdir: str, title: str = 'mvssl') -> str:
  """Writes results.{md,json,png} into workdir, prints the markdown, returns it."""
  md = [f'# {title}: per-camera results on the test split ({results["num_test_frames"]} frames)',
        '', 'MPJPE (root-aligned, Protocol #1) and PA-MPJPE (Procrustes, Protocol #2), mm. '
        'All three models share the schedule: pre-training, then the same number of fine-tuning '
        'steps on GT only (Base), GT + P-GT with L1 (L1-only) or with L1 + 0.1 MVC (Ours).', '',
        table(results), '']
  extra = [(m, results['models'][m]['mean']) for m in MODELS + (PRETRAIN,)
           if m in results['models']]
  if extra:
    md += ['| model (mean over cameras) | MPJPE / PA-MPJPE | N-MPJPE | PCK3D@150 | AUC |',
           '|---|---|---|---|---|']
    md += [f'| {m} | {r["mpjpe"]:.1f} / {r["pa_mpjpe"]:.1f} | {r["n_mpjpe"]:.1f} | '
           f'{100 * r["pck3d"]:.1f} | {100 * r["auc"]:.1f} |' for m, r in extra]
    md.append('')
  if 'pgt' in results:
    p = results['pgt']
    md.append(f'P-GT vs hidden GT of the unlabeled split: MPJPE {p["mpjpe"]:.1f} mm, PA-MPJPE '
              f'{p["pa_mpjpe"]:.1f} mm, absolute (no root alignment) {p["abs_mpjpe"]:.1f} mm.')
  if 'G_test' in results:
    md.append(f'Multi-view model G (all views, triangulated) on the test split: MPJPE '
              f'{results["G_test"]["mpjpe"]:.1f} mm, PA-MPJPE {results["G_test"]["pa_mpjpe"]:.1f} mm.')
  text = '\n'.join(md) + '\n'
  with open(os.path.join(workdir, 'results.md'), 'w') as f:
    f.write(text)
  with open(os.path.join(workdir, 'results.json'), 'w') as f:
    json.dump(results, f, indent=2)
  _plot(results, os.path.join(workdir, 'results.png'), title)
  print(text, flush=True)
  return text


def _plot(results, path, title):
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  import numpy as np
  models = [m for m in MODELS if m in results['models']]
  if not models:
    return
  cams = list(results['cameras']) + ['mean']
  fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
  width = 0.8 / len(models)
  for ax, key in zip(axes, ('mpjpe', 'pa_mpjpe')):
    for i, m in enumerate(models):
      vals = [results['models'][m][c][key] for c in cams]
      ax.bar(np.arange(len(cams)) + i * width, vals, width, label=m)
    ax.set_xticks(np.arange(len(cams)) + width * (len(models) - 1) / 2, cams, fontsize=8)
    ax.set_ylabel(f'{key.upper().replace("_", "-")} (mm)')
    top = max(results['models'][m][c][key] for m in models for c in cams)
    ax.set_ylim(0, top * 1.25)
    ax.legend(fontsize=8, loc='upper center', ncol=len(models))
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)
