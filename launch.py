"""mvssl entry point (flax-examples style).

  python launch.py --config=configs/default.py --workdir=runs/default [--config.key=value ...]
"""

import logging
import os

from absl import app
from absl import flags
from ml_collections import config_flags

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'Directory for data, checkpoints, P-GT and results.')
config_flags.DEFINE_config_file('config', None, 'Training configuration.', lock_config=True)
flags.DEFINE_bool('distributed', False, 'Call jax.distributed.initialize() (multi-host runs).')
flags.mark_flags_as_required(['config', 'workdir'])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', datefmt='%H:%M:%S',
                      force=True)
  for noisy in ('absl', 'jax', 'orbax', 'tensorflow_datasets'):
    logging.getLogger(noisy).setLevel(logging.WARNING)
  import jax  # noqa: PLC0415 (after logging setup)
  if FLAGS.distributed:
    jax.distributed.initialize()
  from mvssl.train import trainer  # noqa: PLC0415
  logging.getLogger('mvssl').info('JAX %s on %d %s device(s)', jax.__version__,
                                  jax.device_count(), jax.devices()[0].platform)
  trainer.train_and_evaluate(FLAGS.config, FLAGS.workdir)


if __name__ == '__main__':
  app.run(main)
