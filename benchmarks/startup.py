"""Start-up of the commands users wait on, with JAX's persistent compilation cache cold, warm and
off (mvssl.compilation_cache): ``launch.py --config.stage=evaluate`` on a finished workdir and
``python -m mvssl.predict`` on one image.

  python benchmarks/startup.py [--workdir /tmp/mvssl_startup] [--json FILE]

The workdir is the embedded default (configs/default.py: its model, data and functions) trained
for 2 steps per run, so that every stage exists (made once, not timed). Each command then runs as
a new process three times: with an empty cache folder (first run: compiles and writes), again
(second run: reads what the first wrote), and with the cache off. Wall time of the whole process.
The image is a real Human3.6M frame ($MVSSL_SHARED_DATA/mmpose_fixtures) with its official
camera (distortion left out) and the box of its labels.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
SHORT = [f'--config.schedules.{s}.steps=2' for s in ('pretrain_single', 'pretrain_multi',
                                                      'finetune')]


def _run(cmd, env):
  t = time.perf_counter()
  out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
  if out.returncode:
    sys.exit(f'error: {" ".join(cmd)} failed:\n{out.stderr[-2000:]}')
  return time.perf_counter() - t


def _image(shared, tmp):
  """(image, calibration, box) of a real Human3.6M frame."""
  h36m = os.path.join(shared, 'mmpose_fixtures', 'h36m')
  image = os.path.join(h36m, 'S1', 'S1_Directions_1.54138969', 'S1_Directions_1.54138969_000001.jpg')
  cams = json.load(open(os.path.join(shared, 'h36m_motion', 'h36m_cameras.json')))['cameras']
  c = cams['S1/54138969']
  calib = os.path.join(tmp, 'calib.json')
  json.dump({'units': 'mm', 'cameras': {'54138969': dict(
      K=[[c['f'][0], 0, c['c'][0]], [0, c['f'][1], c['c'][1]], [0, 0, 1]], dist=[0] * 5,
      R=c['R_w2c'], t=[v * 1000.0 for v in c['t_w2c_m']], size_wh=[c['w'], c['h']])}},
      open(calib, 'w'))
  coco = json.load(open(os.path.join(h36m, 'h36m_coco.json')))
  (ann,) = [a for im, a in zip(coco['images'], coco['annotations'])
            if im['file_name'] == os.path.basename(image)]
  kp = ann['keypoints']
  xs, ys = kp[0::3], kp[1::3]
  box = f'{min(xs)},{min(ys)},{max(xs) - min(xs)},{max(ys) - min(ys)}'
  return image, calib, box


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--workdir', default=os.path.join(tempfile.gettempdir(), 'mvssl_startup'))
  ap.add_argument('--json', default='')
  a = ap.parse_args()
  shared = os.environ.get('MVSSL_SHARED_DATA', os.path.join(ROOT, '..', 'shared', 'data'))
  env = {k: v for k, v in os.environ.items() if k != 'JAX_COMPILATION_CACHE_DIR'}
  py = sys.executable
  launch = [py, 'launch.py', '--config=configs/default.py', f'--workdir={a.workdir}', *SHORT]
  if not os.path.exists(os.path.join(a.workdir, 'results.json')):
    print('training the 2-step default workdir (not timed) ...', flush=True)
    _run(launch + ['--config.compilation_cache=off'], env)
  tmp = tempfile.mkdtemp()
  image, calib, box = _image(shared, tmp)
  commands = {
      'launch.py --config.stage=evaluate': lambda cache: launch + [
          '--config.stage=evaluate', f'--config.compilation_cache={cache}'],
      'python -m mvssl.predict (one image)': lambda cache: [
          py, '-m', 'mvssl.predict', f'--workdir={a.workdir}', f'--image={image}',
          f'--calibration={calib}', f'--box={box}', f'--out={tmp}/out',
          f'--compilation_cache={cache}'],
  }
  out = {}
  print('| command | first run (empty cache) | second run (warm cache) | cache off |')
  print('|---|---|---|---|')
  for name, cmd in commands.items():
    cache = os.path.join(tmp, 'cache_' + str(len(out)))
    first = _run(cmd(cache), env)
    second = _run(cmd(cache), env)
    off = _run(cmd('off'), env)
    out[name] = dict(first_s=first, second_s=second, off_s=off,
                     cache_mb=sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in
                                  os.walk(cache) for f in fs) / 2 ** 20)
    print(f'| `{name}` | {first:.1f} s | {second:.1f} s | {off:.1f} s |', flush=True)
  shutil.rmtree(tmp, ignore_errors=True)
  if a.json:
    sys.path.insert(0, ROOT)
    from mvssl import provenance  # noqa: PLC0415
    provenance.write_json(a.json, dict(commands=out))


if __name__ == '__main__':
  main()
