"""The locked environment: exact versions and hashes of every package, one lock per install.

  python tools/lock.py check      # offline: every lock agrees with pyproject.toml (CI, a test)
  python tools/lock.py compile    # regenerate every lock (needs uv==0.13.9 and the package index)

Locks (``uv pip compile --generate-hashes``; pip installs them with hash checking):

  requirements.lock           [project] dependencies, every platform (universal markers)
  requirements/bench.lock     extra ``bench``: PyTorch's CPU wheel, Linux x86_64
  requirements/docs.lock      extra ``docs``: MkDocs and its theme
  requirements/cuda.lock      extra ``cuda``: JAX's CUDA 12 plugin and CUDA, Linux x86_64
  requirements/tpu.lock       extra ``tpu``: JAX's TPU runtime (libtpu), Linux x86_64

The extras' locks are compiled with the core lock as a constraint, so a package they share has
the same pin everywhere and any of them installs beside ``requirements.lock``. Each lock's
first lines record the SHA-256 of the part of ``pyproject.toml`` it was compiled from;
``check`` fails (exit 1, one line per problem, naming the lock and the remedy) when that part
changed since, or when a requirement of pyproject.toml is not met by the lock's pin.

``lock_digest()`` is the provenance every results file records (:mod:`mvssl.provenance`): the
SHA-256 of ``requirements.lock``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORE = 'requirements.lock'
# extra -> (lock path, input requirements (None: the extra as pyproject.toml declares it),
#           uv target platform (None: universal))
EXTRAS = {
    'bench': ('requirements/bench.lock', ['torch==2.13.0+cpu'], 'x86_64-manylinux_2_28'),
    'docs': ('requirements/docs.lock', None, None),
    'cuda': ('requirements/cuda.lock', None, 'x86_64-manylinux_2_28'),
    'tpu': ('requirements/tpu.lock', None, 'x86_64-manylinux_2_31'),
}
PYTHON = '3.11'
DIGEST = '# pyproject-sha256: '
PIN = re.compile(r'^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$')


def pyproject() -> dict:
  with open(os.path.join(ROOT, 'pyproject.toml'), 'rb') as f:
    return tomllib.load(f)['project']


def section(extra: str | None) -> list[str]:
  """The requirements of pyproject.toml a lock is compiled from (None: the core)."""
  p = pyproject()
  return list(p['dependencies']) if extra is None else list(p['optional-dependencies'][extra])


def digest(extra: str | None) -> str:
  """SHA-256 of a pyproject.toml section (and the Python version the lock targets)."""
  blob = json.dumps(dict(python=PYTHON, requires=section(extra)), sort_keys=True)
  return hashlib.sha256(blob.encode()).hexdigest()


def lock_digest() -> str:
  """'sha256:<hex>' of requirements.lock, as every results file records it."""
  sys.path.insert(0, ROOT)
  from mvssl import provenance  # noqa: PLC0415 (stdlib only at import)
  return provenance.lock_digest(ROOT)


def pins(path: str) -> dict[str, list[tuple[str, str]]]:
  """{normalised name: [(version, marker)]} of a lock."""
  out = {}
  with open(os.path.join(ROOT, path)) as f:
    for line in f:
      m = PIN.match(line.strip())
      if m:
        out.setdefault(_norm(m.group(1)), []).append((m.group(3), (m.group(4) or '').strip()))
  return out


def _norm(name: str) -> str:
  return re.sub(r'[-_.]+', '-', name).lower()


def problems() -> list[str]:
  """What makes the locks disagree with pyproject.toml (empty: they agree)."""
  from packaging.markers import Marker          # noqa: PLC0415 (packaging: in every lock)
  from packaging.requirements import Requirement  # noqa: PLC0415
  from packaging.version import Version          # noqa: PLC0415
  env = dict(python_version=PYTHON, python_full_version=PYTHON + '.7', sys_platform='linux',
             platform_system='Linux', platform_machine='x86_64', os_name='posix',
             implementation_name='cpython', platform_python_implementation='CPython')
  out = []
  for extra, path in [(None, CORE)] + [(e, v[0]) for e, v in EXTRAS.items()]:
    remedy = f'run `python tools/lock.py compile` and commit {path}'
    full = os.path.join(ROOT, path)
    if not os.path.exists(full):
      out.append(f'{path}: missing; {remedy}')
      continue
    with open(full) as f:
      recorded = next((line[len(DIGEST):].strip() for line in f if line.startswith(DIGEST)), '')
    if recorded != digest(extra):
      what = 'dependencies' if extra is None else f'optional-dependencies.{extra}'
      out.append(f'{path}: pyproject.toml [project] {what} changed since the lock was made; '
                 f'{remedy}')
    have = pins(path)
    if extra is not None:               # an extra's lock installs beside the core lock
      for name, got in pins(CORE).items():
        have.setdefault(name, got)
    for spec in section(extra):
      req = Requirement(spec)
      if req.marker is not None and not req.marker.evaluate(env):
        continue
      got = [v for v, marker in have.get(_norm(req.name), [])
             if not marker or Marker(marker).evaluate(env)]
      if not got:
        out.append(f'{path}: {req.name} (pyproject.toml: {spec!r}) is not pinned; {remedy}')
      elif not any(req.specifier.contains(Version(v).public, prereleases=True) for v in got):
        out.append(f'{path}: {req.name}=={got[0]} does not satisfy pyproject.toml {spec!r}; '
                   f'{remedy}')
  return out


def _uv(args: list[str]) -> None:
  cmd = ['uv', 'pip', 'compile', '--quiet', '--generate-hashes', '--no-header',
         '--python-version', PYTHON] + args
  subprocess.run(cmd, check=True, cwd=ROOT)


def _header(path: str, extra: str | None, how: str) -> None:
  full = os.path.join(ROOT, path)
  with open(full) as f:
    body = f.read()
  with open(full, 'w') as f:
    f.write(f'# Generated by `python tools/lock.py compile` ({how}); do not edit.\n'
            f'{DIGEST}{digest(extra)}\n{body}')


def compile_all() -> None:
  """Regenerates every lock (module docstring)."""
  _uv(['pyproject.toml', '--universal', '-o', CORE])
  _header(CORE, None, 'uv pip compile pyproject.toml --universal')
  os.makedirs(os.path.join(ROOT, 'requirements'), exist_ok=True)
  for extra, (path, inputs, platform) in EXTRAS.items():
    with tempfile.NamedTemporaryFile('w', suffix='.in', delete=False) as f:
      f.write('\n'.join(inputs or section(extra)) + '\n')
    where = ['--python-platform', platform] if platform else ['--universal']
    local = ['--find-links', '/opt/wheels'] if extra == 'bench' and os.path.isdir(
        '/opt/wheels') else []
    try:
      _uv([f.name, '-c', CORE, '-o', path] + where + local)
    finally:
      os.unlink(f.name)
    _header(path, extra, f'extra {extra}, {platform or "universal"}, constrained by {CORE}')


def main(argv: list[str]) -> int:
  if argv[1:] == ['compile']:
    compile_all()
    argv = [argv[0], 'check']
  if argv[1:] == ['check']:
    found = problems()
    for p in found:
      print(p)
    if not found:
      print(f'locks agree with pyproject.toml ({lock_digest()})')
    return 1 if found else 0
  print(__doc__)
  return 2


if __name__ == '__main__':
  sys.exit(main(sys.argv))
