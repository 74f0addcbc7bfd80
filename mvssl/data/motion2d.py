"""Human3.6M 2D-3D pairs for lifting models: the real motion (``h36m_real_motion_17j_10hz.npz``,
86,062 frames of S1, S5, S6, S7, S8, S9, S11 at 10 Hz) seen by each subject's four official
cameras through the Human3.6M lens model; every frame is a 4-view sample of one instant.

A split (the dict of :mod:`mvssl.data.sources`, without images)::

  keypoints_2d  [N, V, J, 3]  the model's 2D input: x, y px in the full 1000-px image and a score
                              (1), exact projections or with the detector-noise model below
  gt_2d         [N, V, J, 2]  the exact projections (px)
  cams          Camera [N, V] full-image cameras (mm, px, 'h36m' lens model)
  view_valid    [N, V]        all True
  pose_3d       [N, J, 3]     world joints (mm); has_pose_3d [N] all True
  subject, sequence ('S9/walking_2': action and trial), action ('walking'), frame [N]

Detector-noise model (``noise='detector'``), drawn once per split from ``noise_seed`` (so a
split's inputs are fixed, as a detector's outputs are): every joint j of every view gets
Gaussian noise of ``noise_sigma_px[j]`` px on x and y; each left/right pair of a view (hips,
knees, ankles, shoulders, elbows, wrists) is swapped with probability ``swap_rate``; each joint
jumps to a uniform position inside the bounding box of the view's exact 2D pose with probability
``jump_rate``. The default sigmas (4-9 px: torso smallest, wrists and ankles largest) and rates
are assumptions of this project, chosen for a mean 2D error of about 8 px on the 1000-px images,
the order of the detections used by lifting papers; they are not fitted to a detector.
"""

from __future__ import annotations

import hashlib
import json
import zlib

import jax
import numpy as np

from mvssl.data import h36m
from mvssl.geometry import camera as camlib

NOISES = ('none', 'detector')
PAIRS = tuple(zip(h36m.LEFT, h36m.RIGHT))


def _empty_split(num_views: int, num_joints: int) -> dict:
  z = np.zeros
  cams = camlib.Camera(K=z((0, num_views, 3, 3), np.float32), R=z((0, num_views, 3, 3), np.float32),
                       t=z((0, num_views, 3), np.float32), dist=z((0, num_views, 5), np.float32))
  return dict(keypoints_2d=z((0, num_views, num_joints, 3), np.float32),
              gt_2d=z((0, num_views, num_joints, 2), np.float32), cams=cams,
              view_valid=z((0, num_views), bool), pose_3d=z((0, num_joints, 3), np.float32),
              has_pose_3d=z(0, bool), subject=np.array([], str), sequence=np.array([], str),
              action=np.array([], str), frame=z(0, int))


def action_of(sequence: str) -> str:
  """'S9/walking_2' -> 'walking' (the two trials of an action merged, as the literature does)."""
  return sequence.split('/')[-1].rsplit('_', 1)[0]


def detector_noise(gt_2d: np.ndarray, rng: np.random.Generator, sigma_px, swap_rate: float,
                   jump_rate: float) -> np.ndarray:
  """The detector-noise model (module docstring) on exact 2D [..., J, 2] px -> [..., J, 2] px."""
  out = gt_2d + rng.normal(size=gt_2d.shape) * np.asarray(sigma_px, np.float64)[:, None]
  for left, right in PAIRS:
    swap = rng.random(gt_2d.shape[:-2]) < swap_rate
    a, b = out[..., left, :].copy(), out[..., right, :].copy()
    out[..., left, :] = np.where(swap[..., None], b, a)
    out[..., right, :] = np.where(swap[..., None], a, b)
  lo, hi = gt_2d.min(axis=-2, keepdims=True), gt_2d.max(axis=-2, keepdims=True)
  jump = rng.random(gt_2d.shape[:-1]) < jump_rate
  anywhere = lo + rng.random(gt_2d.shape) * (hi - lo)
  return np.where(jump[..., None], anywhere, out)


class Motion2D:
  """The 2D-3D pairs of a data config (configs/default.py: ``motion2d_data``), per split."""

  dist_model = 'h36m'

  def __init__(self, cfg):
    for field in ('motion_path', 'cameras_path'):
      if not cfg[field]:
        raise ValueError(f'dataset {cfg.dataset!r}: field {field} is empty; set it to the file in '
                         f'../shared/data/h36m_motion (README)')
    if cfg.noise not in NOISES:
      raise ValueError(f'field noise must be one of {NOISES}, got {cfg.noise!r}')
    if len(cfg.noise_sigma_px) != len(h36m.JOINT_NAMES):
      raise ValueError(f'field noise_sigma_px needs {len(h36m.JOINT_NAMES)} values (one per '
                       f'joint), got {len(cfg.noise_sigma_px)}')
    self.cfg = cfg
    self.cameras = h36m.load_cameras(cfg.cameras_path)
    self.camera_names = list(h36m.CAMERA_IDS)
    settings = {k: cfg[k] for k in ('subjects', 'every_by_split', 'noise', 'noise_sigma_px',
                                    'swap_rate', 'jump_rate', 'noise_seed', 'max_frames')}
    blob = json.dumps(settings, sort_keys=True,
                      default=lambda o: o.to_dict() if hasattr(o, 'to_dict') else str(o))
    self.name = 'h36m_2d_' + hashlib.sha1(blob.encode()).hexdigest()[:10]

  def _empty(self) -> dict:
    return _empty_split(len(self.camera_names), len(h36m.JOINT_NAMES))

  def load_split(self, split: str, num_threads: int = 4) -> dict:
    """The split (module docstring), subjects ``subjects[split]``, every ``every_by_split[split]``
    -th 10 Hz frame, at most ``max_frames`` (0 = all).

    Raises:
      KeyError: naming the file for a subject without cameras or motion.
    """
    del num_threads
    cfg = self.cfg
    subjects = list(cfg.subjects[split])
    if not subjects:                      # e.g. no unlabeled subjects in a supervised protocol
      return self._empty()
    motion = h36m.load_motion(cfg.motion_path, subjects=tuple(subjects))
    every = max(1, int(cfg.every_by_split[split]))
    poses, cams, gt_2d, meta = [], [], [], []
    for s in subjects:
      if s not in self.cameras:
        raise KeyError(f'{cfg.cameras_path}: no cameras for subject {s!r}')
      keys = sorted(k for k in motion if k.split('/')[0] == s)
      if not keys:
        raise KeyError(f'{cfg.motion_path}: no motion for subject {s!r}')
      rig = [c for _, c in self.cameras[s]]
      for k in keys:
        idx = np.arange(0, len(motion[k]), every)
        p = motion[k][idx].astype(np.float64)
        poses.append(p)
        # Exact projections through each official camera (numpy float64, H36M lens model).
        gt_2d.append(np.stack([np.asarray(camlib.project(c, p)) for c in rig], axis=1))
        stacked = camlib.stack(rig)                                   # leaves [V, ...]
        cams.append(jax.tree.map(lambda a, n=len(idx): np.broadcast_to(a, (n,) + a.shape),
                                 stacked))
        meta += [(s, k, int(i)) for i in idx]
    if cfg.max_frames:
      keep = np.linspace(0, len(meta) - 1, min(cfg.max_frames, len(meta))).round().astype(int)
    else:
      keep = np.arange(len(meta))
    pose = np.concatenate(poses)[keep].astype(np.float32)
    cam = jax.tree.map(lambda *a: np.concatenate(a)[keep].astype(np.float32), *cams)
    gt_2d = np.concatenate(gt_2d)[keep]
    kp = gt_2d
    if cfg.noise == 'detector':
      rng = np.random.default_rng([int(cfg.noise_seed), zlib.crc32(split.encode())])
      kp = detector_noise(gt_2d, rng, cfg.noise_sigma_px, cfg.swap_rate, cfg.jump_rate)
    meta = [meta[i] for i in keep]
    n, v = pose.shape[0], len(self.camera_names)
    kp = np.concatenate([kp, np.ones(kp.shape[:-1] + (1,))], -1).astype(np.float32)
    return dict(keypoints_2d=kp, gt_2d=gt_2d.astype(np.float32), cams=cam,
                view_valid=np.ones((n, v), bool), pose_3d=pose, has_pose_3d=np.ones(n, bool),
                subject=np.array([m[0] for m in meta]), sequence=np.array([m[1] for m in meta]),
                action=np.array([action_of(m[1]) for m in meta]),
                frame=np.array([m[2] for m in meta]))
