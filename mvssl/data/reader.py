"""Reading a built dataset back: labels in memory (cached), images decoded on access.

:func:`load_split` gives a split of a :class:`mvssl.data.builder.CalibratedMultiview` build as the
dict every stage takes (see :mod:`mvssl.data.sources`): cameras as one
:class:`~mvssl.geometry.camera.Camera` pytree with leaves [N, V, ...], images as
:class:`EncodedImages`, an array-like that decodes JPEGs in threads when indexed.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os

import cv2
import numpy as np
import tqdm

from mvssl.data import arrays as arrays_lib
from mvssl.geometry import camera as camlib


LABEL_FIELDS = ('K', 'R', 't', 'dist', 'box', 'view_valid', 'pose_3d', 'has_pose_3d',
                'keypoints_2d', 'frame', 'subject', 'sequence')


def read_record(source, k: int, *, where: str, data_dir: str):
  """Record ``k`` of a TFDS data source (an array_record shard of a built dataset).

  Raises:
    DamagedFile: (a ValueError) one line naming ``where``, the record and the remedy when the
      shard is damaged: Riegeli's hash check fails on a flipped bit (RuntimeError), a record
      past the end of a truncated shard reads as empty bytes (TFDS decodes them to None).
  """
  try:
    rec = source[int(k)]
    why = None
  except Exception as e:  # noqa: BLE001 (whatever array_record / TFDS raise for a bad shard)
    lines = str(e).strip().splitlines()
    rec, why = None, f'{type(e).__name__}: {lines[0][:200] if lines else ""}'
  if why is None and isinstance(rec, dict) and any(v is None for v in rec.values()):
    why = 'the record reads empty: a truncated shard'
  if why is not None:
    raise _damaged(f'{where} record {int(k)}', why, data_dir)
  return rec


def _damaged(what: str, why: str, data_dir: str) -> arrays_lib.DamagedFile:
  """The one-line error for a damaged part ``what`` of the build in ``data_dir``, with the
  remedy (rebuild it)."""
  return arrays_lib.DamagedFile(what, f'{why}; delete {data_dir} and run the same command again '
                                      f'to rebuild it')


def decode_jpeg(data: bytes) -> np.ndarray:
  """JPEG bytes -> [S, S, 3] uint8 RGB."""
  img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
  if img is None:
    raise ValueError('corrupt JPEG (does not decode)')
  return img[..., ::-1]


class EncodedImages:
  """The images of a split, decoded on access: ``images[idx]`` -> [n, V, S, S, 3] uint8 RGB.

  Behaves like the array it stands for (``len``, ``shape``, ``dtype``, integer / slice / index
  array access), so the same code trains from memory or from disk. Decoding runs in
  ``num_threads`` threads (OpenCV releases the GIL).
  """

  def __init__(self, source, order: np.ndarray, size: int, num_views: int, num_threads: int = 4,
               *, where: str = 'dataset', data_dir: str = ''):
    self.source, self.order = source, np.asarray(order)
    self.where, self.data_dir = where, data_dir or where
    self.shape = (len(self.order), num_views, size, size, 3)
    self.dtype = np.dtype(np.uint8)
    self.ndim = 5
    self._pool = concurrent.futures.ThreadPoolExecutor(max(1, num_threads))

  def __len__(self):
    return self.shape[0]

  def row(self, i: int) -> np.ndarray:
    """Row ``i`` decoded: [V, S, S, 3] uint8 RGB.

    Raises:
      DamagedFile: naming the dataset, split, record and view of a damaged shard or JPEG.
    """
    k = int(self.order[i])
    rec = read_record(self.source, k, where=self.where, data_dir=self.data_dir)
    views = []
    for v, b in enumerate(rec['images']):
      try:
        views.append(decode_jpeg(b))
      except ValueError as e:
        raise _damaged(f'{self.where} record {k} view {v}', str(e), self.data_dir) from None
    return np.stack(views)

  def __getitem__(self, idx):
    if isinstance(idx, (int, np.integer)):
      return self.row(int(idx))
    rows = np.arange(len(self))[idx]
    return np.stack(list(self._pool.map(self.row, rows))) if len(rows) else \
        np.zeros((0,) + self.shape[1:], np.uint8)


def load_split(b, split: str, num_threads: int = 4) -> dict:
  """A split's labels in memory and its images decoded on access, in a stable order.

  Labels are read once (no image decoding) and cached next to the dataset in
  ``labels_<split>.npz`` (written atomically).

  Returns:
    dict with 'images' (EncodedImages [N, V, S, S, 3]), 'cams' (Camera [N, V] with the dataset's
    lens model), 'box', 'view_valid', 'pose_3d', 'has_pose_3d', 'keypoints_2d', 'subject',
    'sequence', 'frame' and 'index' (the record of each row). Missing views (view_valid False)
    carry a copy of a present view's camera.
  Raises:
    ValueError: on non-finite labels or cameras, naming the dataset, split and field.
    DamagedFile: (a ValueError) on a damaged shard (:func:`read_record`).
  """
  source = b.as_data_source(split=split)
  where = f'{b.data_dir} split {split!r}'
  cache = os.path.join(b.data_dir, f'labels_{split}.npz')
  out = _read_cache(cache)
  if out is None:
    cols = {k: [] for k in LABEL_FIELDS}
    for i in tqdm.trange(len(source), desc=f'labels of {split}', unit='frame', leave=False):
      row = read_record(source, i, where=where, data_dir=b.data_dir)   # images dropped at once
      for k in LABEL_FIELDS:
        v = row[k]
        cols[k].append(v.decode() if isinstance(v, bytes) else
                       str(v) if k in ('subject', 'sequence') else np.asarray(v))
    key = [f'{s}/{q}/{int(f):08d}' for s, q, f in zip(cols['subject'], cols['sequence'],
                                                       cols['frame'])]
    order = np.argsort(np.array(key), kind='stable')
    out = {k: (np.array(v) if k in ('subject', 'sequence') else np.stack(v))[order]
           for k, v in cols.items()}
    out['index'] = order
    try:
      arrays_lib.save_npz_atomic(cache, **out)
    except OSError as e:     # a read-only dataset folder: read the labels again next time
      logging.warning('%s: labels cache not written (%s)', cache, e)
  out = split_dict(out, where=where, dist_model=b.dist_model)
  out['images'] = EncodedImages(source, out['index'], b.image_size,
                                len(b.adapter.camera_names), num_threads, where=where,
                                data_dir=b.data_dir)
  return out


def _read_cache(path: str) -> dict | None:
  """The labels cache, or None when absent or damaged (a truncated or corrupt file: a warning
  naming it, and the labels are read from the dataset again and the cache rewritten)."""
  if not os.path.exists(path):
    return None
  try:
    out = arrays_lib.load_npz(path)
  except arrays_lib.DamagedFile as e:
    logging.warning('%s: damaged labels cache (%s); reading the labels from the dataset again',
                    path, e.reason)
    return None
  missing = [k for k in LABEL_FIELDS + ('index',) if k not in out]
  if missing:
    logging.warning('%s: labels cache lacks %s; reading the labels from the dataset again', path,
                    ', '.join(missing))
    return None
  return out


def split_dict(cols: dict, *, where: str, dist_model: str) -> dict:
  """Label columns read from a build -> the split dict every stage takes (both dataset kinds).

  Checks that the numeric labels are finite, gives a missing view (view_valid False) the camera
  of the frame's first present view (its image is black and every loss and DLT weight masks it,
  so no computation ever sees an all-zero camera) and joins K, R, t, dist [N, V, ...] into one
  Camera pytree 'cams'.

  Raises:
    ValueError: naming ``where`` and the field on non-finite values.
  """
  out = dict(cols)
  for k in ('K', 'R', 't', 'dist', 'box', 'pose_3d', 'keypoints_2d'):
    if k in out and not np.all(np.isfinite(out[k])):
      raise ValueError(f'{where}: field {k!r} has non-finite values')
  first = np.argmax(out['view_valid'], axis=1)
  rows = np.arange(len(first))
  for k in ('K', 'R', 't', 'dist'):
    out[k] = np.where(out['view_valid'].reshape(out['view_valid'].shape + (1,) * (out[k].ndim - 2)),
                      out[k], out[k][rows, first][:, None])
  out['cams'] = camlib.Camera(K=out.pop('K'), R=out.pop('R'), t=out.pop('t'),
                              dist=out.pop('dist'), dist_model=dist_model)
  return out
