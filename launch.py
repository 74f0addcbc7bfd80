"""mvssl entry point (flax-examples style): flags -> mvssl.main.train_and_evaluate.

  python launch.py --config=configs/default.py --workdir=runs/default [--config.key=value ...]
"""

import errno
import logging
import os
import re
import sys
from typing import NoReturn

from absl import app
from absl import flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for data, checkpoints, P-GT and results.')
config_flags.DEFINE_config_file('config', None, 'Training configuration.', lock_config=True)
flags.DEFINE_bool('distributed', False, 'Call jax.distributed.initialize() (multi-host runs); '
                  'on a TPU pod or a SLURM / Open MPI cluster it finds its peers itself.')
flags.DEFINE_string('coordinator', None, 'With --distributed elsewhere: host:port of process 0.')
flags.DEFINE_integer('num_processes', None, 'With --coordinator: how many processes take part.')
flags.DEFINE_integer('process_id', None, 'With --coordinator: this process, 0 .. N-1.')
flags.DEFINE_integer('cpu_devices', 0, 'Run on this many CPU devices (0: the platform default); '
                     'e.g. to try multi-device or multi-process runs on one machine.')
flags.DEFINE_bool('debug', False, 'Show the traceback of an error instead of its one line.')
flags.mark_flags_as_required(['config', 'workdir'])


def parse_flags(argv):
  """absl's flag parsing, with one line (not a traceback) for an override of an undeclared
  config field."""
  try:
    return FLAGS(argv)
  except (KeyError, AttributeError, flags.Error) as e:
    overrides = ' '.join(a for a in argv[1:] if a.startswith('--config.')) or ' '.join(argv[1:])
    what = ' '.join(str(e.args[0] if e.args else e).replace('\\n', ' ').replace("\\'", "'")
                    .split())
    unknown = isinstance(e, KeyError) or 'Did you mean' in what
    sys.exit(f'error: {"unknown config field " if isinstance(e, KeyError) else ""}{what} (in '
             f'{overrides})' + ('; the fields a config may set are declared in configs/default.py'
                                if unknown else ''))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', datefmt='%H:%M:%S',
                      force=True)
  for noisy in ('absl', 'jax', 'orbax', 'tensorflow_datasets'):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  if not FLAGS.debug:
    quiet_closed_loop()
  if not FLAGS.debug:     # Orbax's background writes log each failed future with its traceback;
    logging.getLogger('asyncio').setLevel(logging.CRITICAL)   # the error reaches us too and is
    logging.getLogger('absl').addFilter(_no_orbax_traceback)    # said in one line at the end
  import jax  # noqa: PLC0415 (after logging setup)
  if FLAGS.cpu_devices:
    jax.config.update('jax_platforms', 'cpu')
    jax.config.update('jax_num_cpu_devices', FLAGS.cpu_devices)
  from mvssl import compilation_cache  # noqa: PLC0415
  compilation_cache.setup(FLAGS.config.compilation_cache)   # before anything compiles
  if FLAGS.distributed:
    # CPU devices of different processes talk through gloo (the GPU/TPU backends bring theirs).
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
    jax.distributed.initialize(coordinator_address=FLAGS.coordinator,
                               num_processes=FLAGS.num_processes, process_id=FLAGS.process_id)
  from mvssl import main as mvssl_main  # noqa: PLC0415 (after logging setup)
  logging.getLogger('mvssl').info('JAX %s on %d %s device(s)', jax.__version__,
                                  jax.device_count(), jax.devices()[0].platform)
  try:
    mvssl_main.train_and_evaluate(FLAGS.config, FLAGS.workdir)
  except (ValueError, KeyError, OSError, FloatingPointError) as e:
    if FLAGS.debug:
      raise
    msg = e.args[0] if isinstance(e, KeyError) and e.args else e
    full = disk_full(e)
    if full:
      msg = (f'disk full: {full}; free space where --workdir={FLAGS.workdir} lives, then run the '
             f'same command again: every stage resumes from what it had completed')
    fail(f'error: {msg}\n(--debug shows the traceback)')


def fail(message: str) -> NoReturn:
  """Ends the run with its one-line error (sys.exit's status 1), and nothing after it: the reads
  and writes Orbax had in flight when it failed leave coroutines that no loop will run, and Python
  would otherwise print 'coroutine ... was never awaited' for each at exit (which of them are left
  depends on thread timing). Raises SystemExit."""
  import warnings  # noqa: PLC0415
  warnings.filterwarnings('ignore', message=r'coroutine .* was never awaited',
                          category=RuntimeWarning)
  sys.exit(message)


def quiet_closed_loop() -> None:
  """When an Orbax read or write fails (a damaged checkpoint, a full disk), the TensorStore
  operations it had in flight still finish in their own threads and hand their results to
  Orbax's asyncio loop, already closed by the failure: each hand-over raised 'RuntimeError: Event
  loop is closed' and TensorStore printed its traceback (dozens, around the one-line error),
  which says nothing about the error. A closed loop now drops such a hand-over instead: nobody
  can await its result any more. A coroutine the hand-over carried (asyncio.
  run_coroutine_threadsafe's) is closed unrun, so that it does not end the run with Python's
  'coroutine ... was never awaited' warning after the one-line error. Not with --debug."""
  import asyncio  # noqa: PLC0415
  import inspect  # noqa: PLC0415
  original = asyncio.BaseEventLoop.call_soon_threadsafe

  def call_soon_threadsafe(self, callback, *args, **kwargs):
    if self.is_closed():
      for cell in getattr(callback, '__closure__', None) or ():
        try:
          held = cell.cell_contents
        except ValueError:      # an empty cell
          continue
        if inspect.iscoroutine(held):
          held.close()
      return None
    return original(self, callback, *args, **kwargs)
  asyncio.BaseEventLoop.call_soon_threadsafe = call_soon_threadsafe


def _no_orbax_traceback(record: logging.LogRecord) -> bool:
  """Keeps Orbax's log records to their one line (no traceback)."""
  if record.exc_info and f'{os.sep}orbax{os.sep}' in (record.pathname or ''):
    record.exc_info, record.exc_text = None, None
  return True


def disk_full(e: BaseException) -> str | None:
  """What could not be written when ``e`` (or its cause) says the disk is full (ENOSPC, as an
  OSError or as the RESOURCE_EXHAUSTED ValueError of Orbax's TensorStore), else None."""
  while e is not None:
    text = str(e)
    if getattr(e, 'errno', None) == errno.ENOSPC or 'No space left on device' in text:
      path = getattr(e, 'filename', None) or next(iter(re.findall(r'"([^"]+)"', text)), '')
      return f'no space left writing {path}' if path else 'no space left on device'
    e = e.__cause__ or e.__context__
  return None


if __name__ == '__main__':
  app.run(main, flags_parser=parse_flags)
