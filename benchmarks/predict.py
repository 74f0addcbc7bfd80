"""Prediction throughput of mvssl.predict on real frames: images/s and recording frames/s, and the
share of each part (decode, crop, network, DLT, write), JAX against the PyTorch twin of the
networks where one exists.

  python benchmarks/predict.py [--model default|paper] [--frames 10] [--batch 32] [--repeat 3]

Frames: the real Pose2Sim recording's JPEGs ($MVSSL_SHARED_DATA/pose2sim_balancing/frames,
1080 x 1920, 4 cameras), each view's person box from its detections. Networks: the embedded
default's (ResNet-18 at width 16, 64 px crops, 16 depth bins) or the paper's (``--model paper``:
ResNet-50, 384 px, 96 bins; GPU-sized), randomly initialised (the weights do not change the
time). Parts, timed apart over every frame, warm (compilation excluded and reported):

* images (``predict_images``): decode (OpenCV), crop (undistorting warp + the build's JPEG round
  trip), network (the single-view model in batches, Pi to world), write (JSON + overlay PNG);
* recording frames (``predict_recording`` per frame of 4 views): decode and crop of every view,
  G (2D heatmaps + confidences, its DLT), the single-view model on every view at G's root
  depth, write (the frame's JSON).

The PyTorch column times the same networks' forward (``mvssl.models.torch_reference``: the
single-view twin and G's twin with its batched SVD DLT) on the same crops; needs torch
(pip install torch==2.13.0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
sys.path.insert(0, ROOT)

import cv2  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from configs import default  # noqa: E402
from mvssl import parallel  # noqa: E402
from mvssl import predict  # noqa: E402
from mvssl.data import crop as crop_lib  # noqa: E402
from mvssl.data import frames as frames_lib  # noqa: E402
from mvssl.data import pose2sim as p2s  # noqa: E402
from mvssl.data import render  # noqa: E402
from mvssl.geometry import camera as camlib  # noqa: E402
from mvssl.train import families  # noqa: E402
from mvssl.train import heatmap_family  # noqa: E402
from mvssl.train import state as state_lib  # noqa: E402


class Clock:
  """Seconds per named part."""

  def __init__(self):
    self.parts = {}

  def __call__(self, name, fn, *a, **kw):
    t = time.perf_counter()
    out = fn(*a, **kw)
    jax.block_until_ready(out)
    self.parts[name] = self.parts.get(name, 0.0) + time.perf_counter() - t
    return out


def _state(config, family):
  model = families.FAMILIES[family].build(config.model, axis_name=parallel.AXIS, seed=0)
  return state_lib.TrainState.create(model, state_lib.make_optimizer(
      config.optimizer, config.schedules.finetune))


def _inputs(root, frames):
  names, cams, _ = p2s.load_cameras(os.path.join(root, 'calibration.json'))
  det = p2s.load_detections(os.path.join(root, 'keypoints.npz'))
  files = [[os.path.join(root, 'frames', f'{n}_f{f:03d}.jpg') for n in names] for f in frames]
  boxes = [[render.square_box(det[v, f][det[v, f, :, 2] >= 0.3, :2], 1.0)
            for v in range(len(names))] for f in frames]
  cams = [jax.tree.map(lambda a, v=v: np.asarray(a[v], np.float64), cams)
          for v in range(len(names))]
  return names, cams, files, boxes


def images(config, states, files, boxes, cams, batch, out_dir):
  """The image path on every view of every frame: seconds per part and per image."""
  size = int(config.model.image_size)
  codec = families.FAMILIES['integral'].codec(config.model)
  clock = Clock()
  crops, crop_cams, depths, meta = [], [], [], []
  for row_files, row_boxes in zip(files, boxes):
    for v, (f, b) in enumerate(zip(row_files, row_boxes)):
      img = clock('decode', frames_lib.imread, f)
      box = crop_lib.square_scaled(b, 1.3)
      rgb, cc = clock('crop', predict._crop_input, img, cams[v], box, size)   # noqa: SLF001
      crops.append(rgb)
      crop_cams.append(cc)
      depths.append(predict.root_depth_prior(np.asarray(cams[v].K), box))
      meta.append((f, img, v))
  d = dict(images=np.stack(crops)[:, None],
           cams=jax.tree.map(lambda *a: np.stack([np.asarray(x, np.float32) for x in a])[:, None],
                             *crop_cams),
           root_depth=np.asarray(depths, np.float32)[:, None])
  t = time.perf_counter()
  heatmap_family.predict_views(states['integral'], d, codec, batch_frames=batch)   # compile
  compile_s = time.perf_counter() - t
  world = clock('network', heatmap_family.predict_views, states['integral'], d, codec,
                batch_frames=batch)[:, 0]

  def write():
    for i, (f, img, v) in enumerate(meta):
      uv = np.asarray(jax.vmap(lambda p: camlib.project(cams[v], p))(
          jnp.asarray(world[i:i + 1], jnp.float32)))[0]
      with open(os.path.join(out_dir, f'{i}.json'), 'w') as fh:
        json.dump(dict(world_mm=world[i].tolist(), uv_px=uv.tolist()), fh)
      cv2.imwrite(os.path.join(out_dir, f'{i}_overlay.png'),
                          render.draw_skeleton(img, uv, thickness=4))
  clock('write', write)
  return clock.parts, len(meta), compile_s, d


def recording(config, states, files, boxes, cams, batch, out_dir):
  """The recording path per frame of 4 views: seconds per part and per frame."""
  size = int(config.model.image_size)
  codec_i = families.FAMILIES['integral'].codec(config.model)
  codec_g = families.FAMILIES['algebraic'].codec(config.model)
  clock = Clock()
  crops, crop_cams = [], []
  for row_files, row_boxes in zip(files, boxes):
    row, rc = [], []
    for v, (f, b) in enumerate(zip(row_files, row_boxes)):
      img = clock('decode', frames_lib.imread, f)
      rgb, cc = clock('crop', predict._crop_input, img, cams[v],      # noqa: SLF001
                      crop_lib.square_scaled(b, 1.3), size)
      row.append(rgb)
      rc.append(jax.tree.map(lambda a: np.asarray(a, np.float32), cc))
    crops.append(np.stack(row))
    crop_cams.append(jax.tree.map(lambda *a: np.stack(a), *rc))
  d = dict(images=np.stack(crops), cams=jax.tree.map(lambda *a: np.stack(a), *crop_cams),
           view_valid=np.ones((len(crops), len(cams)), bool))
  t = time.perf_counter()
  heatmap_family.predict_triangulated(states['algebraic'], d, codec_g, batch_frames=batch)
  g = heatmap_family.predict_triangulated(states['algebraic'], d, codec_g, batch_frames=batch)
  _, root_depth = codec_i.encode_split(d['cams'], g[0])
  heatmap_family.predict_views(states['integral'], dict(d, root_depth=root_depth), codec_i,
                               batch_frames=batch)
  compile_s = time.perf_counter() - t
  pose, _ = clock('G + DLT', heatmap_family.predict_triangulated, states['algebraic'], d, codec_g,
                  batch_frames=batch)
  views = clock('network', heatmap_family.predict_views, states['integral'],
                dict(d, root_depth=root_depth), codec_i, batch_frames=batch)

  def write():
    for i in range(len(crops)):
      with open(os.path.join(out_dir, f'frame_{i}.json'), 'w') as fh:
        json.dump(dict(triangulated_world_mm=pose[i].tolist(), views_world_mm=views[i].tolist()),
                  fh)
  clock('write', write)
  return clock.parts, len(crops), compile_s, d


def torch_forward(config, d_img, d_rec, repeat):
  """The PyTorch twins' forward on the same crops: seconds for the images and for G + views."""
  try:
    import torch
  except ImportError:
    return None
  from mvssl.models import torch_reference
  m = config.model
  net = torch_reference.IntegralPoseNet(depth=m.resnet_depth, width=m.num_filters,
                                        depth_bins=m.depth_bins, deconv=m.deconv_channels).eval()
  g = torch_reference.AlgebraicTriangulationNet(depth=m.resnet_depth, width=m.num_filters,
                                                deconv=m.deconv_channels).eval()
  x_img = torch.from_numpy(np.ascontiguousarray(
      d_img['images'][:, 0].transpose(0, 3, 1, 2))).float() / 255.0
  n, v = d_rec['images'].shape[:2]
  x_rec = torch.from_numpy(np.ascontiguousarray(
      d_rec['images'].reshape((n * v,) + d_rec['images'].shape[2:]).transpose(0, 3, 1, 2))
  ).float() / 255.0
  proj = torch.randn(n, v, 3, 4)                    # stand-in cameras: the SVD's cost is the same

  def run_img():
    with torch.no_grad():
      net(x_img)

  def run_rec():
    with torch.no_grad():
      j2d, conf = g(x_rec)
      torch_reference.triangulate(proj, (j2d * 4).reshape(n, v, -1, 2), conf.reshape(n, v, -1))
      net(x_rec)
  out = {}
  for name, fn in (('images', run_img), ('recording', run_rec)):
    fn()
    t = time.perf_counter()
    for _ in range(repeat):
      fn()
    out[name] = (time.perf_counter() - t) / repeat
  return out, f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads'


def _table(title, parts, count, unit, compile_s, torch_s=None):
  total = sum(parts.values())
  print(f'\n{title}: {count / total:.1f} {unit}/s ({count} {unit}s, {total:.2f} s warm; first '
        f'call compiles {compile_s:.1f} s)')
  print('| part | s | share |' + (' PyTorch twin s |' if torch_s is not None else ''))
  print('|---|---|---|' + ('---|' if torch_s is not None else ''))
  for name, s in parts.items():
    cell = ''
    if torch_s is not None:
      cell = (f' {torch_s:.3f} (JAX {torch_s / parts[name]:.2f}x as fast) |'
              if name == 'network' else ' |')
    print(f'| {name} | {s:.3f} | {s / total:.0%} |{cell}')


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--model', default='default', choices=('default', 'paper'))
  ap.add_argument('--frames', type=int, default=10, help='recording frames (10 have JPEGs)')
  ap.add_argument('--batch', type=int, default=32)
  ap.add_argument('--repeat', type=int, default=3)
  ap.add_argument('--json', default='', help='write the figures here')
  a = ap.parse_args()
  root = os.path.join(os.environ.get('MVSSL_SHARED_DATA', os.path.join(ROOT, '..', 'shared',
                                                                       'data')),
                      'pose2sim_balancing')
  if not os.path.isdir(root):
    sys.exit(f'error: {root}: the Pose2Sim recording is needed (set MVSSL_SHARED_DATA)')
  config = default.get_config()
  if a.model == 'paper':
    config = default.paper_sized(config)
  states = {f: _state(config, f) for f in ('integral', 'algebraic')}
  names, cams, files, boxes = _inputs(root, list(range(0, 10 * a.frames, 10))[:a.frames])
  dev = jax.devices()[0]
  print(f'mvssl.predict throughput, {a.model} model ({config.model.image_size} px, ResNet-'
        f'{config.model.resnet_depth}), batch {a.batch}; JAX {jax.__version__} on '
        f'{dev.device_kind} ({dev.platform}); host {platform.processor() or platform.machine()}')
  with tempfile.TemporaryDirectory() as tmp:
    img_parts, n_img, img_compile, d_img = images(config, states, files, boxes, cams, a.batch,
                                                  tmp)
    rec_parts, n_rec, rec_compile, d_rec = recording(config, states, files, boxes, cams,
                                                     a.batch, tmp)
  tf = torch_forward(config, d_img, d_rec, a.repeat)
  if tf:
    print(tf[1])
  _table('Images (one camera each)', img_parts, n_img, 'image', img_compile,
         tf[0]['images'] if tf else None)
  _table('Recording frames (4 views)', rec_parts, n_rec, 'frame', rec_compile)
  if tf:
    jax_rec = rec_parts['G + DLT'] + rec_parts['network']
    print(f'Recording networks (G + DLT + single-view): JAX {jax_rec:.3f} s, PyTorch twin '
          f'{tf[0]["recording"]:.3f} s ({tf[0]["recording"] / jax_rec:.2f}x JAX speed)')
  if a.json:
    from mvssl import provenance  # noqa: PLC0415
    provenance.write_json(a.json, dict(
        model=a.model, batch=a.batch,
        images=dict(parts=img_parts, count=n_img, compile_s=img_compile),
        recording=dict(parts=rec_parts, count=n_rec, compile_s=rec_compile),
        torch=tf[0] if tf else None, torch_version=tf[1] if tf else None))


if __name__ == '__main__':
  main()
