"""The real 4-camera Pose2Sim recording (``../shared/data/pose2sim_balancing``) as an unlabeled
calibrated multi-view set.

Files read:
  calibration.json  cameras.camXX.{K [3x3] px, dist_k1k2p1p2 (OpenCV), R_w2c, t_w2c_m (metres),
                    size_wh}, world z-up
  keypoints.npz     h36m17_2d [V=4, T=100, 17, 3] OpenPose detections mapped to Human3.6M-17
                    (x px, y px, score)
  frames/camXX_fNNN.jpg  every 10th frame of each camera (1080 x 1920 portrait), read through
                    the bring-your-own path (mvssl.data.recording, configs/pose2sim.py)

Its calibration reader is independent of :mod:`mvssl.data.calibration`, so the two check each
other; the detections file is read by :func:`mvssl.data.detections.read_npz`.
"""

from __future__ import annotations

import json
import os

import numpy as np

from mvssl.data import detections
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
                                 [k1, k2, 0.0, p1, p2], 'opencv', dtype=np.float64,
                                 name=f'{path}: camera {name!r}')
      size = np.asarray(c['size_wh'], float)
    except KeyError as e:
      raise KeyError(f'{path}: camera {name!r} lacks field {e}') from None
    names.append(name)
    cams.append(cam)
    sizes.append(size)
  return names, camlib.stack(cams), np.stack(sizes)


def load_detections(path: str, key: str = 'h36m17_2d') -> np.ndarray:
  """keypoints.npz -> [V, T, 17, 3] (x px, y px, score); NaNs become score 0."""
  return detections.read_npz(path, key)
