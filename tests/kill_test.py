"""kill -9 at moments inside every kind of stage (pre-training before its first checkpoint, the
P-GT as it is written, a fine-tune, the evaluation), each followed by the same command: the run
finishes with the same results and P-GT as one never interrupted (about 5 minutes)."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
from absl.testing import absltest
import pytest

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)

ROOT = os.path.join(os.path.dirname(__file__), '..')
# A line the run prints, at which it is killed: in order, each in a stage of its own.
KILL_AT = ('[base] step 2/4', '[pseudo_label] P-GT of', '[ours] step 2/4',
           '[evaluate] qualitative.png')


def _launch(workdir: str, kill_at: str | None = None) -> tuple[int, str]:
  """launch.py on the smoke config; with ``kill_at``, SIGKILLed when it prints that line.
  Returns (exit code, output)."""
  env = dict(os.environ, PYTHONUNBUFFERED='1')
  proc = subprocess.Popen([sys.executable, os.path.join(ROOT, 'launch.py'),
                           '--config=' + os.path.join(ROOT, 'configs', 'smoke.py'),
                           '--workdir=' + workdir], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
  out = []
  for line in proc.stdout:
    out.append(line)
    if kill_at and kill_at in line:
      proc.send_signal(signal.SIGKILL)
      break
  proc.stdout.close()
  return proc.wait(), ''.join(out)


class KillTest(absltest.TestCase):

  def test_kill_9_anywhere_then_the_same_command_gives_the_same_results(self):
    tmp = self.create_tempdir().full_path
    straight, killed = os.path.join(tmp, 'straight'), os.path.join(tmp, 'killed')
    code, out = _launch(straight)
    self.assertEqual(code, 0, out[-2000:])
    for marker in KILL_AT:
      code, out = _launch(killed, kill_at=marker)
      self.assertEqual(code, -signal.SIGKILL, f'{marker!r} never printed:\n{out[-2000:]}')
    code, out = _launch(killed)
    self.assertEqual(code, 0, out[-2000:])
    a, b = (json.load(open(os.path.join(w, 'results.json'))) for w in (straight, killed))
    for key in ('models', 'triangulated', 'pgt', 'per_joint'):
      self.assertEqual(a[key], b[key], key)
    pa, pb = (np.load(os.path.join(w, 'pgt', 'pgt.npz')) for w in (straight, killed))
    for k in ('pose_world', 'valid', 'target', 'root_depth'):
      np.testing.assert_array_equal(pa[k], pb[k], err_msg=k)
    for w in (straight, killed):
      rows = [json.loads(x)['step'] for x in open(os.path.join(w, 'ours', 'metrics.jsonl'))]
      self.assertEqual(rows, [2, 4])                      # each step once, after the kill too


if __name__ == '__main__':
  absltest.main()
