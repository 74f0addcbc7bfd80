"""JAX's persistent compilation cache, on by default: every command (launch.py's stages,
mvssl.predict) compiles a function once per machine and reads it back afterwards.

Where (``config.compilation_cache`` for launch.py, ``--compilation_cache`` for mvssl.predict):

* ``''`` (default): the environment's ``JAX_COMPILATION_CACHE_DIR`` when set (the tests set one
  per session), else a per-user folder: ``$XDG_CACHE_HOME/mvssl/jax`` or
  ``~/.cache/mvssl/jax``;
* a folder: there (created when missing);
* ``'off'``: no persistent cache.

Every compiled function is kept (JAX's default keeps only those that took a second or more to
compile; the start-up of a command is many smaller ones). Entries are keyed by JAX on the
computation, the backend and its version, so a cache is safe to share between runs and
configs; delete the folder to reclaim its space.
"""

from __future__ import annotations

import logging
import os

OFF = 'off'


def default_dir() -> str:
  """The per-user cache folder: $XDG_CACHE_HOME/mvssl/jax or ~/.cache/mvssl/jax."""
  base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
  return os.path.join(base, 'mvssl', 'jax')


def resolve(setting: str) -> str | None:
  """The folder ``setting`` names (module docstring), or None for ``'off'``."""
  if setting == OFF:
    return None
  if setting:
    return os.path.abspath(os.path.expanduser(setting))
  return os.environ.get('JAX_COMPILATION_CACHE_DIR') or default_dir()


def setup(setting: str = '') -> str | None:
  """Turns the cache on in ``resolve(setting)`` (or off); call before the first compilation.

  Returns:
    the folder used, or None when off or when the folder cannot be made (a warning then: the
    command still runs, compiling everything).
  """
  import jax  # noqa: PLC0415 (after the caller's logging setup)
  path = resolve(setting)
  if path is not None:
    try:
      os.makedirs(path, exist_ok=True)
    except OSError as e:
      logging.getLogger('mvssl').warning('compilation cache %s not usable (%s): compiling '
                                         'everything', path, e)
      path = None
  jax.config.update('jax_compilation_cache_dir', path)
  jax.config.update('jax_enable_compilation_cache', path is not None)
  if path is not None:
    jax.config.update('jax_persistent_cache_min_compile_time_secs', 0.0)
    jax.config.update('jax_persistent_cache_min_entry_size_bytes', -1)
  return path
