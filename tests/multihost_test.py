"""Multi-host for real (issue 11, item 4): two processes on this machine joined by
jax.distributed.initialize (localhost coordinator, gloo CPU collectives), one CPU device each,
each reading its share of the global batch. Killed with SIGKILL in the middle of a run and
restarted, they finish with exactly the parameters of one uninterrupted process with two devices,
and only process 0 writes the metrics (about 3 minutes)."""

import json
import os
import signal
import socket
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
from absl.testing import absltest
import pytest

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)

ROOT = os.path.join(os.path.dirname(__file__), '..')
STEPS = 8
ARGS = ['--config=' + os.path.join(ROOT, 'configs', 'smoke.py'), '--config.stage=base',
        f'--config.schedules.pretrain_single.steps={STEPS}', '--config.save_every=2',
        '--config.log_every=1']


def _cmd(workdir, *extra):
  return [sys.executable, os.path.join(ROOT, 'launch.py'), '--workdir=' + workdir, *ARGS, *extra]


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


def _two_processes(workdir, kill_at=None):
  """Processes 0 and 1 of one run; with ``kill_at``, process 1 is SIGKILLed when process 0 prints
  that line, then process 0 too (it would wait for its peer). -> (exit codes, output of 0)."""
  port, env = _free_port(), dict(os.environ, PYTHONUNBUFFERED='1')
  dist = lambda i: ['--distributed', f'--coordinator=localhost:{port}', '--num_processes=2',
                    f'--process_id={i}', '--cpu_devices=1']
  p1 = subprocess.Popen(_cmd(workdir, *dist(1)), stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, cwd=ROOT, env=env)
  p0 = subprocess.Popen(_cmd(workdir, *dist(0)), stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env)
  out = []
  try:
    for line in p0.stdout:
      out.append(line)
      if kill_at and kill_at in line:
        p1.send_signal(signal.SIGKILL)
        p1.wait()
        p0.send_signal(signal.SIGKILL)
        break
    return (p0.wait(timeout=300), p1.wait(timeout=300)), ''.join(out)
  finally:
    for p in (p0, p1):
      if p.poll() is None:
        p.kill()
    p0.stdout.close()


def _params(workdir):
  path = os.path.join(workdir, 'checkpoints', 'base', str(STEPS), 'default')
  ckpt = ocp.StandardCheckpointer()
  meta = ckpt.metadata(path)
  meta = getattr(meta, 'item_metadata', meta)
  one = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  state = ckpt.restore(path, jax.tree.map(
      lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=one), meta))
  return {k: [np.asarray(x) for x in jax.tree.leaves(state[k])] for k in ('params', 'batch_stats')}


class MultiHostTest(absltest.TestCase):

  def test_two_processes_equal_one_with_two_devices_and_resume_after_kill_9(self):
    tmp = self.create_tempdir().full_path
    one, two = os.path.join(tmp, 'one'), os.path.join(tmp, 'two')
    out = subprocess.run(_cmd(one, '--cpu_devices=2'), capture_output=True, text=True, cwd=ROOT)
    self.assertEqual(out.returncode, 0, out.stderr[-2000:])
    codes, log = _two_processes(two, kill_at=f'[base] step 5/{STEPS}')
    self.assertEqual(codes, (-signal.SIGKILL, -signal.SIGKILL), log[-2000:])
    self.assertIn('in 2 process(es)', log)
    codes, log = _two_processes(two)
    self.assertEqual(codes, (0, 0), log[-2000:])
    self.assertRegex(log, r'\[base\] resumed from step [246]')
    a, b = _params(one), _params(two)
    for k in a:
      self.assertEqual(len(a[k]), len(b[k]))
      for x, y in zip(a[k], b[k]):
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7, err_msg=k)
    # Only process 0 wrote the metrics: each step once, as the one-process run.
    rows = [[json.loads(x) for x in open(os.path.join(w, 'base', 'metrics.jsonl'))]
            for w in (one, two)]
    self.assertEqual([r['step'] for r in rows[1]], list(range(1, STEPS + 1)))
    np.testing.assert_allclose([r['loss'] for r in rows[1]], [r['loss'] for r in rows[0]],
                               rtol=1e-5)


if __name__ == '__main__':
  absltest.main()
