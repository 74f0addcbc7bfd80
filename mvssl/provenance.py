"""What made a result: code, environment, device, seeds and command (every results file has it).

  {"command": "launch.py --config=configs/study.py --workdir=runs/study", "commit": "1a2b3c4...",
   "dirty": false, "lock": "sha256:9f...", "packages": {"jax": "0.10.2", ...},
   "python": "3.11.7", "device": "cpu x2", "seeds": [0, 1, 2, 3, 4],
   "created": "2026-12-05T10:00:00Z"}

``commit`` / ``dirty``: the git checkout the ``mvssl`` package was imported from ('unknown' when
it is not one); ``lock``: SHA-256 of that checkout's ``requirements.lock`` (tools/lock.py), the
exact versions every package was installed at; ``packages``: the versions actually imported.
A workdir keeps the provenance of every command run in it (``provenance.json``, a list, newest
last), so a table aggregated later still names the code that trained each model.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOCK = 'requirements.lock'
PACKAGES = ('jax', 'jaxlib', 'flax', 'optax', 'orbax-checkpoint', 'chex', 'numpy', 'scipy',
            'ml-collections', 'tensorflow-datasets', 'grain', 'opencv-python-headless', 'torch')
FILE = 'provenance.json'


def _git(*args: str) -> str:
  try:
    out = subprocess.run(['git', '-C', ROOT, *args], capture_output=True, text=True, timeout=20,
                         check=True)
  except (OSError, subprocess.SubprocessError):
    return ''
  return out.stdout.strip()


def lock_digest(root: str = ROOT) -> str:
  """'sha256:<hex>' of ``requirements.lock`` under ``root`` ('' when there is none)."""
  path = os.path.join(root, LOCK)
  if not os.path.exists(path):
    return ''
  with open(path, 'rb') as f:
    return 'sha256:' + hashlib.sha256(f.read()).hexdigest()


def packages() -> dict:
  """{distribution: version} of the packages results depend on that are installed."""
  out = {}
  for name in PACKAGES:
    try:
      out[name] = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
      pass
  return out


def device() -> str:
  """'<device kind> x<count>' of JAX's default backend (e.g. 'cpu x2', 'NVIDIA H200 x1')."""
  import jax  # noqa: PLC0415 (only when asked: keeps this module importable without a backend)
  devs = jax.devices()
  kind = devs[0].device_kind if devs else 'none'
  if devs and devs[0].platform == 'cpu':
    kind = f'cpu ({os.cpu_count()} cores, {platform.machine()})'
  return f'{kind} x{len(devs)}'


def collect(seeds=None, command: str | None = None) -> dict:
  """This process's provenance (module docstring)."""
  commit = _git('rev-parse', 'HEAD') or 'unknown'
  dirty = bool(_git('status', '--porcelain', '--untracked-files=no')) if commit != 'unknown' \
      else None
  if command is None:
    spec = getattr(sys.modules.get('__main__'), '__spec__', None)   # python -m mvssl.stats ...
    command = ' '.join([f'python -m {spec.name}' if spec and spec.name else
                        os.path.basename(sys.argv[0])] + sys.argv[1:])
  return dict(
      command=command,
      commit=commit, dirty=dirty, lock=lock_digest(), packages=packages(),
      python=platform.python_version(), device=device(),
      seeds=[int(s) for s in seeds] if seeds is not None else None,
      created=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'))


def write_json(path: str, data: dict, seeds=None) -> dict:
  """Writes ``data`` with ``provenance: {written_by: collect(seeds)}`` to ``path`` as JSON (a
  results file of a tool or benchmark, e.g. under docs/results/) and returns what it wrote."""
  out = dict(data, provenance=dict(written_by=collect(seeds)))
  with open(path, 'w') as f:
    json.dump(out, f, indent=1)
  return out


def record(workdir: str, seeds=None) -> dict:
  """Appends this command's provenance to ``workdir/provenance.json`` (atomically) and returns
  it."""
  entry = collect(seeds)
  extend(workdir, [entry])
  return entry


def extend(workdir: str, entries: list) -> None:
  """Appends to ``workdir/provenance.json`` (atomically) those of ``entries`` it lacks: the
  commands that made results brought in from elsewhere (a study's shards)."""
  path = os.path.join(workdir, FILE)
  history = history_of(workdir)
  history += [e for e in entries if e not in history]
  tmp = f'{path}.{os.getpid()}.tmp'
  with open(tmp, 'w') as f:
    json.dump(history, f, indent=1)
  os.replace(tmp, path)


def history_of(workdir: str) -> list:
  """The provenance of every command run in ``workdir`` (oldest first; [] when none or
  unreadable)."""
  path = os.path.join(workdir, FILE)
  try:
    with open(path) as f:
      out = json.load(f)
    return out if isinstance(out, list) else []
  except (OSError, ValueError):
    return []
