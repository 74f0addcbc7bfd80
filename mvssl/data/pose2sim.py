"""The real 4-camera Pose2Sim recording (``../shared/data/pose2sim_balancing``) as an unlabeled
calibrated multi-view set.

Files read:
  calibration.json  cameras.camXX.{K [3x3] px, dist_k1k2p1p2 (OpenCV), R_w2c, t_w2c_m (metres),
                    size_wh}, world z-up
  keypoints.npz     h36m17_2d [V=4, T=100, 17, 3] OpenPose detections mapped to Human3.6M-17
                    (x px, y px, score)
  frames/camXX_fNNN.jpg  every 10th frame of each camera (1080 x 1920 portrait)
"""

from __future__ import annotations

import glob
import json
import os
import re

import cv2
import numpy as np

from mvssl.data import render
from mvssl.geometry import camera as camlib


def load_cameras(path: str):
  """calibration.json -> (names [V], Camera [V] in mm with the OpenCV lens model, sizes [V, 2]).

  Raises:
    FileNotFoundError / KeyError / ValueError naming the file and field.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: file not found')
  with open(path) as f:
    data = json.load(f)
  if 'cameras' not in data:
    raise KeyError(f'{path}: missing top-level field "cameras"')
  names, cams, sizes = [], [], []
  for name in sorted(data['cameras']):
    c = data['cameras'][name]
    try:
      k1, k2, p1, p2 = c['dist_k1k2p1p2']
      cam = camlib.Camera.create(np.asarray(c['K'], float), np.asarray(c['R_w2c'], float),
                                 np.asarray(c['t_w2c_m'], float) * 1000.0,
                                 [k1, k2, 0.0, p1, p2], 'opencv', dtype=np.float64)
      size = np.asarray(c['size_wh'], float)
    except KeyError as e:
      raise KeyError(f'{path}: camera {name!r} lacks field {e}') from None
    for field in ('K', 'R', 't', 'dist'):
      if not np.all(np.isfinite(getattr(cam, field))):
        raise ValueError(f'{path}: camera {name!r} field {field} is not finite')
    names.append(name)
    cams.append(cam)
    sizes.append(size)
  return names, camlib.stack(cams), np.stack(sizes)


def load_detections(path: str, key: str = 'h36m17_2d') -> np.ndarray:
  """keypoints.npz -> [V, T, 17, 3] (x px, y px, score); NaNs become score 0."""
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: file not found')
  with np.load(path) as d:
    if key not in d:
      raise KeyError(f'{path}: missing array {key!r} (has {sorted(d.files)})')
    det = np.asarray(d[key], np.float64)
  if det.ndim != 4 or det.shape[2:] != (17, 3):
    raise ValueError(f'{path}[{key}]: expected [V, T, 17, 3], got {det.shape}')
  bad = ~np.all(np.isfinite(det), axis=-1)
  det[bad] = 0.0
  return det


def frame_files(root: str, names) -> dict[int, list[str]]:
  """{frame index: [path per camera]} for frames present in every camera."""
  out: dict[int, dict[str, str]] = {}
  for p in glob.glob(os.path.join(root, 'frames', '*.jpg')):
    m = re.match(r'(cam\d+)_f(\d+)\.jpg$', os.path.basename(p))
    if m:
      out.setdefault(int(m.group(2)), {})[m.group(1)] = p
  return {f: [v[n] for n in names] for f, v in sorted(out.items()) if set(names) <= set(v)}


def crop_views(paths, cams: camlib.Camera, det2d: np.ndarray, size: int, box_scale: float,
               min_score: float = 0.3):
  """Square crops around each view's detections, resized to ``size``.

  Args:
    paths: [V] image files of one frame.
    cams: Camera [V] of the full images.
    det2d: [V, 17, 3] detections of this frame.
  Returns:
    (images [V, size, size, 3] uint8 RGB, Camera [V] of the crops, boxes [V, 4]).
  Raises:
    ValueError: naming the file when it cannot be read or has too few confident joints.
  """
  imgs, crops, boxes = [], [], []
  for v, p in enumerate(paths):
    img = cv2.imread(p)
    if img is None:
      raise ValueError(f'{p}: cannot read image')
    ok = det2d[v, :, 2] >= min_score
    if ok.sum() < 4:
      raise ValueError(f'{p}: fewer than 4 detections with score >= {min_score}')
    box = render.square_box(det2d[v, ok, :2], box_scale)
    cam = camera_at(cams, v)
    crop = camlib.crop_and_resize(cam, box, (size, size))
    A = np.asarray(crop.K, np.float64) @ np.linalg.inv(np.asarray(cam.K, np.float64))
    # Area-downsample first (no aliasing), then the exact affine warp from the small image;
    # cv2.resize maps pixel centres as x_small = (x + 0.5) f - 0.5.
    f = min(1.0, 2.0 * size / box[2])
    small = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else img
    fx = small.shape[1] / img.shape[1]
    fy = small.shape[0] / img.shape[0]
    M = np.array([[1 / fx, 0, 0.5 / fx - 0.5], [0, 1 / fy, 0.5 / fy - 0.5], [0, 0, 1]])
    imgs.append(cv2.warpAffine(small, (A @ M)[:2], (size, size), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT)[..., ::-1])
    crops.append(crop)
    boxes.append(box)
  return np.stack(imgs), camlib.stack(crops), np.stack(boxes)


def camera_at(cams: camlib.Camera, v: int) -> camlib.Camera:
  """View v of a stacked Camera, as numpy float64."""
  return camlib.Camera(K=np.asarray(cams.K[v], np.float64), R=np.asarray(cams.R[v], np.float64),
                       t=np.asarray(cams.t[v], np.float64),
                       dist=np.asarray(cams.dist[v], np.float64), dist_model=cams.dist_model)
