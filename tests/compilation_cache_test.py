"""JAX's persistent compilation cache: on by default in a per-user folder, movable, and off on
request; a second process reads what the first compiled instead of compiling it again."""

import os
import subprocess
import sys
from unittest import mock

import chex

from mvssl import compilation_cache

ROOT = os.path.join(os.path.dirname(__file__), '..')
SCRIPT = """
import sys
import jax
import jax.numpy as jnp
from mvssl import compilation_cache
misses = []
jax.monitoring.register_event_listener(
    lambda name, **kw: misses.append(name) if name.endswith('cache_misses') else None)
print('dir', compilation_cache.setup(sys.argv[1]))
jax.jit(lambda x: jnp.sin(x) * 3.0 + jnp.arange(7.0))(1.0).block_until_ready()
print('misses', len(misses))
"""


def _run(setting, env=None):
  out = subprocess.run([sys.executable, '-c', SCRIPT, setting], capture_output=True, text=True,
                       cwd=ROOT, env=dict(os.environ, **(env or {})), timeout=300)
  assert out.returncode == 0, out.stderr[-2000:]
  lines = dict(line.split(' ', 1) for line in out.stdout.strip().splitlines())
  return lines['dir'], int(lines['misses'])


def _entries(path):
  return sorted(f for f in os.listdir(path) if not f.startswith('.')) if os.path.isdir(path) \
      else []


class CompilationCacheTest(chex.TestCase):

  def test_where_it_goes(self):
    with mock.patch.dict(os.environ, {'XDG_CACHE_HOME': '/x/cache'}, clear=False):
      os.environ.pop('JAX_COMPILATION_CACHE_DIR', None)
      self.assertEqual(compilation_cache.resolve(''), '/x/cache/mvssl/jax')
    with mock.patch.dict(os.environ, {'JAX_COMPILATION_CACHE_DIR': '/env/cache'}):
      self.assertEqual(compilation_cache.resolve(''), '/env/cache')
      self.assertEqual(compilation_cache.resolve('/moved'), '/moved')
      self.assertIsNone(compilation_cache.resolve('off'))

  def test_moved_a_second_process_compiles_nothing_and_off_writes_nothing(self):
    moved = os.path.join(self.create_tempdir().full_path, 'moved', 'cache')
    used, first = _run(moved)
    self.assertEqual(used, moved)
    written = _entries(moved)
    self.assertTrue(written)                       # the first run filled it
    self.assertGreater(first, 0)
    _, second = _run(moved)
    self.assertEqual(second, 0)                    # the second compiled nothing new
    self.assertEqual(_entries(moved), written)
    off_dir = self.create_tempdir().full_path
    used, _ = _run('off', env={'JAX_COMPILATION_CACHE_DIR': off_dir})
    self.assertEqual(used, 'None')
    self.assertEqual(_entries(off_dir), [])        # disabled: nothing written anywhere it names
