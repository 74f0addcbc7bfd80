"""The reproduction study's report (:mod:`mvssl.experiments.study`): study.md, study.json with
its provenance, and study.png (every row's paired interval against the reference)."""

from __future__ import annotations

import os

from mvssl import plots
from mvssl.train import report


def _cell(d: dict, key: str = 'mpjpe') -> str:
  if key not in d:
    return '-'
  m = d[key]
  return f'{m["mean"]:.1f} +- {m["std"]:.1f}' if m['std'] else f'{m["mean"]:.1f}'


def _delta(d: dict, per_seed: bool = False) -> str:
  if 'vs_reference' not in d:
    return '-'
  p = d['vs_reference']
  holm = ' (Holm)' if p.get('holm') else ''
  return report.interval(p, per_seed=per_seed) + holm


DECOMPOSED = (('consensus_mpjpe', "views' mean"), ('view_specific', 'view-specific'),
              ('lateral', 'lateral'), ('depth', 'depth'), ('pose_scale', 'pose scale'))


def markdown(out: dict, title: str) -> str:
  """The study as markdown: one table per group of variants, the per-seed differences, the
  pairs, then the choice."""
  v = out['variants']
  ref = v[out['reference']]['label'] if out['reference'] in v else out['reference']
  diag = out.get('diagnosis')
  lines = [f'# {title}', '',
           f'Seeds {", ".join(map(str, out["seeds"]))}; {out["num_test_frames"]} test frames; '
           f'validation: held-out labeled sequences ({out["num_validation_frames"]} frames), '
           'where every choice is made' +
           (f'; diagnosis: the hidden GT of the {diag} split ({out["num_diagnosis_frames"]} '
            'frames), never chosen on' if diag else '') +
           '. MPJPE in mm, mean +- std over the seeds a variant ran. Delta: MPJPE minus '
           f'{ref}\'s, seed-level paired interval (mvssl.stats.paired: seeds and whole '
           'sequences resampled, with the seed-level t-interval), 95%; * = excludes 0; '
           f'(Holm) = survives Holm\'s correction over the {out["comparisons"]} test '
           'comparisons of this study. Where the error lies (test, means over seeds, mm): the '
           "error of the views' mean pose, each view's distance to it, the error across the "
           'image and along the camera axis, and the pose scale (1 = the GT\'s).', '']
  if out.get('promoted'):
    lines += ['Best of each group on the validation split at the sweep seed(s), then run at every '
              'seed (with its partner where it has one): ' +
              ', '.join(v[n]['label'] for n in out['promoted'] if n in v) + '.', '']
  grouped = [(g, [n for n in rows if n in v]) for g, rows in out['groups']]
  listed = {n for _, rows in grouped for n in rows}
  rest = [n for n in v if n not in listed]
  if rest:
    grouped.append(('Other rows', rest))
  head = ['variant', 'seeds', 'test MPJPE', 'test delta', 'validation MPJPE', 'validation delta']
  head += (['hidden-GT delta'] if diag else []) + [h for _, h in DECOMPOSED] + ['min/run']
  for group, rows in grouped:
    if not rows:
      continue
    lines += [f'## {group}', '', '| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
    for n in rows:
      r = v[n]
      t = r['test']
      dec = [f'{t[k]["mean"]:.{3 if k == "pose_scale" else 1}f}' if k in t else '-'
             for k, _ in DECOMPOSED]
      cells = [r['label'], str(len(r['seeds'])), _cell(t), _delta(t), _cell(r['validation']),
               _delta(r['validation'])]
      if diag:
        cells.append('trained on it' if r['trains_on_validation'] else _delta(r['diagnosis']))
      lines.append('| ' + ' | '.join(cells + dec + [f'{r["minutes"]:.1f}']) + ' |')
    lines.append('')
  multi = [r for r in v.values() if len(r['test'].get('vs_reference', {}).get('per_seed', ()))
           > 1]
  if multi:
    lines += [f'## Per seed: test MPJPE minus {ref}\'s', '',
              '| variant | seeds | per-seed deltas | seed-level t-interval | hierarchical '
              'bootstrap |', '|---|---|---|---|---|']
    for r in multi:
      p = r['test']['vs_reference']
      lines.append(f'| {r["label"]} | {", ".join(map(str, p["seed_ids"]))} | ' +
                   ', '.join(f'{x:+.2f}' for x in p['per_seed']) +
                   f' | [{p["t_low"]:+.2f}, {p["t_high"]:+.2f}] | '
                   f'[{p["boot_low"]:+.2f}, {p["boot_high"]:+.2f}] |')
    lines.append('')
  if out['pairs']:
    lines += ['## Pairs', '', '| a - b | seeds | test delta | validation delta |',
              '|---|---|---|---|']
    lines += [f'| {p["a"]} - {p["b"]} | {len(p["test"]["seed_ids"])} | '
              f'{_delta(dict(vs_reference=p["test"]), per_seed=True)} | '
              f'{_delta(dict(vs_reference=p["validation"]))} |' for p in out['pairs']]
    lines.append('')
  if out['chosen']:
    c = v[out['chosen']]
    on = ', '.join(str(k) for k in out.get('chosen_on', []))
    lines.append(f'Chosen on the validation split among the candidate variants (mean MPJPE over '
                 f'seed(s) {on}, which every candidate ran): **{c["label"]}**; over all its '
                 f'seeds, validation MPJPE {_cell(c["validation"])} mm' +
                 (f', {_delta(c["validation"])} mm against {ref}'
                  if 'vs_reference' in c['validation'] else '') + '.')
  if 'mpjpe' in out['pgt']:
    lines.append(f'P-GT (G) vs the hidden GT of the unlabeled split (seed '
                 f'{out["seeds"][0]}): MPJPE {out["pgt"]["mpjpe"]:.1f} mm.')
  lines += ['', 'Runs:', ''] + [f'- {r["description"]}' for r in v.values()]
  return '\n'.join(lines) + '\n'


def write(out: dict, workdir: str, title: str) -> str:
  """study.md (printed too), study.json and study.png (the deltas with their intervals)."""
  text = markdown(out, title)
  report.write_files(workdir, 'study', text, out)
  v = out['variants']
  grouped = [n for _, names in out['groups'] for n in names if n in v]
  order = grouped + [n for n in v if n not in grouped]      # as the tables of study.md
  rows = [v[n] for n in order if 'vs_reference' in v[n]['test']]
  if rows:
    plots.intervals(
        [f'{r["label"]} ({len(r["test"]["vs_reference"]["seed_ids"])})' for r in rows],
        {role: [r[role].get('vs_reference') for r in rows] for role in ('test', 'validation')},
        os.path.join(workdir, 'study.png'),
        f'MPJPE minus {v[out["reference"]]["label"]} (mm), 95% seed-level paired intervals',
        xlabel='mm (< 0: better than the reference)')
  return text
