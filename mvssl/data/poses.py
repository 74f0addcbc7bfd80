"""Pose and camera sources for the multi-view generator.

* :func:`procedural_poses`: a forward-kinematics Human3.6M-17 skeleton with joint limits (hip,
  knee, spine, shoulder, elbow, neck) and Human3.6M-like bone lengths; needs nothing external.
* :func:`procedural_rig`: four calibrated cameras around a capture area, like Human3.6M's
  (~4.5-5.5 m from the centre, 1.2-1.8 m high, f ~ 1150 px, 1000 x 1000 images).
* :func:`h36m_motion_source`: the real motion and each subject's own official cameras.

World frame: z up, mm, floor at z = 0.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mvssl.data import h36m
from mvssl.geometry import camera as camlib

# Human3.6M-like bone lengths (mm), S1-sized.
BONE_MM = dict(hip=132.0, thigh=442.0, shin=454.0, spine=233.0, thorax=257.0, neck=120.0,
               head=115.0, shoulder=150.0, upper_arm=278.0, forearm=251.0)

# Joint limits (degrees): (low, high).
LIMITS = dict(hip_flex=(-30, 100), hip_abd=(-10, 40), knee=(0, 140), lean=(-15, 45),
              side=(-20, 20), twist=(-35, 35), neck=(-25, 35), sh_flex=(-40, 170),
              sh_abd=(0, 150), elbow=(0, 145), yaw=(-180, 180), tilt=(-6, 6))


def _rx(a):
  return Rotation.from_rotvec(np.stack([a, 0 * a, 0 * a], -1)).as_matrix()


def _ry(a):
  return Rotation.from_rotvec(np.stack([0 * a, a, 0 * a], -1)).as_matrix()


def _rz(a):
  return Rotation.from_rotvec(np.stack([0 * a, 0 * a, a], -1)).as_matrix()


def _u(rng, key, n):
  lo, hi = LIMITS[key]
  return np.deg2rad(rng.uniform(lo, hi, n))


def procedural_poses(n: int, rng: np.random.Generator, area_mm: float = 1500.0) -> np.ndarray:
  """Samples n poses within joint limits, standing on the floor. -> [n, 17, 3] world mm.

  Person frame: x right, y forward, z up. Angles are sampled independently and uniformly inside
  ``LIMITS``; the pelvis is placed uniformly in a square of side ``area_mm`` centred on the origin
  and at the height that puts the lower foot on the floor.
  """
  b = BONE_MM
  down = np.array([0.0, 0.0, -1.0])
  up = -down
  mm = lambda R, v: np.einsum('nij,j->ni', R, v)  # noqa: E731
  torso = _rz(_u(rng, 'twist', n)) @ _rx(-_u(rng, 'lean', n)) @ _ry(_u(rng, 'side', n))
  j = np.zeros((n, 17, 3))
  for side, sgn, (hip, knee, foot) in (('R', 1, (1, 2, 3)), ('L', -1, (4, 5, 6))):
    j[:, hip] = sgn * np.array([b['hip'], 0, 0])
    r_thigh = _rx(_u(rng, 'hip_flex', n)) @ _ry(-sgn * _u(rng, 'hip_abd', n))
    j[:, knee] = j[:, hip] + b['thigh'] * mm(r_thigh, down)
    j[:, foot] = j[:, knee] + b['shin'] * mm(r_thigh @ _rx(-_u(rng, 'knee', n)), down)
  j[:, 7] = b['spine'] * mm(torso, up)
  j[:, 8] = j[:, 7] + b['thorax'] * mm(torso, up)
  r_neck = torso @ _rx(-_u(rng, 'neck', n))
  j[:, 9] = j[:, 8] + b['neck'] * mm(r_neck, np.array([0.0, 0.35, 0.94]))
  j[:, 10] = j[:, 9] + b['head'] * mm(r_neck, up)
  for sgn, (sh, el, wr) in ((-1, (11, 12, 13)), (1, (14, 15, 16))):
    j[:, sh] = j[:, 8] + mm(torso, np.array([sgn * b['shoulder'], 0.0, -25.0]))
    r_arm = torso @ _rx(_u(rng, 'sh_flex', n)) @ _ry(-sgn * _u(rng, 'sh_abd', n))
    j[:, el] = j[:, sh] + b['upper_arm'] * mm(r_arm, down)
    j[:, wr] = j[:, el] + b['forearm'] * mm(r_arm @ _rx(_u(rng, 'elbow', n)), down)
  world = _rz(_u(rng, 'yaw', n)) @ _rx(_u(rng, 'tilt', n)) @ _ry(_u(rng, 'tilt', n))
  j = np.einsum('nij,nkj->nki', world, j)
  j[:, :, 2] -= j[:, :, 2].min(axis=1, keepdims=True)
  j[:, :, :2] += rng.uniform(-area_mm / 2, area_mm / 2, (n, 1, 2))
  return j.astype(np.float32)


def look_at_camera(center_mm, target_mm, f, size, dist=None) -> camlib.Camera:
  """Camera at ``center_mm`` looking at ``target_mm`` with z up in the world (numpy float64)."""
  c, tgt = np.asarray(center_mm, float), np.asarray(target_mm, float)
  zc = tgt - c
  zc /= np.linalg.norm(zc)
  xc = np.cross(zc, [0.0, 0.0, 1.0])
  xc /= np.linalg.norm(xc)
  yc = np.cross(zc, xc)
  R = np.stack([xc, yc, zc])
  K = np.array([[f, 0, size[0] / 2 - 0.5], [0, f, size[1] / 2 - 0.5], [0, 0, 1]])
  return camlib.Camera.create(K, R, -R @ c, dist, 'h36m', dtype=np.float64)


def procedural_rig(rng: np.random.Generator, num_views: int = 4) -> list[camlib.Camera]:
  """``num_views`` cameras around the origin, H36M-like, with per-subject jitter."""
  cams = []
  for v in range(num_views):
    az = np.deg2rad(45 + 360 * v / num_views + rng.uniform(-12, 12))
    r = rng.uniform(4500, 5500)
    centre = [r * np.cos(az), r * np.sin(az), rng.uniform(1200, 1800)]
    target = [rng.uniform(-200, 200), rng.uniform(-200, 200), rng.uniform(800, 1000)]
    cams.append(look_at_camera(centre, target, rng.uniform(1100, 1200), (1000, 1000)))
  return cams


def h36m_motion_source(motion_path: str, cameras_path: str, subjects, every: int = 1):
  """Real Human3.6M motion of ``subjects`` with their official cameras.

  Returns:
    dict subject -> (poses [N, 17, 3] world mm, [Camera] x 4, [(sequence, frame)] x N).
  Raises:
    KeyError: naming the file when a subject has no cameras or no motion.
  """
  cams = h36m.load_cameras(cameras_path)
  motion = h36m.load_motion(motion_path, subjects=tuple(subjects))
  out = {}
  for s in subjects:
    if s not in cams:
      raise KeyError(f'{cameras_path}: no cameras for subject {s!r}')
    keys = sorted(k for k in motion if k.split('/')[0] == s)
    if not keys:
      raise KeyError(f'{motion_path}: no motion for subject {s!r}')
    poses, ids = [], []
    for k in keys:
      seq = motion[k][::every]
      poses.append(seq)
      ids += [(k, i * every) for i in range(len(seq))]
    out[s] = (np.concatenate(poses), [c for _, c in cams[s]], ids)
  return out
