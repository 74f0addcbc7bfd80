"""Statistics for comparing runs: mean +- std over seeds and paired bootstrap intervals.

A paired comparison of two models on the same test samples resamples *frames* (the views of one
frame are not independent samples): per-(frame, view) errors are averaged over views first, then
:func:`scipy.stats.bootstrap` (percentile method) gives the interval of the mean difference.
"""

from __future__ import annotations

import numpy as np
import scipy.stats


def mean_std(values) -> tuple[float, float]:
  """Mean and sample standard deviation (ddof 1; 0 for a single value) of a 1-D sequence."""
  v = np.asarray(values, np.float64)
  return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0


def paired_interval(a: np.ndarray, b: np.ndarray, *, level: float = 0.95,
                    n_resamples: int = 2000, seed: int = 0) -> dict:
  """Mean of ``a - b`` and its bootstrap interval, resampling frames.

  Args:
    a, b: [N] or [N, V] per-sample errors (mm) of two models on the same frames (NaN: a view not
      recorded, left out of its frame's mean).
    level: confidence level of the interval.
  Returns:
    dict(mean, low, high, frames): mm; the interval excludes 0 when low > 0 or high < 0.
  Raises:
    ValueError: when the shapes differ.
  """
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  if a.shape != b.shape:
    raise ValueError(f'paired samples differ in shape: {a.shape} vs {b.shape}')
  d = a - b
  if d.ndim > 1:
    d = np.nanmean(d.reshape(len(d), -1), axis=1)
  d = d[np.isfinite(d)]
  res = scipy.stats.bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples,
                              method='percentile', random_state=np.random.default_rng(seed))
  return dict(mean=float(d.mean()), low=float(res.confidence_interval.low),
              high=float(res.confidence_interval.high), frames=int(len(d)))


def paired_over_seeds(errors: list, a: str, b: str) -> dict:
  """:func:`paired_interval` of ``errors[i][a]`` minus ``errors[i][b]`` after averaging each
  over the seeds i (``errors``: one mapping of name -> [N] or [N, V] errors per seed, e.g. the
  errors.npz of each seed's evaluation)."""
  return paired_interval(np.mean([e[a] for e in errors], axis=0),
                         np.mean([e[b] for e in errors], axis=0))
