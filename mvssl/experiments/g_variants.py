"""The G-variants experiment (``config.experiment='g_variants'``, configs/g_variants.py): each
variant of the multi-view model G (``config.g_variants.variants``) trained, its P-GT made, and the
single-view model fine-tuned on that P-GT (Ours), over seeds -> ``WORKDIR/g_variants.{md,json,png}``.

A variant is a name, a label and overrides of the config (``(('model.g.conf_head', 'conv'), ...)``,
dotted paths into the config). Each (seed, variant) is the paper experiment in
``WORKDIR/seed_S/<variant>`` with only the runs Ours needs (``config.g_variants.column`` and what
it depends on: the pre-trained Base, G and, for 2D pre-training, G's 2D stage); the datasets are
built once (``WORKDIR/data``) and Base, which no variant changes, is trained once per seed and
copied into the other variants' workdirs. Everything resumes.

Per variant and seed: G's per-view 2D stage on the test split (crop px with both decoders, PCK
at 0.05 / 0.1 / 0.2 of the crop side), G's MPJPE on the validation split (held-out labeled
sequences, where the variant is chosen) and on the test split, the P-GT's MPJPE against the
unlabeled split's hidden GT (a diagnosis), and Ours' MPJPE on the test split; the table gives
mean +- std over seeds, Ours' paired interval against the reference variant (seeds and whole
test sequences resampled, :func:`mvssl.stats.paired_over_seeds`), and the variant with the
lowest mean validation MPJPE of G (``chosen``; never the test split, never the hidden GT).
"""

from __future__ import annotations

import logging
import os
import shutil

import numpy as np

from mvssl import parallel
from mvssl import plots
from mvssl import stats
from mvssl.experiments import paper
from mvssl.experiments import seeds as seeds_lib
from mvssl.models import g_heads
from mvssl.train import checkpointing
from mvssl.train import evaluate
from mvssl.train import report
from mvssl.train import runs as runs_lib
from mvssl.train.context import Context

log = logging.getLogger('mvssl')

SCORES = ('px_soft', 'px_argmax', 'pck@0.05', 'pck@0.1', 'pck@0.2', 'g_val_mpjpe', 'g_mpjpe',
          'pgt_mpjpe', 'ours_mpjpe')


def _set(config, path: str, value) -> None:
  """config[path] = value for a dotted path the config already has (KeyError otherwise)."""
  *parents, leaf = path.split('.')
  target = config
  for key in parents:
    target = target[key]
  if leaf not in target:
    raise KeyError(path)
  target[leaf] = value


def variant_config(config, name: str, overrides, seed: int, workdir: str):
  """The paper-experiment config of one (variant, seed): overrides applied, the runs Ours does
  not need dropped, datasets shared in ``workdir/data``.

  Raises:
    ValueError: naming the variant and path of an override the config does not have.
  """
  c = seeds_lib.seed_config(config, workdir, seed)
  with c.unlocked():
    c.experiment = 'paper'
    for path, value in overrides:
      try:
        _set(c, path, value)
      except (KeyError, AttributeError):
        raise ValueError(f'config.g_variants.variants: {name!r} overrides {path!r}, which the '
                         f'config does not have') from None
    rows = runs_lib.table(c)
    keep, todo = set(), [c.g_variants.column]
    while todo:
      r = todo.pop()
      if r not in keep:
        keep.add(r)
        todo += runs_lib.dependencies(rows[r], c.pseudo_label)
    for r in [r for r in c.runs if r not in keep]:
      del c.runs[r]
  return c


def check(config) -> None:
  """The variants table before anything trains.

  Raises:
    ValueError: for duplicate or missing names, an unknown override path, a bad run table of a
      variant, or a column that is not a per-view run.
  """
  gv = config.g_variants
  names = [v[0] for v in gv.variants]
  if not names or len(set(names)) != len(names):
    raise ValueError(f'config.g_variants.variants needs distinct names; got {names}')
  if gv.reference not in names:
    raise ValueError(f'config.g_variants.reference must name a variant ({names}); '
                     f'got {gv.reference!r}')
  for name, _, overrides in gv.variants:
    c = variant_config(config, name, overrides, 0, '/nonexistent')
    runs_lib.table(c)
    g_heads.check(g_heads.options(c.model.g), f'variant {name}: config.model.g',
                  num_joints=c.model.num_joints)


def _copy_base(workdir: str, seed_dir: str, first: str, name: str, runs: list[str]) -> None:
  """Copies the runs shared by every variant (``runs``) from the first variant's workdir."""
  for r in runs:
    src = os.path.join(seed_dir, first, 'checkpoints', r)
    dst = os.path.join(workdir, 'checkpoints', r)
    if os.path.isdir(src) and not os.path.exists(dst) and parallel.is_main_process():
      os.makedirs(os.path.dirname(dst), exist_ok=True)
      shutil.copytree(src, dst + '.tmp', dirs_exist_ok=True)
      os.replace(dst + '.tmp', dst)
      log.info('[g_variants] %s: %s copied from %s', name, r, first)


def scores(results: dict, column_label: str, validation: dict | None = None) -> dict:
  """One (variant, seed)'s numbers from its evaluation on the test split and, when given, on
  the validation split (module docstring)."""
  g_label = next(iter(results['triangulated']))
  v2d = results['views_2d'][g_label]
  return {'px_soft': v2d['soft_argmax']['px'], 'px_argmax': v2d['argmax']['px'],
          'pck@0.05': v2d['soft_argmax']['pck@0.05'], 'pck@0.1': v2d['soft_argmax']['pck@0.1'],
          'pck@0.2': v2d['soft_argmax']['pck@0.2'],
          'g_mpjpe': results['triangulated'][g_label]['mpjpe'],
          'g_val_mpjpe': (validation['triangulated'][g_label]['mpjpe'] if validation
                          else float('nan')),
          'pgt_mpjpe': results.get('pgt', {}).get('mpjpe', float('nan')),
          'ours_mpjpe': results['models'][column_label]['mean']['mpjpe']}


def run(config, workdir: str) -> dict:
  """Every variant at every seed of ``config.seeds`` (or config.seed), then the table."""
  gv = config.g_variants
  seed_list = [int(s) for s in (config.seeds or (config.seed,))]
  per, errors = {}, {}
  for s in seed_list:
    seed_dir = os.path.join(workdir, f'seed_{s}')
    first = gv.variants[0][0]
    for name, label, overrides in gv.variants:
      c = variant_config(config, name, overrides, s, workdir)
      wd = os.path.join(seed_dir, name)
      if name != first:
        _copy_base(wd, seed_dir, first, name, list(gv.shared))
      log.info('[g_variants] seed %d, variant %s (%s)', s, name, label)
      if parallel.is_main_process():
        os.makedirs(wd, exist_ok=True)
        checkpointing.record_config(c, wd)    # the variant's own config, overrides applied
      results = paper.run(c, wd)
      column = c.runs[gv.column].label
      val = evaluate.evaluate(Context(c, wd), 'validation') if c.validation.share else None
      per.setdefault(name, {})[s] = scores(results, column, val)
      z = np.load(os.path.join(wd, 'errors.npz'))
      errors.setdefault(s, {})[name] = z[f'{gv.column}/mpjpe']
      if stats.BLOCK in z:
        errors[s][stats.BLOCK] = z[stats.BLOCK]
  out = aggregate(config, per, errors)
  if parallel.is_main_process():
    write(out, workdir, config.title)
  return out


def aggregate(config, per: dict, errors: dict) -> dict:
  """mean +- std over seeds per variant and score, and Ours' paired interval vs the reference."""
  gv = config.g_variants
  labels = {v[0]: v[1] for v in gv.variants}
  out = dict(seeds=sorted(errors), reference=gv.reference, variants={})
  for name, by_seed in per.items():
    row = {k: stats.mean_std([by_seed[s][k] for s in sorted(by_seed)]) for k in SCORES}
    row['label'] = labels[name]
    row['per_seed'] = {str(s): by_seed[s] for s in sorted(by_seed)}
    if name != gv.reference:
      common = [errors[s] for s in sorted(errors) if name in errors[s]
                and gv.reference in errors[s]]
      if common:
        row['ours_vs_reference'] = stats.paired_over_seeds(common, name, gv.reference)
    out['variants'][name] = row
  val = {n: r['g_val_mpjpe'][0] for n, r in out['variants'].items()
         if np.isfinite(r['g_val_mpjpe'][0])}
  out['chosen'] = min(val, key=val.get) if val else None
  return out


def _cell(ms, scale=1.0, digits=1) -> str:
  m, s = ms
  return f'{scale * m:.{digits}f} +- {scale * s:.{digits}f}'


def markdown(out: dict, title: str) -> str:
  """The variants table (module docstring)."""
  md = [f'# G variants: {title}', '',
        f'Seeds {", ".join(map(str, out["seeds"]))}; mean +- std over seeds. 2D: G\'s per-view '
        f'stage on the test split (crop px; PCK of the crop side, soft-argmax decoding). MPJPE '
        f'(mm): G on the validation split (where the variant is chosen) and on the test split, '
        f'its P-GT on the unlabeled split (vs the hidden GT: a diagnosis), Ours fine-tuned on '
        f'that P-GT on the test split; delta: Ours minus the reference variant '
        f'({out["reference"]}), seed-level paired interval.', '',
        '| G variant | 2D px soft-argmax | 2D px argmax | PCK@0.05 / 0.1 / 0.2 (%) | '
        'G MPJPE, validation | G MPJPE, test | P-GT MPJPE | Ours MPJPE | Ours delta |',
        '|---|---|---|---|---|---|---|---|---|']
  for name, r in out['variants'].items():
    d = r.get('ours_vs_reference')
    delta = (f'{d["mean"]:+.2f} [{d["low"]:+.2f}, {d["high"]:+.2f}]' if d else 'reference')
    pck = ' / '.join(f'{100 * r[k][0]:.1f}' for k in ('pck@0.05', 'pck@0.1', 'pck@0.2'))
    md.append(f'| {r["label"]} | {_cell(r["px_soft"], digits=2)} | '
              f'{_cell(r["px_argmax"], digits=2)} | {pck} | {_cell(r["g_val_mpjpe"])} | '
              f'{_cell(r["g_mpjpe"])} | {_cell(r["pgt_mpjpe"])} | {_cell(r["ours_mpjpe"])} | '
              f'{delta} |')
  if out.get('chosen'):
    md += ['', f'Chosen on the validation split (lowest G MPJPE there, mean over seeds): '
           f'**{out["variants"][out["chosen"]]["label"]}**.']
  return '\n'.join(md) + '\n'


def write(out: dict, workdir: str, title: str) -> None:
  """g_variants.{md,json,png} in ``workdir``."""
  text = markdown(out, title)
  with open(os.path.join(workdir, 'g_variants.md'), 'w') as f:
    f.write(text)
  report.write_files(workdir, 'g_variants', text, out)
  rows = out['variants']
  plots.grouped_bars(
      list(rows),
      {k: {f'mean over {len(out["seeds"])} seed(s)': [r[key][0] for r in rows.values()]}
       for k, key in (('G MPJPE (test, mm)', 'g_mpjpe'),
                      ('P-GT MPJPE (unlabeled, mm)', 'pgt_mpjpe'),
                      ('Ours MPJPE (test, mm)', 'ours_mpjpe'))},
      os.path.join(workdir, 'g_variants.png'), title=f'G variants: {title}', width=7.0)
