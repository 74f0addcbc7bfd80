"""Row selection and concatenation of the per-frame arrays a split holds, keeping lazily decoded
images lazy.

A split or a training set is a pytree of arrays with a leading frame axis N: numpy arrays, a
:class:`~mvssl.geometry.camera.Camera` of [N, V, ...] leaves, and image arrays that decode on
access (:class:`mvssl.data.reader.EncodedImages`). These helpers select and join frames of such
pytrees without decoding any image.
"""

from __future__ import annotations

import os
import zipfile

import jax
import numpy as np


class Rows:
  """Rows ``keep`` of a (possibly lazy) array, itself indexable like one."""

  def __init__(self, base, keep):
    self.base, self.keep = base, np.asarray(keep)
    self.shape = (len(self.keep),) + tuple(base.shape[1:])

  def __len__(self):
    return len(self.keep)

  def __getitem__(self, idx):
    return self.base[self.keep[idx]]


class Concat:
  """Row-wise concatenation of (possibly lazy) arrays, indexable like one array."""

  def __init__(self, parts):
    self.parts = parts
    self.offsets = np.cumsum([0] + [len(p) for p in parts])
    self.shape = (int(self.offsets[-1]),) + tuple(parts[0].shape[1:])

  def __len__(self):
    return self.shape[0]

  def __getitem__(self, idx):
    if isinstance(idx, (int, np.integer)):
      k = int(np.searchsorted(self.offsets, idx, side='right') - 1)
      return self.parts[k][int(idx - self.offsets[k])]
    return np.stack([self[int(i)] for i in np.arange(len(self))[idx]])


def take(tree, keep: np.ndarray):
  """Frames ``keep`` (indices) of every leaf: numpy leaves are indexed, lazy ones wrapped."""
  keep = np.asarray(keep)
  return jax.tree.map(lambda a: a[keep] if isinstance(a, np.ndarray) else Rows(a, keep), tree)


def concat(a, b):
  """Frames of ``a`` then ``b`` (pytrees of the same structure); lazy leaves stay lazy."""
  def join(x, y):
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
      return np.concatenate([x, y])
    return Concat([x, y])
  return jax.tree.map(join, a, b)


def num_frames(tree) -> int:
  """N, the common length of every leaf.

  Raises:
    ValueError: when the leaves differ in length.
  """
  lengths = {len(x) for x in jax.tree.leaves(tree)}
  if len(lengths) != 1:
    raise ValueError(f'arrays must have the same length, got lengths {sorted(lengths)}')
  return lengths.pop()


class DamagedFile(ValueError):
  """A file that is there but cannot be read (truncated or corrupt); ``reason`` says how."""

  def __init__(self, path: str, reason: str):
    super().__init__(f'{path}: damaged file ({reason})')
    self.path, self.reason = path, reason


def load_npz(path: str) -> dict:
  """Every array of an .npz file, read at once.

  Raises:
    FileNotFoundError: when there is no file (a missing file is not a damaged one).
    DamagedFile: (a ValueError) when it is truncated or corrupt, whichever way np.load reports
      that (OSError, ValueError, EOFError, zipfile.BadZipFile).
  """
  try:
    with np.load(path) as z:
      return {k: z[k] for k in z.files}
  except FileNotFoundError:
    raise
  except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
    raise DamagedFile(path, f'{type(e).__name__}: {e}') from None


def save_npz_atomic(path: str, *, compressed: bool = False, **arrays) -> None:
  """np.savez (np.savez_compressed with ``compressed``) into a temporary file, then renamed over
  ``path``: a crash leaves the old file or the new one, never half of one."""
  tmp = f'{path}.{os.getpid()}.tmp.npz'
  (np.savez_compressed if compressed else np.savez)(tmp, **arrays)
  os.replace(tmp, path)
