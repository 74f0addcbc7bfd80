"""The training loop shared by every stage: resumable, logged, checked for divergence.

``train_and_evaluate(config, workdir)`` (called by launch.py) dispatches to the stages in
:mod:`mvssl.train.stages`; :func:`train_loop` is the one loop they all use.
"""

from __future__ import annotations

import json
import logging
import os
import time

import jax
import numpy as np

from mvssl import parallel
from mvssl.data import input_pipeline
from mvssl.train import checkpointing
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib

log = logging.getLogger('mvssl')


def _fmt_eta(seconds):
  seconds = int(max(seconds, 0))
  return f'{seconds // 3600}h{seconds // 60 % 60:02d}m{seconds % 60:02d}s' if seconds >= 3600 \
      else f'{seconds // 60}m{seconds % 60:02d}s'


def _check_finite(name, step, metrics):
  for k in ('loss', 'grad_norm', 'param_norm'):
    if k in metrics and not np.isfinite(metrics[k]):
      raise FloatingPointError(
          f'[{name}] {k} is {metrics[k]} at step {step}: training diverged (lower the learning '
          f'rate or check the inputs); the last good checkpoint is kept')


def train_loop(name: str, state: state_lib.TrainState, loss_fn, arrays: dict, stage_cfg, *,
               workdir: str, mesh, parallel_mode: str = 'shard_map', seed: int = 0,
               log_every: int = 50, save_every: int = 500, augment_fn=None,
               num_threads: int = 4, prefetch: int = 16, callbacks=()):
  """Trains ``state`` for ``stage_cfg.steps`` steps on ``arrays``, resuming from the workdir.

  Args:
    name: stage name; checkpoints go to ``workdir/checkpoints/name``, metrics to
      ``workdir/name/metrics.jsonl``.
    state: freshly initialised TrainState (replaced by the checkpoint if one exists).
    loss_fn: loss_fn(model, batch) -> (loss, aux dict).
    arrays: dict of arrays with a leading example axis N (numpy, or lazily decoded images).
    stage_cfg: steps, batch_size (global, divisible by the device count), lr, warmup.
    augment_fn: optional fn(example, np.random.Generator) -> example, run per example in the
      input pipeline's background threads (:mod:`mvssl.data.input_pipeline`).
    num_threads, prefetch: input pipeline threads and prefetch buffer (examples).
    callbacks: fns(step, metrics) called after every step on the host (metrics on device).
  Returns:
    The trained TrainState (host-replicated arrays).
  Raises:
    FloatingPointError: if the loss, gradient norm or parameter norm stops being finite.
  """
  ckpt = checkpointing.Checkpointer(os.path.join(workdir, 'checkpoints', name),
                                    save_every=save_every)
  start = ckpt.latest_step() or 0
  if start:
    state = ckpt.restore(state)
    log.info('[%s] resumed from step %d', name, start)
  total = int(stage_cfg.steps)
  os.makedirs(os.path.join(workdir, name), exist_ok=True)
  if start >= total:
    log.info('[%s] already complete (%d steps)', name, total)
    ckpt.close()
    return state
  ds = input_pipeline.make_dataset(arrays, batch_size=int(stage_cfg.batch_size), seed=seed,
                                   augment_fn=augment_fn)
  data_state = ckpt.restore_data_state(start) if start else None
  if start and data_state is None:
    raise FileNotFoundError(f'{ckpt.manager.directory}/{start}: checkpoint has no input '
                            f'iterator state; cannot resume the exact sample order')
  batches = input_pipeline.iterator(ds, num_threads=num_threads, prefetch=prefetch,
                                    state=data_state)
  step_fn = parallel.data_parallel(step_lib.make_train_step(loss_fn), mesh,
                                   parallel=parallel_mode)
  state = parallel.replicate(state, mesh)
  metrics_path = os.path.join(workdir, name, 'metrics.jsonl')
  t0, last_t, last_step = time.time(), time.time(), start
  try:
    with open(metrics_path, 'a') as mfile, jax.transfer_guard('disallow'):
      for step in range(start, total):
        batch = next(batches)
        state, metrics = step_fn(state, parallel.shard_batch(batch, mesh))
        done = step + 1
        if done % log_every == 0 or done == total:
          m = {k: float(v) for k, v in jax.device_get(metrics).items()}
          _check_finite(name, done, m)
          now = time.time()
          rate = (done - last_step) / max(now - last_t, 1e-9)
          last_t, last_step = now, done
          parts = ' '.join(f'{k}={v:.4g}' for k, v in m.items() if k not in ('param_norm',))
          log.info('[%s] step %d/%d %s | %.2f steps/s ETA %s', name, done, total, parts, rate,
                   _fmt_eta((total - done) / max(rate, 1e-9)))
          mfile.write(json.dumps(dict(step=done, time=now - t0, **m)) + '\n')
          mfile.flush()
        if done % save_every == 0 or done == total:
          with jax.transfer_guard('allow'):   # Orbax reads the arrays back to host
            ckpt.save(done, state, force=done == total, data_state=batches.get_state())
        for cb in callbacks:
          cb(done, metrics)
  finally:
    ckpt.wait()     # an exception must not lose a checkpoint still being written
    ckpt.close()
  _plot_metrics(metrics_path, os.path.join(workdir, name, 'loss.png'), name)
  return state


def _plot_metrics(path, out_png, title):
  """Loss curves of a stage -> PNG."""
  import matplotlib
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt
  rows = [json.loads(line) for line in open(path)]
  if not rows:
    return
  keys = [k for k in rows[0] if k not in ('step', 'time', 'grad_norm', 'param_norm')]
  fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 2.8), squeeze=False)
  for ax, k in zip(axes[0], keys):
    ax.plot([r['step'] for r in rows], [r[k] for r in rows])
    ax.set_title(k)
    ax.set_xlabel('step')
  fig.suptitle(title)
  fig.tight_layout()
  fig.savefig(out_png, dpi=90)
  plt.close(fig)


def train_and_evaluate(config, workdir: str):
  """Runs ``config.stage`` ('all', a single stage, or 'pose2sim') in ``workdir``."""
  from mvssl.train import stages  # noqa: PLC0415 (keeps launch.py's import light)
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, 'config.json'), 'w') as f:
    f.write(config.to_json_best_effort(indent=2))
  return stages.run(config, workdir)
