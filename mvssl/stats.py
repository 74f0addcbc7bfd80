"""Statistics for comparing methods: mean +- std over seeds and seed-level paired intervals.

Two things vary when a method is compared with another: the training run (the seed: model
initialisation, data order, augmentation) and the test sample (which sequences were recorded).
Frames are neither: consecutive frames of a sequence are near-duplicates, and errors averaged
over seeds hide how much another training run would differ. So a paired comparison
(:func:`paired`) works on per-seed, per-frame differences ``a - b`` (views averaged) grouped
into blocks (the frame's sequence), and gives:

* the **hierarchical bootstrap** interval: seeds and sequences resampled with replacement, each
  independently of the other (the test sequences are the same for every seed: the two factors
  are crossed, not nested), whole sequences only, never single frames; the statistic is the
  mean difference over every frame of the drawn seeds and sequences.
  :func:`scipy.stats.bootstrap` does the resampling (its two samples are the seed and the
  sequence indices, ``paired=False``), percentile method;
* the **seed-level t-interval** of the per-seed mean differences (Student t, S - 1 degrees of
  freedom), and the per-seed differences themselves;
* the reported interval: the union of the two. With few seeds the bootstrap alone is too narrow
  where the seeds dominate (a bootstrap of 5 values misses the t quantile), and the t-interval
  alone ignores the test sequences; the union covers in both cases. Measured by
  ``tests/stats_test.py`` and ``python -m mvssl.stats`` (simulations with known seed variance,
  sequence variance and within-sequence AR(1) correlation; numbers in docs/statistics.md).

A comparison is *significant* when the reported interval excludes 0. Its p-value is the larger
of the bootstrap's (twice the smaller tail beyond 0) and the t-test's; :func:`holm` adjusts the
p-values of a table of comparisons (Holm's step-down, family-wise error at ``alpha``).
"""

from __future__ import annotations

import sys

import numpy as np
import scipy.stats


def mean_std(values) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof 1; 0 for a single value) of a 1-D sequence."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def _frame_deltas(a, b) -> np.ndarray:
  """[S, N] per-seed, per-frame a - b with views averaged (NaN: no view recorded)."""
  out = []
  for x, y in zip(a, b):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.shape != y.shape:
      raise ValueError(f'paired samples differ in shape: {x.shape} vs {y.shape}')
    d = x - y
    if d.ndim > 1:
      with np.errstate(invalid='ignore'):
        d = np.nanmean(d.reshape(len(d), -1), axis=1) if np.isfinite(d).any() else d[:, 0]
    out.append(d)
  if len({len(d) for d in out}) != 1:
    raise ValueError('every seed must be scored on the same frames')
  return np.stack(out)


def block_sums(deltas: np.ndarray, blocks) -> tuple[np.ndarray, np.ndarray, int]:
  """Per seed and block: the sum of the finite frame differences and their count.

  Args:
    deltas: [S, N] per-seed frame differences (NaN: left out).
    blocks: [N] block label of every frame (its sequence).
  Returns:
    (sums [S, B], counts [S, B], B).
  """
  _, inverse = np.unique(np.asarray(blocks).astype(str), return_inverse=True)
  nb = int(inverse.max()) + 1 if len(inverse) else 0
  ok = np.isfinite(deltas)
  sums = np.zeros((len(deltas), nb))
  counts = np.zeros((len(deltas), nb))
  for s in range(len(deltas)):
    np.add.at(sums[s], inverse[ok[s]], deltas[s][ok[s]])
    np.add.at(counts[s], inverse[ok[s]], 1.0)
  return sums, counts, nb


def paired(a, b, blocks, *, level: float = 0.95, n_resamples: int = 4000,
           seed: int = 0) -> dict:
  """Seed-level paired comparison of two methods (module docstring).

  Args:
    a, b: per seed, the errors of the two methods on the same frames: a list of S arrays [N]
      or [N, V] (mm; NaN: a view not recorded, left out of its frame's mean).
    blocks: [N] the sequence of every frame (e.g. 'S9/walking_1'); frames of one block are
      resampled together.
    level: confidence level.
    n_resamples: bootstrap resamples.
    seed: the bootstrap's randomness.
  Returns:
    dict: mean (mm, a - b over every frame and seed), low, high (the reported interval),
    boot_low, boot_high (hierarchical bootstrap), t_low, t_high (seed-level t; NaN with one
    seed), p (the larger of the two p-values), per_seed [S] (mean difference of each seed),
    seeds S, blocks B, frames N. A factor with a single level (one seed, or one sequence) is
    not resampled; with one seed and one sequence there is no interval (NaN, p = 1).
  Raises:
    ValueError: when the shapes differ between a and b or between seeds, or no frame is finite.
  """
  if len(a) != len(b) or not len(a):
    raise ValueError(f'paired needs the same seeds for both methods, got {len(a)} and {len(b)}')
  d = _frame_deltas(a, b)
  if len(np.asarray(blocks)) != d.shape[1]:
    raise ValueError(f'blocks has {len(np.asarray(blocks))} labels for {d.shape[1]} frames')
  sums, counts, nb = block_sums(d, blocks)
  if counts.sum() == 0:
    raise ValueError('paired: no finite difference to compare')
  per_seed = sums.sum(1) / np.maximum(counts.sum(1), 1)
  mean = float(sums.sum() / counts.sum())
  ns = len(d)

  def statistic(seed_idx, block_idx, axis=-1):
    del axis
    si = np.asarray(seed_idx, int)[..., :, None]
    bi = np.asarray(block_idx, int)[..., None, :]
    return sums[si, bi].sum((-2, -1)) / np.maximum(counts[si, bi].sum((-2, -1)), 1e-12)

  # scipy's bootstrap needs two or more levels in every sample it resamples: a factor with one
  # level (one seed, or every frame in one sequence) is held fixed instead.
  factors = [np.arange(n, dtype=float) if n > 1 else None for n in (ns, nb)]
  resampled = [f for f in factors if f is not None]

  def stat(*idx, axis=-1):
    del axis
    it = iter(idx)
    full = [next(it) if f is not None else None for f in factors]
    lead = np.shape(idx[0])[:-1]
    full = [x if x is not None else np.zeros(lead + (1,)) for x in full]
    return statistic(*full)

  if resampled:
    res = scipy.stats.bootstrap(tuple(resampled), stat, paired=False, vectorized=True,
                                n_resamples=n_resamples, confidence_level=level,
                                method='percentile', batch=max(1, 2_000_000 // (ns * nb)),
                                random_state=np.random.default_rng(seed))
    boot = np.asarray(res.bootstrap_distribution)
    p_boot = float(min(1.0, 2 * min(np.mean(boot <= 0), np.mean(boot >= 0))))
    b_low, b_high = float(res.confidence_interval.low), float(res.confidence_interval.high)
  else:                               # one seed, one sequence: nothing to resample
    p_boot, b_low, b_high = 1.0, float('nan'), float('nan')
  if ns > 1:
    sem = float(np.std(per_seed, ddof=1) / np.sqrt(ns))
    t_low, t_high = scipy.stats.t.interval(level, ns - 1, loc=float(per_seed.mean()),
                                           scale=max(sem, 1e-12))
    p_t = float(scipy.stats.ttest_1samp(per_seed, 0.0).pvalue) if sem > 0 else \
        float(per_seed.mean() == 0)
  else:
    t_low = t_high = float('nan')
    p_t = 0.0
  lows = [x for x in (b_low, t_low) if np.isfinite(x)]
  highs = [x for x in (b_high, t_high) if np.isfinite(x)]
  return dict(mean=mean, low=min(lows, default=float('nan')),
              high=max(highs, default=float('nan')), boot_low=b_low, boot_high=b_high,
              t_low=float(t_low), t_high=float(t_high), p=max(p_boot, p_t),
              per_seed=[float(x) for x in per_seed], seeds=ns, blocks=nb, frames=int(d.shape[1]))


BLOCK = 'block'   # the key of the frames' sequences in an errors mapping (errors.npz)


def paired_over_seeds(errors: list, a: str, b: str, **kw) -> dict:
  """:func:`paired` of ``errors[i][a]`` against ``errors[i][b]`` over seeds i.

  Args:
    errors: per seed, a mapping of name -> [N] or [N, V] errors (e.g. each seed's errors.npz),
      holding ``'block'`` [N] (the frames' sequences, the same for every seed); a mapping
      without it (files written before blocks were recorded) makes every frame its own block,
      and the result says so (blocks == frames).
    a, b: the two keys compared (a - b).
    kw: passed to :func:`paired`.
  """
  first = errors[0]
  blocks = np.asarray(first[BLOCK]) if BLOCK in first else np.arange(len(first[a]))
  return paired([e[a] for e in errors], [e[b] for e in errors], blocks, **kw)


def significant(r: dict) -> bool:
  """Whether the reported interval of :func:`paired` excludes 0."""
  return bool(r['low'] > 0 or r['high'] < 0)


def holm(pvalues, alpha: float = 0.05) -> list[bool]:
  """Holm's step-down procedure: which of m comparisons are significant at family-wise error
  ``alpha`` (the i-th smallest p-value against alpha / (m - i), i from 0, stopping at the first
  that fails)."""
  p = np.asarray(pvalues, np.float64)
  out = np.zeros(len(p), bool)
  for i, k in enumerate(np.argsort(p, kind='stable')):
    if p[k] > alpha / (len(p) - i):
      break
    out[k] = True
  return out.tolist()


# The simulation of docs/statistics.md and tests/stats_test.py: errors with a known truth.


def simulate(rng: np.random.Generator, *, seeds: int = 5, sequences: int = 40,
             frames: int = 30, delta: float = 0.3, seed_sd: float = 0.3,
             sequence_sd: float = 0.4, interaction_sd: float = 0.4, frame_sd: float = 3.0,
             rho: float = 0.9):
  """Paired per-frame differences with a known mean ``delta`` (mm): seed effects (``seed_sd``),
  sequence effects shared by every seed (``sequence_sd``), seed x sequence effects, and frame
  noise AR(1) within a sequence (``frame_sd``, correlation ``rho`` between consecutive frames).

  Returns:
    (a [S, N], b [S, N] with a - b the differences and b = 0, blocks [N]).
  """
  s, q, t = seeds, sequences, frames
  e = np.empty((s, q, t))
  e[..., 0] = rng.normal(0, frame_sd, (s, q))
  for i in range(1, t):
    e[..., i] = rho * e[..., i - 1] + np.sqrt(1 - rho ** 2) * rng.normal(0, frame_sd, (s, q))
  d = (delta + rng.normal(0, seed_sd, (s, 1, 1)) + rng.normal(0, sequence_sd, (1, q, 1)) +
       rng.normal(0, interaction_sd, (s, q, 1)) + e)
  blocks = np.repeat(np.arange(q), t)
  return d.reshape(s, -1), np.zeros((s, q * t)), blocks


def frame_bootstrap(a, b, *, level: float = 0.95, n_resamples: int = 2000, seed: int = 0):
  """The interval this project reported before (kept to show why it is not used): the errors
  averaged over seeds, then single frames resampled. Returns (low, high)."""
  d = np.mean(_frame_deltas(a, b), axis=0)
  d = d[np.isfinite(d)]
  r = scipy.stats.bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples,
                            method='percentile', random_state=np.random.default_rng(seed))
  return float(r.confidence_interval.low), float(r.confidence_interval.high)


SCENARIOS = {
    'seeds dominate': dict(seed_sd=0.5, sequence_sd=0.0, interaction_sd=0.05, frame_sd=0.3),
    'sequences dominate': dict(seed_sd=0.0, sequence_sd=0.8, interaction_sd=0.05, frame_sd=0.3),
    'seed x sequence': dict(seed_sd=0.0, sequence_sd=0.0, interaction_sd=0.8, frame_sd=0.3),
    'all, noisy frames': dict(),
}


def coverage(scenario: dict, trials: int, seed: int = 0, n_resamples: int = 1000) -> dict:
  """How often each interval covers the true delta over ``trials`` simulated studies
  (:func:`simulate` with ``scenario``): {interval: (coverage, mean width mm)}."""
  rng = np.random.default_rng(seed)
  truth = scenario.get('delta', 0.3)
  hits = {k: [] for k in ('reported', 'bootstrap', 't', 'frame bootstrap')}
  for i in range(trials):
    a, b, blocks = simulate(rng, **scenario)
    r = paired(list(a), list(b), blocks, n_resamples=n_resamples, seed=i)
    for k, (lo, hi) in dict(reported=(r['low'], r['high']),
                            bootstrap=(r['boot_low'], r['boot_high']),
                            t=(r['t_low'], r['t_high'])).items():
      hits[k].append((lo <= truth <= hi, hi - lo))
    lo, hi = frame_bootstrap(list(a), list(b), n_resamples=n_resamples, seed=i)
    hits['frame bootstrap'].append((lo <= truth <= hi, hi - lo))
  return {k: (float(np.mean([c for c, _ in v])), float(np.mean([w for _, w in v])))
          for k, v in hits.items()}


def main(argv) -> int:
  """Prints the coverage table of docs/statistics.md and writes it as JSON with its provenance:
  ``python -m mvssl.stats [TRIALS] [--json PATH]``."""
  args = [a for a in argv[1:] if not a.startswith('--json')]
  out_path = next((a.split('=', 1)[1] for a in argv[1:] if a.startswith('--json=')), '')
  trials = int(args[0]) if args else 1000
  print(f'95% intervals, {trials} simulated 5-seed studies per scenario '
        '(40 sequences x 30 frames, AR(1) 0.9): coverage of the true delta / mean width (mm)')
  print('| scenario | reported | hierarchical bootstrap | seed-level t | frame bootstrap |')
  print('|---|---|---|---|---|')
  out = dict(trials=trials, scenarios={})
  for name, sc in SCENARIOS.items():
    c = out['scenarios'][name] = coverage(sc, trials)
    print(f'| {name} | ' + ' | '.join(f'{c[k][0]:.1%} / {c[k][1]:.2f}' for k in (
        'reported', 'bootstrap', 't', 'frame bootstrap')) + ' |', flush=True)
  if out_path:
    from mvssl import provenance  # noqa: PLC0415
    out['scenario_settings'] = SCENARIOS
    provenance.write_json(out_path, out)
  return 0


if __name__ == '__main__':
  sys.exit(main(sys.argv))
