"""Test setup: 2 fake CPU devices for the data-parallel tests, and the shared real-data folder."""

import os

import jax

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
