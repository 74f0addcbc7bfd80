"""TensorBoard event files beside the JSONL metrics, written without TensorFlow (tensorboardX).

``tensorboard --logdir WORKDIR`` then shows every run of a workdir as its own TensorBoard run
(the folder ``WORKDIR/<run>/`` that also holds ``metrics.jsonl`` and ``loss.png``) and the
evaluation's figures under ``WORKDIR/eval/``.

Tags: ``loss/<term>`` for the loss and each of its terms (``loss/l1``, ``loss/mvc``, ...),
``train/lr``, ``train/steps_per_s``, ``train/grad_norm``, ``train/param_norm``; images under
``eval/<name>``.
"""

from __future__ import annotations

import json
import logging
import math
import os

import numpy as np

LOSS_SKIP = ('grad_norm', 'param_norm', 'lr', 'steps_per_s')


def wall_minutes(run_dir: str) -> float:
  """A run's training wall time (minutes) from its ``metrics.jsonl``: each row's ``time`` counts
  from the start of that process's training, so the time is the sum over the segments between
  resumes (a row whose time is below the previous row's starts a segment) of each segment's last
  time. The time between a segment's last row and a crash is not counted. NaN without rows."""
  path = os.path.join(run_dir, 'metrics.jsonl')
  if not os.path.exists(path):
    return math.nan
  total, last = 0.0, None
  with open(path) as f:
    for line in f:
      try:
        t = float(json.loads(line)['time'])
      except (ValueError, KeyError, TypeError):
        continue
      if last is not None and t < last:
        total += last
      last = t
  return math.nan if last is None else (total + last) / 60.0


def tag(key: str) -> str:
  """The TensorBoard tag of a metrics key: loss terms under ``loss/``, the rest under ``train/``."""
  return f'train/{key}' if key in LOSS_SKIP else f'loss/{key}'


class Summaries:
  """A TensorBoard event writer for one folder.

  Args:
    logdir: the folder (created if missing).
    purge_step: on a resume, the first step logged again: TensorBoard drops the events of the
      earlier files at this step or later (the steps after the checkpoint resumed from), so a
      resumed run shows each step once, as its ``metrics.jsonl`` does.
  """

  def __init__(self, logdir: str, purge_step: int | None = None):
    from tensorboardX import SummaryWriter   # imported here: only process 0 writes events
    os.makedirs(logdir, exist_ok=True)
    self.writer = SummaryWriter(logdir, purge_step=purge_step, flush_secs=30)

  def scalars(self, step: int, metrics: dict[str, float]) -> None:
    """Logs ``{key: value}`` at ``step`` under :func:`tag`'s names."""
    for k, v in metrics.items():
      self.writer.add_scalar(tag(k), float(v), int(step))

  def image(self, name: str, path_or_array, step: int = 0) -> None:
    """Logs an image (a PNG file's path, or an (H, W, 3) uint8 RGB array) as ``eval/<name>``."""
    img = path_or_array
    if isinstance(img, str):
      import matplotlib.image
      img = matplotlib.image.imread(img)
    img = np.asarray(img)
    if img.dtype != np.uint8:                     # matplotlib reads PNGs as floats in [0, 1]
      img = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
    self.writer.add_image(f'eval/{name}', img[..., :3], int(step), dataformats='HWC')

  def close(self) -> None:
    """Flushes and closes; a failed flush (a full disk) is a warning: the events are a copy of
    metrics.jsonl, never a reason to lose the run's real error or result. After a failed flush
    the event threads are stopped and the writers marked closed, so that tensorboardX does not
    retry the write at exit (its atexit hook and its thread each printed a traceback after the
    run's one-line error)."""
    writers = list((self.writer.all_writers or {}).values())
    try:
      self.writer.close()
    except OSError as e:
      logging.getLogger('mvssl').warning('TensorBoard events in %s not all written: %s',
                                         self.writer.logdir, e)
      for fw in writers:
        _abandon(fw.event_writer)


def _abandon(event_writer) -> None:
  """Stops a tensorboardX EventFileWriter whose flush failed, without writing again (pinned
  tensorboardX internals: ``_worker``, ``_closed``)."""
  worker = getattr(event_writer, '_worker', None)
  if worker is not None:
    try:
      worker.stop()
    except (OSError, ValueError):
      pass
  event_writer._closed = True     # noqa: SLF001 (its close() and atexit hook then do nothing)


def _events(logdir: str):
  """TensorBoard's own loader over the event files in ``logdir``, every event kept (no
  TensorFlow needed); a resumed run's purged steps are dropped as TensorBoard shows them."""
  from tensorboard.backend.event_processing import event_accumulator
  acc = event_accumulator.EventAccumulator(logdir, size_guidance={
      event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0})
  acc.Reload()
  return acc


def read_scalars(logdir: str) -> dict[str, list[tuple[int, float]]]:
  """The scalars of the event files in ``logdir``: ``{tag: [(step, value), ...]}`` in step
  order."""
  acc = _events(logdir)
  return {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in acc.Tags()['scalars']}


def read_images(logdir: str) -> dict[str, list[tuple[int, bytes]]]:
  """The images of the event files in ``logdir``: ``{tag: [(step, encoded PNG), ...]}``."""
  acc = _events(logdir)
  return {t: [(e.step, e.encoded_image_string) for e in acc.Images(t)]
          for t in acc.Tags()['images']}
