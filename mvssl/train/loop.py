"""The training loop every run uses: resumable, logged, checked for divergence.

It knows no stage, run table or dataset: it trains a state on a pytree of arrays with a loss
function (:mod:`mvssl.train.stages` supplies both).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time

import jax

from mvssl import parallel
from mvssl import plots
from mvssl.data import input_pipeline
from mvssl.train import checkpointing
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib
from mvssl.train import summaries

log = logging.getLogger('mvssl')


def _fmt_eta(seconds):
  seconds = int(max(seconds, 0))
  return f'{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s' if seconds >= 3600 \
      else f'{seconds // 60}m{seconds % 60:02d}s'


def check_finite(name, step, metrics):
  """Raises FloatingPointError when the loss, gradient norm or parameter norm is not finite."""
  for k in ('loss', 'grad_norm', 'param_norm'):
    if k in metrics and not math.isfinite(metrics[k]):
      raise FloatingPointError(
          f'[{name}] {k} is {metrics[k]} at step {step}: training diverged (lower the learning '
          f'rate or check the inputs); the last good checkpoint is kept')


def trim_metrics(path: str, step: int) -> int:
  """Keeps the rows of a metrics.jsonl up to ``step`` (the checkpoint a run resumes from): the
  rows logged after it are logged again, so without this a resumed run has them twice; a row
  cut short by a crash is dropped. Rewritten atomically. Returns the rows dropped."""
  if not os.path.exists(path):
    return 0
  keep, dropped = [], 0
  with open(path) as f:
    for line in f:
      try:
        row = json.loads(line)
      except json.JSONDecodeError:
        dropped += 1
        continue
      if isinstance(row, dict) and row.get('step', step + 1) <= step:
        keep.append(json.dumps(row) + '\n')
      else:
        dropped += 1
  if dropped:
    with open(path + '.tmp', 'w') as f:
      f.writelines(keep)
    os.replace(path + '.tmp', path)
  return dropped


def train_loop(name: str, state: state_lib.TrainState, loss_fn, arrays, schedule, *,
               workdir: str, mesh, parallel_mode: str = 'shard_map', seed: int = 0,
               log_every: int = 50, save_every: int = 500, augment_fn=None,
               num_threads: int = 4, prefetch: int = 16, callbacks=(), project=None,
               lr_fn=None):
  """Trains ``state`` for ``schedule.steps`` steps on ``arrays``, resuming from the workdir.

  A checkpoint step that cannot be read (a file missing or corrupt) is renamed
  ``damaged.<step>`` (kept) with a warning, and training resumes from the step before it.

  Args:
    name: run name; checkpoints go to ``workdir/checkpoints/name``, metrics to
      ``workdir/name/metrics.jsonl``, ``loss.png`` and TensorBoard event files
      (:mod:`mvssl.train.summaries`; process 0 only).
    state: freshly initialised TrainState (replaced by the checkpoint if one exists).
    loss_fn: loss_fn(model, batch) -> (loss, aux dict).
    arrays: pytree (dict) of arrays with a leading example axis N (numpy, lazily decoded images,
      Camera leaves), see :mod:`mvssl.train.step` for the keys.
    schedule: steps, batch_size (global, divisible by the device count).
    mesh, parallel_mode: the data-parallel mesh and 'shard_map' | 'pmap'.
    augment_fn: optional fn(example, np.random.Generator) -> example, run per example in the
      input pipeline's background threads (:mod:`mvssl.data.input_pipeline`).
    num_threads, prefetch: input pipeline threads and prefetch buffer (examples).
    callbacks: fns(step, metrics) called after every step on the host (metrics on device).
    project: optional map of the parameters after every update (:func:`step.make_train_step`).
    lr_fn: optional fn(update index) -> learning rate, logged as ``lr``.
  Returns:
    The trained TrainState (replicated on the mesh).
  Raises:
    FloatingPointError: if the loss, gradient norm or parameter norm stops being finite.
  """
  ckpt = checkpointing.Checkpointer(os.path.join(workdir, 'checkpoints', name),
                                    save_every=save_every)
  start, data_state = ckpt.latest_step() or 0, None
  while start:     # a damaged step is set aside (kept) and the previous one resumed from
    try:
      state = ckpt.restore(state, start)
      data_state = ckpt.restore_data_state(start)
      break
    except checkpointing.DamagedCheckpoint as e:
      moved = ckpt.set_aside(start)
      start = ckpt.latest_step() or 0
      log.warning('[%s] %s; kept as %s, resuming from %s', name, e, moved,
                  f'step {start}' if start else 'scratch')
  if start:
    log.info('[%s] resumed from step %d', name, start)
  total = int(schedule.steps)
  writer = parallel.is_main_process()
  if writer:
    os.makedirs(os.path.join(workdir, name), exist_ok=True)
  if start >= total:
    log.info('[%s] already complete (%d steps)', name, total)
    ckpt.close()
    return state
  ds = input_pipeline.make_dataset(arrays, batch_size=int(schedule.batch_size), seed=seed,
                                   augment_fn=augment_fn)
  if start and data_state is None:
    raise FileNotFoundError(f'{ckpt.manager.directory}/{start}: checkpoint has no input '
                            f'iterator state; cannot resume the exact sample order')
  batches = input_pipeline.iterator(ds, num_threads=num_threads, prefetch=prefetch,
                                    state=data_state)
  dp = parallel.DataParallel(step_lib.make_train_step(loss_fn, seed=seed, project=project), mesh,
                             parallel=parallel_mode)
  state = dp.put_state(state)
  metrics_path = os.path.join(workdir, name, 'metrics.jsonl')
  if writer:
    trim_metrics(metrics_path, start)
  t0, last_t, last_step = time.time(), time.time(), start
  mfile = open(metrics_path, 'a') if writer else None
  events = (summaries.Summaries(os.path.join(workdir, name), purge_step=start + 1 if start else None)
            if writer else None)
  try:
    with jax.transfer_guard('disallow'):
      for step in range(start, total):
        state, metrics = dp(state, dp.put_batch(next(batches)))
        done = step + 1
        if done % log_every == 0 or done == total:
          m = {k: float(v) for k, v in jax.device_get(metrics).items()}
          check_finite(name, done, m)
          if lr_fn is not None:
            with jax.transfer_guard('allow'):         # optax schedules compute with jnp
              m['lr'] = float(lr_fn(step))
          now = time.time()
          rate = (done - last_step) / max(now - last_t, 1e-9)
          last_t, last_step = now, done
          parts = ' '.join(f'{k}={v:.4g}' for k, v in m.items() if k not in ('param_norm',))
          log.info('[%s] step %d/%d %s | %.2f steps/s ETA %s', name, done, total, parts, rate,
                   _fmt_eta((total - done) / max(rate, 1e-9)))
          if mfile:
            mfile.write(json.dumps(dict(step=done, time=now - t0, **m)) + '\n')
            mfile.flush()
            events.scalars(done, dict(m, steps_per_s=rate))
        if done % save_every == 0 or done == total:
          with jax.transfer_guard('allow'):   # Orbax reads the arrays back to host
            ckpt.save(done, dp.get_state(state), force=done == total,
                      data_state=batches.get_state())
        for cb in callbacks:
          cb(done, metrics)
  finally:
    try:
      ckpt.wait()     # an exception must not lose a checkpoint still being written
      ckpt.close()
    finally:          # closed even when the wait raises (a full disk)
      if mfile:
        try:
          mfile.close()
        finally:
          events.close()
  if writer:
    with open(metrics_path) as f:
      plots.loss_curves([json.loads(line) for line in f], os.path.join(workdir, name, 'loss.png'),
                        name)
  return dp.get_state(state)
