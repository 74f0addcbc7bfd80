"""Human3.6M metadata: the 17-joint skeleton (VideoPose3D/MMPose order), official cameras and the
real motion set shipped in ``../shared/data/h36m_motion``.

File formats read here:

* ``h36m_cameras.json``: ``{"cameras": {"S1/54138969": {"R_w2c", "t_w2c_m", "f", "c", "k", "p",
  "w", "h"}, ...}}`` with ``X_cam = R_w2c X_world + t_w2c`` in metres and the H36M lens model.
* ``h36m_real_motion_17j_10hz.npz``: ``"S9/walking_2" -> [T, 17, 3]`` world mm (z up).
"""

from __future__ import annotations

import json
import os

import numpy as np

from mvssl.geometry import camera as camlib

JOINT_NAMES = ('Pelvis', 'RHip', 'RKnee', 'RFoot', 'LHip', 'LKnee', 'LFoot', 'Spine', 'Thorax',
               'Neck/Nose', 'Head', 'LShoulder', 'LElbow', 'LWrist', 'RShoulder', 'RElbow',
               'RWrist')
ROOT = 0
# (parent, child) bones of Human3.6M-17.
BONES = ((0, 1), (1, 2), (2, 3), (0, 4), (4, 5), (5, 6), (0, 7), (7, 8), (8, 9), (9, 10),
         (8, 11), (11, 12), (12, 13), (8, 14), (14, 15), (15, 16))
PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
LEFT = (4, 5, 6, 11, 12, 13)
RIGHT = (1, 2, 3, 14, 15, 16)
FLIP_PERM = tuple({**{i: i for i in range(17)}, **dict(zip(LEFT, RIGHT)),
                   **dict(zip(RIGHT, LEFT))}[i] for i in range(17))
# Joint orders, as indices into Human3.6M's original 32-joint skeleton (D3_Positions).
H36M32_OF_H36M17 = (0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27)  # VideoPose3D
# learnable-triangulation's labels npy ("16 joints in MPII order + Neck/Nose"):
H36M32_OF_LT = (3, 2, 1, 6, 7, 8, 0, 12, 13, 15, 27, 26, 25, 17, 18, 19, 14)
LT_JOINT_NAMES = ('RFoot', 'RKnee', 'RHip', 'LHip', 'LKnee', 'LFoot', 'Pelvis', 'Spine',
                  'Thorax', 'Head', 'RWrist', 'RElbow', 'RShoulder', 'LShoulder', 'LElbow',
                  'LWrist', 'Neck/Nose')
# joints_h36m17 = joints_lt[..., LT_TO_H36M17, :] and the inverse.
LT_TO_H36M17 = tuple(H36M32_OF_LT.index(i) for i in H36M32_OF_H36M17)
H36M17_TO_LT = tuple(H36M32_OF_H36M17.index(i) for i in H36M32_OF_LT)


def from_lt_order(joints):
  """learnable-triangulation order [..., 17, C] -> Human3.6M-17 (VideoPose3D/MMPose) order."""
  return np.asarray(joints)[..., LT_TO_H36M17, :]


def to_lt_order(joints):
  """Human3.6M-17 (VideoPose3D/MMPose) order [..., 17, C] -> learnable-triangulation order."""
  return np.asarray(joints)[..., H36M17_TO_LT, :]


CAMERA_IDS = ('54138969', '55011271', '58860488', '60457274')
SUBJECTS = ('S1', 'S5', 'S6', 'S7', 'S8', 'S9', 'S11')


def _require(path):
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: file not found')
  return path


def camera_from_h36m_dict(d: dict, *, source: str = '') -> camlib.Camera:
  """One camera from an h36m_cameras.json entry (metres) -> Camera in mm, 'h36m' lens model.

  Raises:
    KeyError: naming ``source`` and the missing field.
  """
  try:
    K = np.array([[d['f'][0], 0.0, d['c'][0]], [0.0, d['f'][1], d['c'][1]], [0.0, 0.0, 1.0]])
    dist = np.array(list(d['k']) + list(d['p']), np.float64)
    R = np.asarray(d['R_w2c'], np.float64)
    t = np.asarray(d['t_w2c_m'], np.float64) * 1000.0
  except KeyError as e:
    raise KeyError(f'{source}: camera entry lacks field {e}') from None
  return camlib.Camera.create(K, R, t, dist, 'h36m', dtype=np.float64, name=source)


def load_cameras(path: str) -> dict[str, list]:
  """Reads h36m_cameras.json -> {subject: [(camera_id, Camera), ...] in CAMERA_IDS order}."""
  with open(_require(path)) as f:
    data = json.load(f)
  if 'cameras' not in data:
    raise KeyError(f'{path}: missing top-level field "cameras"')
  out: dict[str, list] = {}
  for key, d in data['cameras'].items():
    subject, cam_id = key.split('/')
    out.setdefault(subject, []).append((cam_id, camera_from_h36m_dict(d, source=f'{path}[{key}]')))
  for s in out:
    out[s].sort(key=lambda kv: CAMERA_IDS.index(kv[0]) if kv[0] in CAMERA_IDS else 99)
  return out


def load_motion(path: str, subjects=None) -> dict[str, np.ndarray]:
  """Reads the real motion npz -> {"S9/walking_2": [T, 17, 3] world mm}, optionally by subject.

  Raises:
    ValueError: on a wrong joint count or non-finite coordinates, naming the key.
  """
  out = {}
  with np.load(_require(path)) as data:
    names = tuple(str(n) for n in data['joint_names']) if 'joint_names' in data else None
    if names is not None and names != JOINT_NAMES:
      raise ValueError(f'{path}: joint_names {names} differ from Human3.6M-17 {JOINT_NAMES}')
    for key in data.files:
      if key == 'joint_names':
        continue
      if subjects is not None and key.split('/')[0] not in subjects:
        continue
      a = np.asarray(data[key], np.float32)
      if a.ndim != 3 or a.shape[1:] != (17, 3):
        raise ValueError(f'{path}[{key}]: expected [T, 17, 3], got {a.shape}')
      if not np.all(np.isfinite(a)):
        raise ValueError(f'{path}[{key}]: non-finite joint coordinates')
      out[key] = a
  return out
