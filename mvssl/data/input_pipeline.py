"""Training input pipeline: grain over random-access sources, deterministic and resumable.

``make_dataset`` turns a pytree of per-example arrays (a dict of numpy arrays, a Camera of
[N, V, ...] leaves, :class:`mvssl.data.reader.EncodedImages` that decode JPEGs on access) into a
grain ``MapDataset`` of per-process batches:

  source -> shuffle(seed) -> repeat (a new permutation every epoch)
         -> random_map(augment, seed)         (per-example Generator derived from the seed and
                                               the example's global position: independent of
                                               the thread and process counts)
         -> [process_index::process_count]   (per-process sharding for multi-host: process p
                                               gets rows p, p+P, ...; together the P
                                               processes see exactly the global batch; the
                                               map is lazy, so each decodes only its rows)
         -> batch(global_batch / P)

``iterator`` reads it with ``num_threads`` background threads (decoding + augmentation off the
training thread) and a prefetch buffer. Its ``get_state()`` is saved with every checkpoint
(:mod:`mvssl.train.checkpointing`) and restored with ``set_state``, so a resumed run continues
the exact sample order of an uninterrupted one.
"""

from __future__ import annotations

import grain
import jax
import numpy as np

from mvssl.data import arrays as arrays_lib


class ArraySource:
  """grain random-access source: frame ``i`` of every leaf of a pytree of arrays (lazily decoded
  images decode here)."""

  def __init__(self, arrays):
    self.arrays = arrays
    self.n = arrays_lib.num_frames(arrays)
    if self.n == 0:
      raise ValueError('cannot draw batches from an empty dataset')

  def __len__(self):
    return self.n

  def __getitem__(self, i):
    return jax.tree.map(lambda a: a[int(i)], self.arrays)


def make_dataset(arrays: dict, *, batch_size: int, seed: int, augment_fn=None,
                 process_index: int | None = None, process_count: int | None = None):
  """Infinite grain MapDataset of this process's batches (see module docstring).

  Args:
    arrays: pytree (dict) of arrays with a leading example axis N.
    batch_size: global batch size (all processes); must divide by the process count.
    seed: shuffling and augmentation seed.
    augment_fn: optional fn(example dict, np.random.Generator) -> example dict.
    process_index, process_count: default jax.process_index() / jax.process_count().
  Raises:
    ValueError: on an empty dataset or a batch size that does not split over processes.
  """
  p = jax.process_index() if process_index is None else process_index
  n_proc = jax.process_count() if process_count is None else process_count
  if batch_size % n_proc:
    raise ValueError(f'batch_size {batch_size} does not divide by {n_proc} processes')
  ds = grain.MapDataset.source(ArraySource(arrays)).shuffle(seed=seed).repeat(None)
  if augment_fn is not None:
    ds = ds.random_map(augment_fn, seed=seed)
  if n_proc > 1:
    ds = ds[p::n_proc]
  return ds.batch(batch_size // n_proc, drop_remainder=True)


def iterator(ds, *, num_threads: int = 4, prefetch: int = 16, state: dict | None = None):
  """A checkpointable iterator over ``ds`` with background threads; resumes from ``state``."""
  it = iter(ds.to_iter_dataset(grain.ReadOptions(num_threads=num_threads,
                                                 prefetch_buffer_size=prefetch)))
  if state is not None:
    it.set_state(state)
  return it


def colour_jitter(example: dict, rng: np.random.Generator) -> dict:
  """Per-view brightness/contrast jitter of uint8 images [V, S, S, 3] (labels unchanged)."""
  images = np.asarray(example['images'])
  gain = rng.uniform(0.8, 1.2, (images.shape[0], 1, 1, 1))
  bias = rng.uniform(-20, 20, (images.shape[0], 1, 1, 1))
  return dict(example, images=np.clip(images * gain + bias, 0, 255).astype(np.uint8))
