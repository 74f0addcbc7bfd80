"""In-memory batching with a deterministic, resumable sample order.

The order is a pure function of (seed, step): epoch e uses the permutation
``default_rng([seed, e]).permutation(N)``, so a run resumed at step s from a checkpoint continues
the exact sample sequence of an uninterrupted run (no iterator state to save).
"""

from __future__ import annotations

import numpy as np


def batch_indices(num_examples: int, batch_size: int, step: int, seed: int) -> np.ndarray:
  """Indices [batch_size] of the examples in batch number ``step``.

  Raises:
    ValueError: if the dataset is empty.
  """
  if num_examples <= 0:
    raise ValueError('cannot draw batches from an empty dataset')
  start = step * batch_size
  out = []
  while len(out) < batch_size:
    epoch, offset = divmod(start, num_examples)
    perm = np.random.default_rng([seed, epoch]).permutation(num_examples)
    take = perm[offset:offset + batch_size - len(out)]
    out.extend(take.tolist())
    start += len(take)
  return np.asarray(out)


def take(arrays: dict, idx: np.ndarray) -> dict:
  """Rows ``idx`` of every array in ``arrays``."""
  return {k: v[idx] for k, v in arrays.items()}


def augment_colour(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
  """Per-image brightness/contrast jitter of uint8 images [..., S, S, 3] (labels unchanged)."""
  lead = images.shape[:-3]
  gain = rng.uniform(0.8, 1.2, lead + (1, 1, 1))
  bias = rng.uniform(-20, 20, lead + (1, 1, 1))
  return np.clip(images * gain + bias, 0, 255).astype(np.uint8)
