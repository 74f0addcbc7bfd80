"""The reproduction study (``config.experiment='study'``, configs/study.py): does the multi-view
consistency loss help, and when?

Every variant is a row of the run table (a weight, a form or routing of L_MVC, a P-GT source, a
fraction of withheld targets, ...; :func:`configs.default.run`). Per seed S of ``config.seeds``
the table is trained in ``WORKDIR/seed_S`` (resumable: finished runs and predictions are kept,
datasets shared in ``WORKDIR/data``): the rows of ``config.study.all_seeds`` at every seed, the
other rows (sweep points) at the first ``config.study.sweep_seeds`` seeds only; with
``config.study.promote`` the best row of each group (lowest validation MPJPE over the sweep seeds,
with its partners of ``config.study.pairs``) then runs at the other seeds too, and each group's
choice is kept in the study's ``group_choices``. Each seed is
scored on the test split, on the validation split ``config.study.validation`` (held-out labeled
sequences, :mod:`mvssl.data.validation`: where every choice is made) and on the diagnosis split
``config.study.diagnosis`` (the hidden GT of the unlabeled frames: labels the method claims not
to need, reported, never chosen on). Rows that train on the hidden GT on purpose
(``pgt_from=hidden_gt``, a diagnosis) are never chosen or promoted.

Then ``WORKDIR/study.{md,json,png}`` (:mod:`mvssl.experiments.study_report`): per variant the
seeds it ran, MPJPE / PA-MPJPE mean +- std over them, the seed-level paired comparison of its
MPJPE against the reference's (``config.study.reference``, L1-only;
:func:`mvssl.stats.paired_over_seeds` over the seeds both ran) on every split, with the per-seed differences, Holm's correction over the study's test
comparisons, where the error lies (:func:`mvssl.metrics.multiview_decomposition`), and the
training minutes per seed; the pairs of ``config.study.pairs`` likewise; and the variant that
the validation split picks among ``config.study.candidates`` (:func:`choose`; the test split is
reported, never used to choose).

Shards (``config.study.shards``, a folder; '' = none): a study can span machines or sessions
that do not share a workdir. Each seed, once trained and scored, is written there as
``seed_S/scores.json`` (its scores on every split, each run's training minutes, the workdir's
provenance, and the fingerprint of what trained it, :func:`fingerprint`) beside its per-frame
MPJPE (the errors files, each row's MPJPE only: what the intervals read); a later run with the
same folder takes a seed found there instead of training it (a fingerprint that differs is an
error naming the file), so the table is the same whichever machine trained which seed.
Kilobytes to a few megabytes per seed, no checkpoints.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os

import numpy as np

from mvssl import metrics
from mvssl import parallel
from mvssl import provenance
from mvssl import stats
from mvssl.data import arrays as arrays_lib
from mvssl.experiments import seeds as seeds_lib
from mvssl.experiments import study_report
from mvssl.train import evaluate
from mvssl.train import runs as runs_lib
from mvssl.train import stages
from mvssl.train import summaries
from mvssl.train.context import Context

log = logging.getLogger('mvssl')
SCORES = 'scores.json'   # a seed's scores in config.study.shards/seed_S (module docstring)


def check(config) -> None:
  """Checks the study block against the run table.

  Raises:
    ValueError: naming the field: no seeds, a stage other than all, a run that the study
      names but the table lacks, or a reference that is not a 'column' run.
  """
  s = config.study
  if not config.seeds:
    raise ValueError('config.seeds: the study needs seeds, e.g. --config.seeds=0,1,2')
  if config.stage != 'all':
    raise ValueError(f'config.stage: the study runs its whole table (all), got {config.stage!r}')
  named = {'config.study.reference': [s.reference],
           'config.study.all_seeds': list(s.all_seeds),
           'config.study.candidates': list(s.candidates)}
  named.update({f'config.study.groups[{g!r}]': list(rows) for g, rows in s.groups})
  named['config.study.pairs'] = [n for pair in s.pairs for n in pair]
  for field, names in named.items():
    missing = [n for n in names if n not in config.runs]
    if missing:
      raise ValueError(f'{field} names runs that config.runs lacks: {", ".join(missing)}')
  if config.runs[s.reference].report != 'column':
    raise ValueError(f'config.study.reference {s.reference!r} must be a column run')
  if int(s.sweep_seeds) < 1:
    raise ValueError(f'config.study.sweep_seeds must be >= 1, got {s.sweep_seeds}')


def seed_runs(config, index: int, promoted=()) -> list[str]:
  """The rows trained at the ``index``-th seed: every row for the first ``sweep_seeds`` seeds,
  then those of ``all_seeds`` and ``promoted`` and what they depend on (init_from, G)."""
  if index < int(config.study.sweep_seeds):
    return list(config.runs)
  table = runs_lib.table(config)
  keep, todo = set(), list(config.study.all_seeds) + list(promoted)
  while todo:
    name = todo.pop()
    if name not in keep:
      keep.add(name)
      todo += runs_lib.dependencies(table[name], config.pseudo_label)
  return [n for n in config.runs if n in keep]


def _only_rows(c, keep):
  """``c`` (a copy, changed in place and returned) with only the rows ``keep`` of its table."""
  with c.unlocked():
    for name in list(c.runs):
      if name not in keep:
        del c.runs[name]
  return c


def fingerprint(config, seed: int, keep) -> str:
  """SHA-256 of what trains the rows ``keep`` at ``seed``: the config with only those rows, the
  seed set, ``study.shards`` cleared and every path reduced to its file name (the same data
  under another root is the same study)."""
  c = _only_rows(config.copy_and_resolve_references(), keep)
  with c.unlocked():
    c.seed, c.seeds, c.study.shards = int(seed), (), ''

  def bare(x):
    if isinstance(x, dict):
      return {k: bare(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
      return [bare(v) for v in x]
    return os.path.basename(x) if isinstance(x, str) and os.sep in x else x
  text = json.dumps(bare(json.loads(c.to_json_best_effort())), sort_keys=True)
  return hashlib.sha256(text.encode()).hexdigest()


def _shard(config, workdir: str, seed: int, keep: list[str]) -> dict | None:
  """The seed's scores from ``config.study.shards`` (module docstring), or None when there are
  none there.

  Raises:
    ValueError: naming the file, when its fingerprint is not this seed's (another config or
      other rows: remove it, or point study.shards elsewhere).
  """
  shards = config.study.shards
  path = os.path.join(shards, f'seed_{seed}', SCORES) if shards else ''
  if not path or not os.path.exists(path):
    return None
  with open(path) as f:
    got = json.load(f)
  if got.get('fingerprint') != fingerprint(config, seed, keep):
    raise ValueError(
        f'{path}: made by another config or other rows (it has {", ".join(got.get("runs", []))}'
        f'; this study trains {", ".join(keep)} at seed {seed}); remove it, or set '
        f'config.study.shards to another folder')
  if parallel.is_main_process():
    provenance.extend(workdir, got['provenance'])
  log.info('[study] seed %d: scores from %s (made by %s), not trained here', seed, path,
           ', '.join(sorted({p.get('commit', '?')[:10] for p in got['provenance']})))
  return dict(got['scores'], minutes=got['minutes'], workdir=os.path.dirname(path))


def _write_shard(config, workdir: str, seed: int, keep: list[str], out: dict) -> None:
  """Writes the seed's scores and per-frame MPJPE (each row's, with the frames' blocks: what its
  intervals read; compressed) to ``config.study.shards/seed_S``: errors files first, each
  atomically, then ``scores.json``, so a crash leaves no half shard."""
  dest = os.path.join(config.study.shards, f'seed_{seed}')
  os.makedirs(dest, exist_ok=True)
  roles = [r for r in ('test', 'validation', 'diagnosis') if r in out]
  for role in roles:                  # the study's intervals read each row's MPJPE and blocks
    name = _errors_file(_splits(config)[role])
    errors = arrays_lib.load_npz(os.path.join(out['workdir'], name))
    arrays_lib.save_npz_atomic(os.path.join(dest, name), compressed=True, **{
        k: v for k, v in errors.items() if k == stats.BLOCK or k.endswith('/mpjpe')})
  data = dict(fingerprint=fingerprint(config, seed, keep), seed=int(seed), runs=list(keep),
              minutes=out['minutes'], provenance=provenance.history_of(workdir),
              scores={r: out[r] for r in roles})
  tmp = os.path.join(dest, f'.{SCORES}.tmp')
  with open(tmp, 'w') as f:
    json.dump(data, f, indent=1)
  os.replace(tmp, os.path.join(dest, SCORES))
  log.info('[study] seed %d: scores written to %s', seed, dest)


def _seed(config, workdir: str, index: int, keep: list[str]) -> dict:
  """Trains the rows ``keep`` at the ``index``-th seed (finished ones are kept) and scores them
  on the test and the validation split; with ``config.study.shards``, takes the seed's scores
  from there when they are there, and writes them there when trained."""
  s = config.seeds[index]
  got = _shard(config, workdir, s, keep)
  if got is not None:
    return got
  c = _only_rows(seeds_lib.seed_config(config, workdir, s), keep)
  wd = os.path.join(workdir, f'seed_{s}')
  log.info('[study] seed %d (%d of %d): %d runs', s, index + 1, len(config.seeds), len(keep))
  ctx = Context(c, wd)
  for r in ctx.runs.values():
    stages.train(ctx, r.name)
  out = dict(test=evaluate.evaluate(ctx, 'test'),
             validation=evaluate.evaluate(ctx, config.study.validation), workdir=wd,
             minutes={n: summaries.wall_minutes(os.path.join(wd, n)) for n in keep})
  if config.study.diagnosis:
    out['diagnosis'] = evaluate.evaluate(ctx, config.study.diagnosis)
  if config.study.shards and parallel.is_main_process():
    _write_shard(config, workdir, s, keep, out)
  return out


def group_choices(config, per_seed: dict) -> dict[str, str]:
  """The best row of each group of ``config.study.groups`` on the validation split.

  Per group, among its rows not trained on the validation labels: the lowest validation MPJPE
  averaged over the seeds it ran. A row of ``all_seeds`` competes like any other (choosing it
  promotes nothing). The test split plays no part.

  Args:
    per_seed: {seed: the scores of :func:`_seed`} of the sweep seeds.

  Returns:
    {group title: run name}, in group order; a group with no scored row is left out.
  """
  scores = {n: list(v.values()) for n, v in _validation_scores(per_seed).items()}
  out = {}
  for title, rows in config.study.groups:
    cands = [n for n in rows if n in scores and not _trains_on_validation(config, n)]
    if cands:
      out[title] = min(cands, key=lambda n: float(np.mean(scores[n])))
  return out


def promote(config, per_seed: dict, choices: dict | None = None) -> list[str]:
  """The rows to train at every seed: each group's choice (:func:`group_choices`) that is not
  in ``all_seeds``, with its partners in ``config.study.pairs`` (its reference, and the rows
  whose reference it is: an L1-only chosen brings its Ours), so that each pair's interval has
  every seed. A row of ``all_seeds`` is everyone's reference and brings no partner.

  Args:
    per_seed: {seed: the scores of :func:`_seed`} of the sweep seeds.
    choices: :func:`group_choices` of ``per_seed`` where the caller has it already.

  Returns:
    The promoted run names, in group order, without repeats.
  """
  s = config.study
  chosen = []
  if choices is None:
    choices = group_choices(config, per_seed)
  for best in choices.values():
    if best not in s.all_seeds:
      chosen += [best] + [b if a == best else a for a, b in s.pairs if best in (a, b)]
  return [n for i, n in enumerate(chosen) if n not in chosen[:i] and n not in s.all_seeds]


def _validation_scores(per_seed: dict) -> dict:
  """{run name: {seed: validation MPJPE}} of every scored run."""
  scores = {}
  for k, out in per_seed.items():
    for label, r in out['test']['runs'].items():
      m = out['validation']['models'].get(label)
      if m is not None and 'mpjpe' in m['mean']:
        scores.setdefault(r['name'], {})[k] = m['mean']['mpjpe']
  return scores


def choose(config, per_seed: dict) -> tuple[str | None, list]:
  """The variant the validation split picks among ``config.study.candidates``.

  The lowest validation MPJPE averaged over the seeds that every candidate ran (the sweep
  seeds), so that a row promoted to more seeds is neither helped nor hurt by the spread between
  seeds; rows trained on the validation labels are never chosen. The test split plays no part.

  Args:
    per_seed: {seed: the scores of :func:`_seed`}.

  Returns:
    (run name or None when no candidate was scored, the seeds the choice was made on).
  """
  scores = _validation_scores(per_seed)
  cands = [n for n in config.study.candidates
           if n in scores and not _trains_on_validation(config, n)]
  if not cands:
    return None, []
  common = sorted(set.intersection(*(set(scores[n]) for n in cands)))
  if not common:
    raise ValueError('config.study.candidates: no seed where every candidate ran; list rows '
                     'of the sweep seeds (config.study.sweep_seeds) only')
  best = min(cands, key=lambda n: float(np.mean([scores[n][k] for k in common])))
  return best, common


def run(config, workdir: str) -> dict:
  """Trains and scores every seed (module docstring), then writes the study. Returns it.

  The sweep seeds first; then, with promotion, each group's choice on them; then each other
  seed with every row it trains at once (so each seed finishes, and is written to
  ``config.study.shards``, as a whole)."""
  check(config)
  first = int(config.study.sweep_seeds)
  per_seed = {int(s): _seed(config, workdir, i, seed_runs(config, i))
              for i, s in enumerate(config.seeds[:first])}
  promoted, choices = [], {}
  if config.study.promote and len(config.seeds) > first:
    choices = group_choices(config, per_seed)
    promoted = promote(config, per_seed, choices)
    log.info('[study] best of each group on validation, now at every seed: %s',
             ', '.join(promoted) or 'none')
  for i, s in enumerate(config.seeds[first:], first):
    per_seed[int(s)] = _seed(config, workdir, i, seed_runs(config, i, promoted))
  out = aggregate(config, per_seed)
  out['promoted'], out['group_choices'] = promoted, choices
  if parallel.is_main_process():
    study_report.write(out, workdir, config.title)
  return out


def _errors_file(split: str) -> str:
  """The per-(frame, view) errors file :func:`mvssl.train.evaluate.evaluate` writes for split."""
  return 'errors.npz' if split == 'test' else f'{split}_errors.npz'


def _errors(per_seed: dict, split: str) -> dict:
  name = _errors_file(split)
  return {s: arrays_lib.load_npz(os.path.join(r['workdir'], name)) for s, r in per_seed.items()}


def _trains_on_validation(config, name: str) -> bool:
  """Whether the run trains on labels no method may have (the unlabeled split's hidden GT, a
  diagnosis row): never chosen, never promoted."""
  r = config.runs[name]
  return bool(r.data.pgt and r.data.pgt_from == 'hidden_gt')


def _splits(config) -> dict:
  """{role: split}: the test split, the validation split that chooses, and the diagnosis."""
  out = dict(test='test', validation=config.study.validation)
  if config.study.diagnosis:
    out['diagnosis'] = config.study.diagnosis
  return out


def aggregate(config, per_seed: dict) -> dict:
  """Per variant: seeds, metrics mean +- std, seed-level paired comparisons against the
  reference (:func:`mvssl.stats.paired_over_seeds`) on every split, minutes; the pairs of
  ``config.study.pairs``; Holm's correction over the test comparisons; and the variant the
  validation split picks (module docstring)."""
  s = config.study
  ref = s.reference
  splits = {role: split for role, split in _splits(config).items()
            if all(role in out for out in per_seed.values())}
  errors = {role: _errors(per_seed, split) for role, split in splits.items()}
  names = {r['name']: label for out in per_seed.values()
           for label, r in out['test']['runs'].items() if r['report'] == 'column'}
  variants = {}
  for name, label in names.items():
    have = [k for k, out in per_seed.items() if label in out['test']['models']]
    v = dict(name=name, label=label, seeds=have,
             description=per_seed[have[0]]['test']['runs'][label]['description'],
             minutes=stats.mean_std([per_seed[k]['minutes'][name] for k in have])[0],
             trains_on_validation=_trains_on_validation(config, name))
    for role in splits:
      v[role] = {}
      for m in ('mpjpe', 'pa_mpjpe') + metrics.DECOMPOSITION:
        vals = [per_seed[k][role]['models'][label]['mean'].get(m) for k in have]
        if all(x is not None for x in vals):
          mean, std = stats.mean_std(vals)
          v[role][m] = dict(mean=mean, std=std, per_seed=[float(x) for x in vals])
      both = [k for k in have if f'{ref}/mpjpe' in errors[role][k]]
      if name != ref and both:
        v[role]['vs_reference'] = dict(seed_ids=both, **stats.paired_over_seeds(
            [errors[role][k] for k in both], f'{name}/mpjpe', f'{ref}/mpjpe'))
    variants[name] = v
  pairs = []
  for a, b in s.pairs:
    if a in variants and b in variants:
      p = dict(a=variants[a]['label'], b=variants[b]['label'],
               trains_on_validation=(variants[a]['trains_on_validation'] or
                                     variants[b]['trains_on_validation']))
      both = [k for k in variants[a]['seeds'] if k in variants[b]['seeds']]
      for role in splits:
        p[role] = dict(seed_ids=both, **stats.paired_over_seeds(
            [errors[role][k] for k in both], f'{a}/mpjpe', f'{b}/mpjpe'))
      pairs.append(p)
  # Holm over every test comparison the study reports (each row against the reference, and
  # the pairs): the family a reader scans for "which differ".
  family = [v['test']['vs_reference'] for v in variants.values() if 'vs_reference' in v['test']]
  family += [p['test'] for p in pairs]
  for c, keep in zip(family, stats.holm([c['p'] for c in family])):
    c['holm'] = keep
  chosen, chosen_on = choose(config, per_seed)
  first = per_seed[min(per_seed)]
  return dict(seeds=sorted(per_seed), reference=ref, chosen=chosen, chosen_on=chosen_on,
              num_test_frames=first['test']['num_test_frames'],
              num_validation_frames=first['validation']['num_test_frames'],
              num_diagnosis_frames=first['diagnosis']['num_test_frames']
              if 'diagnosis' in splits else 0,
              comparisons=len(family), validation=s.validation,
              diagnosis=s.diagnosis if 'diagnosis' in splits else '',
              groups=[[g, list(rows)] for g, rows in s.groups],
              variants=variants, pairs=pairs, pgt=first['test'].get('pgt', {}))
