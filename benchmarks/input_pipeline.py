"""Input-pipeline throughput per CPU core: 1000x1000 JPEG frames -> 384x384 training crops with
augmentation, so one knows how many cores feed one accelerator.

  python benchmarks/input_pipeline.py [--views 4 --frames 24 --size 384 --threads 1,2]

The pipeline has two halves (mvssl.data.builder + crop, mvssl.data.input_pipeline):

  build (offline, once)   decode the full JPEG, one cv2.remap that crops, resizes (area
                          pre-downsampling) and optionally undistorts, JPEG-encode the crop
  train feed (every step) decode the 384 px crop JPEG, geometric augmentation (scale, rotation,
                          flip: cv2.warpAffine + the exact camera update by RQ) and colour
                          jitter, batching; run by grain in background threads

Each half is timed on one core (OpenCV's own threading off: cv2.setNumThreads(1)), then the
train feed is run through the real grain iterator with 1..N threads, counting images per second
of wall time and per CPU-second (process time of all threads): the latter is the per-core figure.
glibc's malloc returns every large (> 128 KiB) buffer to the OS, so each frame page-faults its
arrays anew; MALLOC_MMAP_THRESHOLD_=100000000 MALLOC_TRIM_THRESHOLD_=100000000 in the
environment avoids that (measured in the README). Frames are the real
1000x1002 Human3.6M frames of $MVSSL_SHARED_DATA/mmpose_fixtures/h36m when present (real JPEG
statistics), else textured 1000x1000 synthetic frames. Cores needed per accelerator =
(accelerator images/s) / (train-feed images/s per core).
"""

import argparse
import glob
import json
import os
import platform
import time

import cv2
import jax
import numpy as np

from mvssl.data import augment
from mvssl.data import crop as crop_lib
from mvssl.data import input_pipeline
from mvssl.data import poses as poses_lib
from mvssl.data import reader
from mvssl.data import render
from mvssl.geometry import camera as camlib


def _frames(n):
  """n full-frame JPEG byte strings (real H36M frames if available) and the source name."""
  root = os.path.join(os.environ.get('MVSSL_SHARED_DATA', '../shared/data'),
                      'mmpose_fixtures', 'h36m')
  paths = sorted(glob.glob(os.path.join(root, 'S*', '*', '*.jpg')))
  if paths:
    data = [open(p, 'rb').read() for p in paths]
    src = f'real Human3.6M frames ({len(paths)} files, 1000x1002)'
  else:
    rng = np.random.default_rng(0)
    data = [cv2.imencode('.jpg', render.background(rng, 1000), [cv2.IMWRITE_JPEG_QUALITY, 90])[1]
            .tobytes() for _ in range(4)]
    src = 'synthetic textured 1000x1000 frames'
  return [data[i % len(data)] for i in range(n)], src


def _views(n, size, rng):
  """One frame's n views: camera (H36M-like, distorted) and a person projected into it."""
  cams = poses_lib.procedural_rig(rng, n)
  pose = poses_lib.procedural_poses(1, rng)[0]
  cams = [c.replace(dist=np.array([-0.2, 0.2, -0.003, -0.001, -0.001])) for c in cams]
  return cams, pose


def _median_time(fn, reps):
  """Median seconds of ``fn()`` over ``reps`` runs after one warm-up run (first-call costs:
  page faults, lazy imports, OpenCV/SciPy initialisation)."""
  fn()
  times = []
  for _ in range(reps):
    t = time.perf_counter()
    fn()
    times.append(time.perf_counter() - t)
  return float(np.median(times))


def bench_build(jpegs, size, undistort, rng, reps):
  """Offline half, one core: s per image."""
  cams, pose = _views(len(jpegs), size, rng)

  def run():
    for data, cam in zip(jpegs, cams * (len(jpegs) // len(cams) + 1)):
      img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
      box = render.square_box(np.asarray(camlib.project(cam, pose)), 1.2)
      crop, _ = crop_lib.crop_view(img, cam, box, size, undistort=undistort)
      cv2.imencode('.jpg', crop, [cv2.IMWRITE_JPEG_QUALITY, crop_lib.JPEG_QUALITY])
  return _median_time(run, reps) / len(jpegs)


def _example_source(jpegs, views, size, rng):
  """Crop JPEGs as the builder stores them, in a dict of per-frame arrays (lazy decode)."""
  cams, pose = _views(views, size, rng)
  crops, K, R, t, d = [], [], [], [], []
  for i in range(0, len(jpegs) - views + 1, views):
    enc, ks = [], []
    for v in range(views):
      img = cv2.imdecode(np.frombuffer(jpegs[i + v], np.uint8), cv2.IMREAD_COLOR)
      box = render.square_box(np.asarray(camlib.project(cams[v], pose)), 1.2)
      crop_img, crop = crop_lib.crop_view(img, cams[v], box, size, undistort=False)
      enc.append(cv2.imencode('.jpg', crop_img, [cv2.IMWRITE_JPEG_QUALITY,
                                                 crop_lib.JPEG_QUALITY])[1].tobytes())
      ks.append(crop)
    crops.append(enc)
    K.append(np.stack([c.K for c in ks]))
    R.append(np.stack([c.R for c in ks]))
    t.append(np.stack([c.t for c in ks]))
    d.append(np.stack([c.dist for c in ks]))
  n = len(crops)
  cams = camlib.Camera(K=np.float32(K), R=np.float32(R), t=np.float32(t), dist=np.float32(d),
                      dist_model=cams[0].dist_model)
  return dict(images=_Encoded(crops, size), cams=cams, view_valid=np.ones((n, views), bool),
              pose_3d=np.repeat(pose[None].astype(np.float32), n, 0),
              l1_w=np.ones(n, np.float32), mvc_w=np.ones(n, np.float32))


class _Encoded:
  """Frames of JPEG crops decoded on access, like reader.EncodedImages."""

  def __init__(self, crops, size):
    self.crops = crops
    self.shape = (len(crops), len(crops[0]), size, size, 3)

  def __len__(self):
    return len(self.crops)

  def __getitem__(self, i):
    return np.stack([reader.decode_jpeg(b) for b in self.crops[int(i)]])


def bench_feed_one_core(arrays, rng, reps):
  """Train half, one core: s per image (decode + geometric/colour augmentation)."""
  n, v = arrays['images'].shape[:2]

  def run():
    for i in range(n):
      augment.augment_frame(jax.tree.map(lambda a: a[i], arrays), rng)
  return _median_time(run, reps) / (n * v)


def bench_feed_grain(arrays, threads, batch, steps):
  """The real grain iterator: images/s with ``threads`` background threads."""
  ds = input_pipeline.make_dataset(arrays, batch_size=batch, seed=0,
                                   augment_fn=augment.augment_frame, process_index=0,
                                   process_count=1)
  it = input_pipeline.iterator(ds, num_threads=threads, prefetch=2 * batch)
  for _ in range(2):                              # warm-up: threads started, buffers filled
    next(it)
  t, cpu = time.perf_counter(), time.process_time()
  for _ in range(steps):
    b = next(it)
  dt, dcpu = time.perf_counter() - t, time.process_time() - cpu
  n = steps * b['images'].shape[0] * b['images'].shape[1]
  return dict(img_s=n / dt, img_per_cpu_s=n / dcpu)


def main():
  ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  ap.add_argument('--views', type=int, default=4)
  ap.add_argument('--frames', type=int, default=24, help='multi-view frames in the source')
  ap.add_argument('--size', type=int, default=384)
  ap.add_argument('--threads', default='1,2', help='grain thread counts to run')
  ap.add_argument('--batch', type=int, default=8, help='frames per batch (x views images)')
  ap.add_argument('--steps', type=int, default=12)
  ap.add_argument('--reps', type=int, default=3, help='timed repetitions (median) per measure')
  ap.add_argument('--json', default='', help='also write the results here')
  args = ap.parse_args()
  cv2.setNumThreads(1)
  rng = np.random.default_rng(0)
  jpegs, src = _frames(args.frames * args.views)
  res = dict(source=src, crop=args.size, views=args.views, cpu=platform.processor() or
             platform.machine(), cores=os.cpu_count(), opencv=cv2.__version__)
  res['build_img_s_core'] = 1.0 / bench_build(jpegs, args.size, False, rng, args.reps)
  res['build_undistort_img_s_core'] = 1.0 / bench_build(jpegs, args.size, True, rng,
                                                        args.reps)
  arrays = _example_source(jpegs, args.views, args.size, rng)
  res['feed_img_s_core'] = 1.0 / bench_feed_one_core(arrays, rng, args.reps)
  res['grain'] = {}
  for th in (int(x) for x in args.threads.split(',')):
    res['grain'][th] = bench_feed_grain(arrays, th, args.batch, args.steps)
  print(f'Input pipeline, {src} -> {args.size}x{args.size} crops, {args.views} views/frame')
  print(f'CPU: {res["cpu"]} ({res["cores"]} cores), OpenCV {res["opencv"]}, '
        f'cv2.setNumThreads(1)')
  print(f'  build, one core  (decode 1000px JPEG + crop/resize + encode): '
        f'{res["build_img_s_core"]:7.1f} images/s')
  print(f'  build, one core, with undistortion:                           '
        f'{res["build_undistort_img_s_core"]:7.1f} images/s')
  print(f'  train feed, one core (decode {args.size}px JPEG + geometric + colour aug.): '
        f'{res["feed_img_s_core"]:7.1f} images/s')
  for th, r in res['grain'].items():
    print(f'  train feed, grain with {th} thread(s), batch {args.batch}x{args.views}: '
          f'{r["img_s"]:7.1f} images/s wall, {r["img_per_cpu_s"]:7.1f} images per CPU-second')
  per_core = min(r['img_per_cpu_s'] for r in res['grain'].values())
  res['feed_grain_img_per_cpu_s'] = per_core
  print(f'  cores to feed an accelerator at X images/s (grain, per CPU-second): X / {per_core:.0f} '
        f'(e.g. 1000 images/s -> {int(np.ceil(1000 / per_core))} cores)')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump(res, f, indent=2)


if __name__ == '__main__':
  main()
