"""Every results table and number in the docs, generated from the committed results files.

  python tools/docs.py              # rewrite every generated block of README.md and docs/*.md
  python tools/docs.py --check      # exit 1 (naming each page and block) when one differs
  python tools/docs.py export NAME WORKDIR/FILE.json   # copy a run's results into docs/results

A page marks what is generated::

  <!-- generated: study.table -->
  (rewritten by this tool)
  <!-- /generated -->

and inline, inside a sentence, ``<!-- value: study.chosen -->...<!-- /value -->``. Each name
is a function of :data:`BLOCKS` reading ``docs/results/<file>.json``; a file that is missing
renders as a line saying so, never as a number. ``export`` refuses a results file without its
provenance (:mod:`mvssl.provenance`). tests/docs_test.py runs ``--check``, and fails on a
measured number (mm, %, px, min, s, x) written by hand outside the generated parts of a page.
"""

from __future__ import annotations

import difflib
import glob
import json
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from mvssl.train import report  # noqa: E402

RESULTS = os.path.join(ROOT, 'docs', 'results')
PAGES = ['README.md'] + sorted(
    os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, 'docs', '**', '*.md'),
                                                recursive=True))
BLOCK = re.compile(r'(<!-- generated: ([\w.\-]+) -->\n)(.*?)(<!-- /generated -->)', re.S)
VALUE = re.compile(r'(<!-- value: ([\w.\-]+) -->)(.*?)(<!-- /value -->)', re.S)


class Missing(Exception):
  """A results file the block needs is not there."""


def load(name: str) -> dict:
  path = os.path.join(RESULTS, f'{name}.json')
  if not os.path.exists(path):
    raise Missing(name)
  with open(path) as f:
    return json.load(f)


def _short(p: dict) -> str:
  """One line of provenance: commit, lock, device, seeds, and the last command that wrote it (it
  reproduces the whole file: earlier commands in its workdir are its subsets)."""
  made = p.get('made_by') or [p.get('written_by', {})]
  last = made[-1]
  commits = sorted({m.get('commit', 'unknown')[:7] + ('+dirty' if m.get('dirty') else '')
                    for m in made})
  lock = last.get('lock', '')
  return (f'commit {", ".join(commits)}, lock {lock[7:19] if lock else "none"}, '
          f'{last.get("device", "?")}, JAX {last.get("packages", {}).get("jax", "?")}, '
          f'`{last.get("command", "?")}`')


def _ms(c: dict, digits: int = 1) -> str:
  """'mean +- std' of a {mean, std} cell."""
  return f'{c["mean"]:.{digits}f} +- {c["std"]:.{digits}f}'


# ---------------------------------------------------------------------------------- the study


STUDY_ROWS = (('base_gt', 'Base (GT only)'), ('l1_only', 'L1-only (GT + P-GT)'),
              ('ours', 'Ours, lambda 0.1 (the paper)'))


def _study_rows(out: dict, extra=('ours_depth', 'mvc_only')) -> list[str]:
  v = out['variants']
  names = [n for n, _ in STUDY_ROWS]
  if out.get('chosen') and out['chosen'] not in names:
    names.append(out['chosen'])
  names += [n for n in extra if n in v and n not in names]
  return [n for n in names if n in v]


def _label(out: dict, name: str) -> str:
  text = dict(STUDY_ROWS).get(name, out['variants'][name]['label'])
  return text + (' (chosen on validation)' if name == out.get('chosen') else '')


def _delta_cell(c: dict | None) -> str:
  if not c:
    return '-'
  return report.interval(c) + (' (Holm)' if c.get('holm') else '')


def study_headline(name: str = 'study') -> str:
  """The README's table: the study's decisive rows, test split."""
  out = load(name)
  ref = out['variants'][out['reference']]['label']
  lines = [f'| model | seeds | test MPJPE (mm) | minus {ref} (mm, 95%) | per seed |',
           '|---|---|---|---|---|']
  for n in _study_rows(out):
    r = out['variants'][n]
    t = r['test']
    vs = t.get('vs_reference')
    lines.append(f'| {_label(out, n)} | {len(r["seeds"])} | {_ms(t["mpjpe"])} | '
                 f'{_delta_cell(vs)} | ' +
                 (', '.join(f'{x:+.2f}' for x in vs['per_seed']) if vs else '-') + ' |')
  lines += ['', f'{out["num_test_frames"]} test frames x 4 cameras of S9, S11; renders without '
            f'the depth cue; intervals: seeds and whole test sequences resampled with the '
            f'seed-level t-interval (docs/statistics.md); * = excludes 0; (Holm) = survives '
            f'Holm\'s correction over the study\'s {out["comparisons"]} comparisons. Source: '
            f'`docs/results/{name}.json` ({_short(out["provenance"])}).']
  return '\n'.join(lines)


def study_table(name: str = 'study') -> str:
  """Every row of a study: test, validation, diagnosis, where the error lies."""
  out = load(name)
  v = out['variants']
  diag = bool(out.get('diagnosis'))
  head = ['model', 'seeds', 'test MPJPE', 'test: minus L1-only', 'validation: minus L1-only']
  head += (['hidden GT: minus L1-only'] if diag else [])
  head += ["views' mean", 'view-specific', 'lateral', 'depth', 'pose scale', 'min/run']
  lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
  order = [n for _, rows in out['groups'] for n in rows if n in v]
  for n in order + [n for n in v if n not in order]:
    r = v[n]
    t = r['test']
    cells = [_label(out, n), str(len(r['seeds'])), _ms(t['mpjpe']),
             _delta_cell(t.get('vs_reference')),
             _delta_cell(r['validation'].get('vs_reference'))]
    if diag:
      cells.append('trained on it' if r['trains_on_validation'] else
                   _delta_cell(r['diagnosis'].get('vs_reference')))
    cells += [f'{t[k]["mean"]:.{3 if k == "pose_scale" else 1}f}' if k in t else '-'
              for k in ('consensus_mpjpe', 'view_specific', 'lateral', 'depth', 'pose_scale')]
    cells.append(f'{r["minutes"]:.1f}')
    lines.append('| ' + ' | '.join(cells) + ' |')
  pairs = [p for p in out['pairs']]
  if pairs:
    lines += ['', '| pair | seeds | test | validation |', '|---|---|---|---|']
    lines += [f'| {p["a"]} - {p["b"]} | {p["test"]["seeds"]} | {_delta_cell(p["test"])} | '
              f'{_delta_cell(p["validation"])} |' for p in pairs]
  lines += ['', f'Source: `docs/results/{name}.json` ({_short(out["provenance"])}).']
  return '\n'.join(lines)


def study_per_seed(name: str = 'study') -> str:
  """Per-seed test differences against the reference, with both halves of the interval."""
  out = load(name)
  lines = ['| model | seeds | per-seed differences (mm) | seed-level t | hierarchical bootstrap '
           '| reported |', '|---|---|---|---|---|---|']
  for n in _study_rows(out, extra=[k for k in out['variants']]):
    c = out['variants'][n]['test'].get('vs_reference')
    if not c:
      continue
    lines.append(f'| {_label(out, n)} | {", ".join(map(str, c["seed_ids"]))} | ' +
                 ', '.join(f'{x:+.2f}' for x in c['per_seed']) +
                 f' | [{c["t_low"]:+.2f}, {c["t_high"]:+.2f}] | '
                 f'[{c["boot_low"]:+.2f}, {c["boot_high"]:+.2f}] | {_delta_cell(c)} |')
  return '\n'.join(lines)


def study_cue(off: str = 'study', on: str = 'study_depth_cue') -> str:
  """The depth cue's effect: the same comparisons with the cue off and on."""
  a, b = load(off), load(on)
  lines = ['| comparison (test MPJPE, mm) | renders without the cue | renders with the depth '
           'cue |', '|---|---|---|']
  for n in _study_rows(a):
    ra, rb = a['variants'].get(n), b['variants'].get(n)
    if ra is None or rb is None:
      continue
    lines.append(f'| {_label(a, n)} | {_ms(ra["test"]["mpjpe"])} | {_ms(rb["test"]["mpjpe"])} |')
  for n in _study_rows(a):
    ca = a['variants'].get(n, {}).get('test', {}).get('vs_reference')
    cb = b['variants'].get(n, {}).get('test', {}).get('vs_reference')
    if ca and cb:
      lines.append(f'| {_label(a, n)} minus L1-only | {_delta_cell(ca)} | {_delta_cell(cb)} |')
  for p in a['pairs']:
    q = next((q for q in b['pairs'] if (q['a'], q['b']) == (p['a'], p['b'])), None)
    if q:
      lines.append(f'| {p["a"]} minus {p["b"]} | {_delta_cell(p["test"])} | '
                   f'{_delta_cell(q["test"])} |')
  lines += ['', f'Sources: `docs/results/{off}.json`, `docs/results/{on}.json` '
            f'({_short(b["provenance"])}).']
  return '\n'.join(lines)


def study_chosen(name: str = 'study') -> str:
  out = load(name)
  return out['variants'][out['chosen']]['label'] if out.get('chosen') else 'none'


def _at_seeds(r: dict, role: str, seeds: list) -> float:
  """A row's mean MPJPE on a split over the given seeds (those it ran)."""
  m = r[role]['mpjpe']
  return float(sum(x for k, x in zip(r['seeds'], m['per_seed']) if k in seeds)
               / max(1, sum(1 for k in r['seeds'] if k in seeds)))


def study_forms(name: str) -> str:
  """A weight grid per form (configs/lifting.py:b_grid): each form's validation MPJPE at every
  weight of the grid (the seeds the choice was made on), the weight the study chose there (its
  ``group_choices``), and that row on the test split at every seed against L1-only and against
  the paper's form at lambda 0.1."""
  out = load(name)
  v, on = out['variants'], out['chosen_on'] or out['seeds'][:1]
  pairs = {(p['a'], p['b']): p for p in out['pairs']}
  paper = v['ours']['label']
  grid = [(g, rows) for g, rows in out['groups'] if g != 'Baselines']   # one group per form
  weights = [v[n]['label'].rsplit('lambda ', 1)[-1] for n in grid[0][1]]
  head = (['form'] + [f'validation, lambda {w}' for w in weights] +
          ['chosen', 'seeds', 'test MPJPE', 'minus L1-only', f'minus {paper}', "views' mean",
           'view-specific', 'depth', 'pose scale', 'min/run'])
  lines = ['| ' + ' | '.join(head) + ' |', '|---' * len(head) + '|']
  for group, rows in grid:
    rows = [n for n in rows if n in v]
    val = {n: _at_seeds(v[n], 'validation', on) for n in rows}
    best = out['group_choices'][group]
    r, t = v[best], v[best]['test']
    vs_paper = pairs.get((v[best]['label'], paper))
    cells = ([v[rows[0]]['label'].rsplit(', lambda', 1)[0]] +
             [f'{val[n]:.1f}' for n in rows] +
             [weights[rows.index(best)], str(len(r['seeds'])), _ms(t['mpjpe']),
              _delta_cell(t.get('vs_reference')),
              _delta_cell(vs_paper['test']) if vs_paper else '-'] +
             [f'{t[k]["mean"]:.{3 if k == "pose_scale" else 1}f}' if k in t else '-'
              for k in ('consensus_mpjpe', 'view_specific', 'depth', 'pose_scale')] +
             [f'{r["minutes"]:.1f}'])
    lines.append('| ' + ' | '.join(cells) + ' |')
  lines += ['', f'Chosen on the validation split (seed{"s"[:len(on) > 1]} '
            f'{", ".join(map(str, on))}); test at '
            f'every seed the chosen row ran; Holm over the {out["comparisons"]} comparisons of '
            f'the run. Source: `docs/results/{name}.json` ({_short(out["provenance"])}).']
  return '\n'.join(lines)


# ------------------------------------------------------------------------- seeds aggregates


def seeds_table(name: str, metrics=('mpjpe', 'pa_mpjpe')) -> str:
  """Mean over cameras, mean +- std over seeds, of every reported model of a seeds.json."""
  out = load(name)
  cols = [m for m in out['models'] if all(k in out['models'][m]['mean'] for k in metrics)]
  names = dict(mpjpe='MPJPE', pa_mpjpe='PA-MPJPE', abs_mpjpe='absolute MPJPE', mrpe='MRPE',
               consensus_mpjpe="views' mean", view_specific='view-specific', lateral='lateral',
               depth='depth', disagreement='disagreement', pose_scale='pose scale')
  minutes = out.get('minutes', {})                 # results files from before lack it
  lines = ['| model | ' + ' | '.join(names[k] for k in metrics) +
           (' | min/run' if minutes else '') + ' |',
           '|---' * (1 + len(metrics) + bool(minutes)) + '|']
  for m in cols:
    r = out['models'][m]['mean']
    lines.append(f'| {m} | ' + ' | '.join(
        _ms(r[k], 3 if k == 'pose_scale' else 1) for k in metrics) +
        (f' | {_minutes_cell(minutes.get(m))}' if minutes else '') + ' |')
  extra = f'; P-GT vs hidden GT {_ms(out["pgt_mpjpe"])} mm' if 'pgt_mpjpe' in out else ''
  lines += ['', f'{len(out["seeds"])} seeds, {out["num_test_frames"]} test frames, mean over '
            f'cameras, mm{extra}. Source: `docs/results/{name}.json` '
            f'({_short(out["provenance"])}).']
  return '\n'.join(lines)


def _minutes_cell(x) -> str:
  """Training minutes per run, '-' for a row that trains nothing of its own (a network placed
  at another run's root)."""
  return '-' if x is None or x != x else f'{x:.1f}'


def seeds_pairs(name: str) -> str:
  """The paired comparisons of a seeds.json."""
  out = load(name)
  lines = ['| comparison | metric | difference (mm, 95%) | per seed |', '|---|---|---|---|']
  fam = out['pairs']
  from mvssl import stats   # noqa: PLC0415
  keep = stats.holm([p['p'] for p in fam]) if fam and all('p' in p for p in fam) else []
  for i, p in enumerate(fam):
    mark = ' (Holm)' if keep and keep[i] else ''
    lines.append(f'| {p["a"]} - {p["b"]} | {report.METRIC_NAMES[p.get("metric", "mpjpe")]} | '
                 f'{report.interval(p)}{mark} | ' +
                 ', '.join(f'{x:+.2f}' for x in p.get('per_seed', ())) + ' |')
  lines += ['', f'{len(fam)} comparisons; (Holm) = survives Holm\'s correction over them.']
  return '\n'.join(lines)


def seeds_decomposition(name: str) -> str:
  return seeds_table(name, ('mpjpe', 'consensus_mpjpe', 'view_specific', 'lateral', 'depth',
                            'disagreement', 'pose_scale'))


def absolute_table(name: str = 'absolute') -> str:
  out = load(name)
  lines = ['| model | MPJPE | absolute MPJPE | MRPE | MRPE x / y / z | root z bias |',
           '|---|---|---|---|---|---|']
  for m, per in out['models'].items():
    r = per['mean']
    if 'abs_mpjpe' not in r:
      lines.append(f'| {m} | {_ms(r["mpjpe"])} | | | | |')
      continue
    lines.append(f'| {m} | {_ms(r["mpjpe"])} | {_ms(r["abs_mpjpe"])} | {_ms(r["mrpe"])} | '
                 f'{r["mrpe_x"]["mean"]:.1f} / {r["mrpe_y"]["mean"]:.1f} / '
                 f'{r["mrpe_z"]["mean"]:.1f} | ' +
                 (_ms(r['root_dz']) if 'root_dz' in r else '') + ' |')
  for m, per in out.get('roots', {}).items():
    r = per['mean']
    lines.append(f'| {m} (root alone) | | | {_ms(r["mrpe"])} | {r["mrpe_x"]["mean"]:.1f} / '
                 f'{r["mrpe_y"]["mean"]:.1f} / {r["mrpe_z"]["mean"]:.1f} | ' +
                 (_ms(r['root_dz']) if 'root_dz' in r else '') + ' |')
  lines += ['', f'{len(out["seeds"])} seeds, {out["num_test_frames"]} test frames, mean over '
            f'cameras, mm. Source: `docs/results/{name}.json` ({_short(out["provenance"])}).']
  return '\n'.join(lines)


def lifting_actions(name: str = 'lifting_a') -> str:
  """Protocol (a): Protocol #1 / #2, mean of the 15 actions (a single run's results.json)."""
  out = load(name)
  lines = ['| model | MPJPE (P1) | PA-MPJPE (P2) |', '|---|---|---|']
  for m, acts in out.get('actions', {}).items():
    r = acts['mean of actions']
    lines.append(f'| {m} | {r["mpjpe"]:.1f} | {r["pa_mpjpe"]:.1f} |')
  lines += ['', f'Mean of the actions, every test frame and camera. Source: '
            f'`docs/results/{name}.json` ({_short(out["provenance"])}).']
  return '\n'.join(lines)


# --------------------------------------------------------------------------- single runs


def run_table(name: str) -> str:
  """A single run's per-camera table (results.json, as its results.md has it)."""
  out = load(name)
  return (report.table(out) + f'\n\n{out["num_test_frames"]} test frames, mm. Source: '
          f'`docs/results/{name}.json` ({_short(out["provenance"])}).')


def clones(a: str = 'default_clone_a', b: str = 'default_clone_b') -> str:
  """Two fresh clones' default tables side by side, and whether they agree to the digit."""
  ra, rb = load(a), load(b)
  ta, tb = report.table(ra), report.table(rb)
  same = 'identical to every printed digit' if ta == tb else 'different'
  mean = lambda r: ' / '.join(f'{r["models"][m]["mean"]["mpjpe"]:.1f}'  # noqa: E731
                              for m in report.labels(r, 'column'))
  cols = ' / '.join(report.labels(ra, 'column'))
  return (f'| clone | {cols} MPJPE (mean over cameras, mm) | commit | created |\n'
          f'|---|---|---|---|\n' +
          '\n'.join(f'| {k} | {mean(r)} | {r["provenance"]["made_by"][0]["commit"][:7]} | '
                    f'{r["provenance"]["made_by"][0]["created"]} |'
                    for k, r in (('first', ra), ('second', rb))) +
          f'\n\nThe two per-camera tables are {same}.')


def pose2sim(name: str, key: str = 'models') -> str:
  """The Pose2Sim recording's per-view table (pose2sim_results.json), fine-tuned or held-out
  frames; under the held-out one, the seed-level comparisons where the run had seeds."""
  from mvssl.experiments import pose2sim as p2s   # noqa: PLC0415
  out = load(name)
  pairs = p2s.comparison_lines(out) if key == 'heldout_models' else []
  lines = p2s.table(out, key, reproj=key == 'models') + ([''] + pairs if pairs else [])
  return '\n'.join(lines) + (
      f'\n\nSource: `docs/results/{name}.json` ({_short(out["provenance"])}).')


def dropout_spread(name: str = 'dropout_spread') -> str:
  """tools/dropout_spread.py: the lifting network's dropout spread against its error per axis."""
  sys.path.insert(0, os.path.join(ROOT, 'tools'))
  import dropout_spread as ds   # noqa: PLC0415
  out = load(name)
  learned = all(r.get('source') == 'learned scale' for r in out['runs'].values())
  return ds.markdown(out) + (f'\n\nSeed {out["workdir_seed"]}, {out["frames"]} test frames x 4 '
                             'views, ' + ('the uncertainty sqrt(2) b of the learned scale'
                                          if learned else f'{out["samples"]} dropout draws') +
                             f'. Source: `docs/results/{name}.json` '
                             f'({_short(out["provenance"])}).')


def pose2sim_triangulation(name: str = 'pose2sim_triangulation') -> str:
  """The P-GT's triangulation against Pose2Sim's own (tools/pose2sim_compare.py)."""
  sys.path.insert(0, os.path.join(ROOT, 'tools'))
  import pose2sim_compare   # noqa: PLC0415
  out = load(name)
  return pose2sim_compare.markdown(out) + (
      f'\n\nSource: `docs/results/{name}.json` ({_short(out["provenance"])}).')


def pose2sim_triangulation_joints(name: str = 'pose2sim_triangulation',
                                  label: str = 'pose2sim, mean (Pose2Sim\'s rule; the default)'
                                  ) -> str:
  """Per joint: the default P-GT against Pose2Sim's, before (plain DLT) and after."""
  out = load(name)
  before, after = out['methods']['plain DLT (before)'], out['methods'][label]
  lines = ['| joint | before: mean / max mm | after: mean / max mm | after: valid (ours / '
           'Pose2Sim) | reprojection px (ours / Pose2Sim) | same views |', '|---' * 6 + '|']
  for j, name_j in enumerate(out['joints']):
    b, a = before['per_joint'][j], after['per_joint'][j]
    cell = lambda r: '-' if r['mean_mm'] is None else f'{r["mean_mm"]:.1f} / {r["max_mm"]:.0f}'  # noqa: E731
    lines.append(f'| {name_j} | {cell(b)} | {cell(a)} | {a["ours_valid"]:.0%} / '
                 f'{a["pose2sim_valid"]:.0%} | {a["ours_px"]:.1f} / {a["pose2sim_px"]:.1f} | '
                 + ('-' if a['same_views'] is None else f'{a["same_views"]:.0%}') + ' |')
  return '\n'.join(lines)


def g_variants(name: str = 'g_multiplier') -> str:
  """A G-variants table (g_variants.json) and the variant chosen on validation."""
  out = load(name)
  lines = ["| G variant | G MPJPE, validation | G MPJPE, test | P-GT MPJPE (hidden GT) | "
           "Ours MPJPE | Ours minus the reference |", '|---|---|---|---|---|---|']
  for n, r in out['variants'].items():
    d = r.get('ours_vs_reference')
    lines.append(f'| {r["label"]} | ' + ' | '.join(
        f'{r[k][0]:.1f} +- {r[k][1]:.1f}' for k in ('g_val_mpjpe', 'g_mpjpe', 'pgt_mpjpe',
                                                   'ours_mpjpe')) +
        f' | {_delta_cell(d) if d else "reference"} |')
  chosen = out['variants'][out['chosen']]['label'] if out.get('chosen') else 'none'
  per = [f'{r["label"]} ' + ' / '.join(f'{r["per_seed"][str(s)]["g_val_mpjpe"]:.1f}'
                                       for s in out['seeds'])
         for r in out['variants'].values() if 'per_seed' in r]
  if per:
    lines += ['', f'G MPJPE on the validation split at seeds {", ".join(map(str, out["seeds"]))} '
              '(mm): ' + '; '.join(per) + '.']
  lines += ['', f'{len(out["seeds"])} seeds, mm. Chosen on the validation split: **{chosen}**. '
            f'Source: `docs/results/{name}.json` ({_short(out["provenance"])}).']
  return '\n'.join(lines)


# ---------------------------------------------------------------------------- statistics


def startup(name: str = 'startup') -> str:
  """benchmarks/startup.py: commands' wall time with the compilation cache cold, warm, off."""
  out = load(name)
  lines = ['| command | first run (empty cache) | second run (warm cache) | cache off | cache '
           'size |', '|---|---|---|---|---|']
  for cmd, r in out['commands'].items():
    lines.append(f'| `{cmd}` | {r["first_s"]:.1f} s | {r["second_s"]:.1f} s | '
                 f'{r["off_s"]:.1f} s | {r["cache_mb"]:.0f} MB |')
  lines += ['', f'Source: `docs/results/{name}.json` ({_short(out["provenance"])}).']
  return '\n'.join(lines)


def predict_throughput(name: str = 'predict_throughput') -> str:
  """benchmarks/predict.py: images/s, recording frames/s, each part's share."""
  out = load(name)
  lines = []
  for key, unit, what in (('images', 'images/s', 'Images (one view each)'),
                          ('recording', 'frames/s', 'Recording frames (4 views)')):
    r = out[key]
    total = sum(r['parts'].values())
    lines += [f'**{what}**: {r["count"] / total:.1f} {unit} warm ({r["count"]} of them; the '
              f'first call compiles {r["compile_s"]:.1f} s).', '',
              '| part | s | share |', '|---|---|---|']
    lines += [f'| {k} | {v:.3f} | {v / total:.0%} |' for k, v in r['parts'].items()]
    lines.append('')
  t = out.get('torch')
  if t:
    jax_img = out['images']['parts']['network']
    jax_rec = out['recording']['parts']['G + DLT'] + out['recording']['parts']['network']
    lines.append(f'The networks alone, against their PyTorch twins ({out["torch_version"]}): '
                 f'images {jax_img:.3f} s JAX vs {t["images"]:.3f} s PyTorch; recording (G + '
                 f'DLT + single-view) {jax_rec:.3f} s vs {t["recording"]:.3f} s.')
  lines += ['', f'{out["model"]} model, batch {out["batch"]}. Source: `docs/results/{name}.json` '
            f'({_short(out["provenance"])}).']
  return '\n'.join(lines)


def soft_argmax(name: str = 'soft_argmax') -> str:
  """benchmarks/soft_argmax.py --forms, as it printed."""
  out = load(name)
  return ('```text\n' + out['output'].rstrip() + '\n```\n\nSource: '
          f'`docs/results/{name}.json` ({_short(out["provenance"])}).')


def coverage(name: str = 'coverage') -> str:
  out = load(name)
  lines = ['| scenario | reported (union) | hierarchical bootstrap | seed-level t | frame '
           'bootstrap (the old interval) |', '|---|---|---|---|---|']
  for sc, r in out['scenarios'].items():
    lines.append(f'| {sc} | ' + ' | '.join(
        f'{r[k][0]:.1%} / {r[k][1]:.2f} mm' for k in
        ('reported', 'bootstrap', 't', 'frame bootstrap')) + ' |')
  lines += ['', f'Coverage of the true difference / mean width, {out["trials"]} simulated '
            f'5-seed studies per scenario. Source: `docs/results/{name}.json` '
            f'({_short(out["provenance"])}).']
  return '\n'.join(lines)


def published(section: str) -> str:
  """Numbers others published (docs/results/published.json), each with its source."""
  rows = load('published')[section]
  if section == 'lifting':
    lines = ['| model | 2D input | MPJPE (P1) | PA-MPJPE (P2) | source |', '|---|---|---|---|---|']
    lines += [f'| {r["model"]} | {r["input"]} | {r["mpjpe"]:.1f} | ' +
              (f'{r["pa_mpjpe"]:.1f}' if r['pa_mpjpe'] is not None else '-') +
              f' | {r["source"]} |' for r in rows]
  else:
    lines = ['| model | metric | value (mm) | source |', '|---|---|---|---|']
    lines += [f'| {r["model"]} | {r["metric"]} | {r["value"]:.1f}' +
              (' (' + ' / '.join(f'{x:.1f}' for x in r['xyz']) + ')' if 'xyz' in r else '') +
              f' | {r["source"]} |' for r in rows]
  return '\n'.join(lines)


def provenance_index() -> str:
  """Every committed results file with what made it and when its latest command was recorded."""
  lines = ['| file | made by | created |', '|---|---|---|']
  for path in sorted(glob.glob(os.path.join(RESULTS, '*.json'))):
    with open(path) as f:
      p = json.load(f).get('provenance', {})
    made = p.get('made_by') or [p.get('written_by', {})]
    latest = max((m['created'] for m in made if 'created' in m), default='?')
    lines.append(f'| `docs/results/{os.path.basename(path)}` | {_short(p)} | {latest} |')
  return '\n'.join(lines)


BLOCKS = {
    'study.headline': study_headline,
    'study.table': study_table,
    'study.per_seed': study_per_seed,
    'study.chosen': study_chosen,
    'study_depth_cue.table': lambda: study_table('study_depth_cue'),
    'study.cue': study_cue,
    'lifting_a.actions': lifting_actions,
    'lifting_a_noisy.actions': lambda: lifting_actions('lifting_a_noisy'),
    'lifting_b.table': lambda: seeds_table('lifting_b'),
    'lifting_b.pairs': lambda: seeds_pairs('lifting_b'),
    'lifting_b.decomposition': lambda: seeds_decomposition('lifting_b'),
    'lifting_c.table': lambda: seeds_table('lifting_c'),
    'lifting_c.pairs': lambda: seeds_pairs('lifting_c'),
    'lifting_c.decomposition': lambda: seeds_decomposition('lifting_c'),
    'lifting_b_forms.decomposition': lambda: seeds_decomposition('lifting_b_forms'),
    'lifting_b_forms.pairs': lambda: seeds_pairs('lifting_b_forms'),
    'study_mvc_forms.table': lambda: study_table('study_mvc_forms'),
    'study_incomplete.table': lambda: study_table('study_incomplete'),
    'lifting_b_grid.forms': lambda: study_forms('lifting_b_grid'),
    'study_forms_grid.forms': lambda: study_forms('study_forms_grid'),
    'study_forms_grid.table': lambda: study_table('study_forms_grid'),
    'learned_scale': lambda: dropout_spread('learned_scale'),
    'lifting_b_incomplete.pairs': lambda: seeds_pairs('lifting_b_incomplete'),
    'lifting_b_incomplete.decomposition': lambda: seeds_decomposition('lifting_b_incomplete'),
    'lifting_b_scale.pairs': lambda: seeds_pairs('lifting_b_scale'),
    'lifting_b_scale.decomposition': lambda: seeds_decomposition('lifting_b_scale'),
    'lifting_b_grid.table': lambda: study_table('lifting_b_grid'),
    'lifting_c_grid.forms': lambda: study_forms('lifting_c_grid'),
    'lifting_c_grid.table': lambda: study_table('lifting_c_grid'),
    'absolute.table': absolute_table,
    'absolute.pairs': lambda: seeds_pairs('absolute'),
    'absolute.decomposition': lambda: seeds_decomposition('absolute'),
    'g_multiplier.table': g_variants,
    'default.table': lambda: run_table('default_clone_a'),
    'default.clones': clones,
    'coverage': coverage,
    'startup': startup,
    'predict_throughput': predict_throughput,
    'soft_argmax': soft_argmax,
    'pose2sim_lifting.tuned': lambda: pose2sim('pose2sim_lifting'),
    'pose2sim_lifting.heldout': lambda: pose2sim('pose2sim_lifting', 'heldout_models'),
    'pose2sim_lifting_forms.heldout': lambda: pose2sim('pose2sim_lifting_forms',
                                                      'heldout_models'),
    'pose2sim_metrabs.tuned': lambda: pose2sim('pose2sim_metrabs'),
    'pose2sim_metrabs.heldout': lambda: pose2sim('pose2sim_metrabs', 'heldout_models'),
    'pose2sim_triangulation': pose2sim_triangulation,
    'dropout_spread': dropout_spread,
    'pose2sim_triangulation.joints': pose2sim_triangulation_joints,
    'published.lifting': lambda: published('lifting'),
    'published.absolute': lambda: published('absolute'),
    'provenance': provenance_index,
}


def render(name: str) -> str:
  if name not in BLOCKS:
    raise KeyError(f'unknown generated block {name!r} (tools/docs.py BLOCKS)')
  try:
    return BLOCKS[name]()
  except Missing as e:
    return f'_Not measured at this release: `docs/results/{e.args[0]}.json` is not committed._'


def generate(text: str) -> str:
  """The page with every generated block and value rewritten."""
  text = BLOCK.sub(lambda m: m.group(1) + render(m.group(2)).rstrip('\n') + '\n' + m.group(4),
                   text)
  return VALUE.sub(lambda m: m.group(1) + render(m.group(2)).strip() + m.group(4), text)


MEASURED = re.compile(r'(?<![\w.])[-+]?\d+\.\d+\s?(mm|%|px|min\b|s\b|ms\b|x\b|steps/s|images/s)')


def handwritten_numbers(text: str) -> list[str]:
  """Measured-looking numbers (a decimal with a unit) outside generated parts and code."""
  text = BLOCK.sub('', text)
  text = VALUE.sub('', text)
  text = re.sub(r'```.*?```', '', text, flags=re.S)
  text = re.sub(r'`[^`\n]*`', '', text)
  return [m.group(0) for m in MEASURED.finditer(text)]


def check() -> list[str]:
  """Pages whose generated parts differ from what the results files give, or that hold a
  hand-written measured number."""
  problems = []
  for page in PAGES:
    with open(os.path.join(ROOT, page)) as f:
      text = f.read()
    new = generate(text)
    if new != text:
      diff = '\n'.join(difflib.unified_diff(text.splitlines(), new.splitlines(), page,
                                            'generated', n=0, lineterm=''))
      problems.append(f'{page}: generated parts differ from docs/results (run `python '
                      f'tools/docs.py`):\n{diff}')
    for n in handwritten_numbers(text):
      problems.append(f'{page}: {n!r} is written by hand; generate it from a results file')
  return problems


def export(name: str, path: str) -> str:
  """Copies a run's results JSON into docs/results/NAME.json (it must carry provenance)."""
  with open(path) as f:
    data = json.load(f)
  if not data.get('provenance', {}).get('made_by') and not data.get('provenance', {}).get(
      'written_by'):
    raise SystemExit(f'{path}: no provenance; re-run its command at this release')
  os.makedirs(RESULTS, exist_ok=True)
  dest = os.path.join(RESULTS, f'{name}.json')
  shutil.copyfile(path, dest)
  return dest


def main(argv) -> int:
  if argv[1:2] == ['export'] and len(argv) == 4:
    print(export(argv[2], argv[3]))
    return 0
  if argv[1:] == ['--check']:
    problems = check()
    print('\n'.join(problems) if problems else 'docs agree with docs/results')
    return 1 if problems else 0
  if argv[1:]:
    print(__doc__)
    return 2
  for page in PAGES:
    full = os.path.join(ROOT, page)
    with open(full) as f:
      text = f.read()
    new = generate(text)
    if new != text:
      with open(full, 'w') as f:
        f.write(new)
      print(f'rewrote {page}')
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
