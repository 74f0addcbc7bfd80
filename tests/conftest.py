"""Test setup: 2 fake CPU devices for the data-parallel tests, a compilation cache for the
session, and the shared real-data folder."""

import atexit
import os
import shutil
import tempfile

# The tests compile the same smoke-size functions again and again, in this process and in the
# launch.py subprocesses they start (which inherit these variables): JAX's persistent
# compilation cache, in a folder of this session only, compiles each once.
if 'JAX_COMPILATION_CACHE_DIR' not in os.environ:
  _cache = tempfile.mkdtemp(prefix='mvssl-test-jax-cache-')
  atexit.register(shutil.rmtree, _cache, ignore_errors=True)
  os.environ.update(JAX_COMPILATION_CACHE_DIR=_cache,
                    JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS='0',
                    JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES='-1')

# Most of what the tests compile is small and runs once: LLVM's optimisation of each program
# costs more time than it saves. XLA's own passes (fusion, simplification) still run and no
# fast-math is enabled, so the arithmetic is IEEE as in a run; the subprocesses inherit it.
if '--xla_backend_optimization_level' not in os.environ.get('XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                             ' --xla_backend_optimization_level=0').strip()

import jax  # noqa: E402

jax.config.update('jax_num_cpu_devices', 2)
jax.config.update('jax_platforms', 'cpu')

import pytest  # noqa: E402
from absl import flags  # noqa: E402

# absltest helpers (create_tempdir) read flags; pytest does not parse them.
flags.FLAGS.mark_as_parsed()

SHARED_DATA = os.environ.get(
    'MVSSL_SHARED_DATA',
    os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'data'))


def shared_path(*parts):
  """Path under the shared real-data folder, or skip the test with the reason."""
  p = os.path.join(SHARED_DATA, *parts)
  if not os.path.exists(p):
    pytest.skip(f'real data not found at {p} (set MVSSL_SHARED_DATA to ../shared/data)')
  return p
