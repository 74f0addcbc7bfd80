"""2D detections of a user's recording, mapped to Human3.6M-17: OpenPose JSON (BODY_25,
BODY_25B or COCO-18), COCO keypoints JSON, or an npz array already in Human3.6M-17.

Spec strings (``config.unlabeled_data.detections``): ``openpose:<pattern>`` with a per-frame
OpenPose JSON pattern (``{camera}``, ``{frame}``; BODY_25 or COCO-18, told apart by their joint
counts), ``openpose-body25b:<pattern>`` the same in OpenPose's BODY_25B (Pose2Sim's demo; 25
joints too, in another order: a BODY_25B file read as BODY_25 is refused, see
:func:`check_body25`), ``coco:<pattern>`` a COCO keypoints JSON per camera (``{camera}``;
frame = image id), or ``npz:<file>:<key>`` an array [V, T, 17, 3].
Joints with no counterpart in the source skeleton (spine, head top) are the midpoints named in
:data:`BODY25_TO_H36M17` / :data:`COCO17_TO_H36M17`, scored with the lower of their sources'
scores; missing or non-finite detections get score 0.

Several people in a view: OpenPose files list every person detected. With the cameras given
(a calibrated recording), :mod:`mvssl.data.association` picks the subject in every view of every
frame by triangulation; without them, the person with the highest mean score.
"""

from __future__ import annotations

import json
import os

import numpy as np

from mvssl.data import render
from mvssl.data.frames import list_images

# Human3.6M-17 joint j = mean of these source joints (one index = that joint itself).
BODY25_TO_H36M17 = ((8,), (9,), (10,), (11,), (12,), (13,), (14,), (8, 1), (1,), (0,), (17, 18),
                    (5,), (6,), (7,), (2,), (3,), (4,))
COCO18_TO_H36M17 = ((8, 11), (8,), (9,), (10,), (11,), (12,), (13,), (8, 11, 1), (1,), (0,),
                    (16, 17), (5,), (6,), (7,), (2,), (3,), (4,))
# BODY_25B: 0 nose, 5-10 shoulders / elbows / wrists (L, R), 11-16 hips / knees / ankles (L, R),
# 17 neck, 18 head top; the spine is the midpoint of the hips' midpoint and the neck.
BODY25B_TO_H36M17 = ((11, 12), (12,), (14,), (16,), (11,), (13,), (15,), (11, 12, 17, 17),
                     (17,), (0,), (18,), (5,), (7,), (9,), (6,), (8,), (10,))
COCO17_TO_H36M17 = ((11, 12), (12,), (14,), (16,), (11,), (13,), (15,), (11, 12, 5, 6), (5, 6),
                    (0,), (3, 4), (5,), (7,), (9,), (6,), (8,), (10,))


def to_h36m17(kp: np.ndarray, mapping) -> np.ndarray:
  """Detections [..., K, 3] (x, y, score) in another skeleton -> [..., 17, 3].

  Missing source joints (score 0) give score 0.
  """
  out = []
  for src in mapping:
    pts = kp[..., list(src), :]
    out.append(np.concatenate([pts[..., :2].mean(-2), pts[..., 2:].min(-2)], axis=-1))
  return np.stack(out, axis=-2)


def read_npz(path: str, key: str, num_views: int | None = None) -> np.ndarray:
  """An npz array of detections -> [V, T, 17, 3] (x px, y px, score) float64; non-finite
  detections become zeros (score 0).

  Raises:
    FileNotFoundError / KeyError / ValueError naming the file, the key and the expected shape.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: detections file not found')
  with np.load(path) as d:
    if key not in d:
      raise KeyError(f'{path}: missing array {key!r} (has {sorted(d.files)})')
    arr = np.array(d[key], np.float64)
  v = 'V' if num_views is None else f'V={num_views}'
  if arr.ndim != 4 or arr.shape[2:] != (17, 3) or num_views not in (None, arr.shape[0]):
    raise ValueError(f'{path}[{key}]: expected [{v}, T, 17, 3], got {arr.shape}' +
                     (' (V: one row per camera, in the order of the calibration / config '
                      'cameras)' if num_views is not None else ''))
  arr[~np.all(np.isfinite(arr), axis=-1)] = 0.0
  return arr


def _openpose_people(path, kind: str = 'openpose') -> np.ndarray:
  """Every person of one OpenPose JSON file, mapped to Human3.6M-17: [P, 17, 3] (P may be 0)."""
  with open(path) as f:
    try:
      data = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f'{path}: not valid JSON ({e})') from None
  people = data.get('people')
  if people is None:
    raise KeyError(f'{path}: missing field "people"')
  out = []
  for p in people:
    kp = np.asarray(p.get('pose_keypoints_2d', ()), np.float64).reshape(-1, 3)
    if kind == 'openpose-body25b':
      if kp.shape[0] != 25:
        raise ValueError(f'{path}: pose_keypoints_2d has {kp.shape[0]} joints, BODY_25B has 25')
      out.append(to_h36m17(kp, BODY25B_TO_H36M17))
    elif kp.shape[0] == 25:
      check_body25(kp, path)
      out.append(to_h36m17(kp, BODY25_TO_H36M17))
    elif kp.shape[0] == 18:
      out.append(to_h36m17(kp, COCO18_TO_H36M17))
    else:
      raise ValueError(f'{path}: pose_keypoints_2d has {kp.shape[0]} joints (BODY_25 or COCO-18 '
                       f'expected; BODY_25B: use openpose-body25b:PATTERN)')
  return np.stack(out) if out else np.zeros((0, 17, 3))


def check_body25(kp: np.ndarray, path: str) -> None:
  """Refuses a BODY_25B person read as BODY_25 (both have 25 joints): in BODY_25 joint 8 is the
  mid-hip, halfway between the hips 9 and 12; in BODY_25B joints 8, 9, 12 are the right elbow,
  left wrist and right hip.

  Raises:
    ValueError: naming the file and the spec to use.
  """
  if np.all(kp[[8, 9, 12], 2] > 0):
    hips = np.linalg.norm(kp[9, :2] - kp[12, :2])
    off = np.linalg.norm(kp[8, :2] - (kp[9, :2] + kp[12, :2]) / 2)
    if hips > 1.0 and off > 0.75 * hips:
      raise ValueError(f'{path}: joint 8 is not between joints 9 and 12, so this is not BODY_25 '
                       f'(BODY_25B? then use openpose-body25b:PATTERN as the detections spec)')


def person_box(spec: str, min_score: float = 0.3, person: int = -1) -> np.ndarray:
  """The person box (x0, y0, w, h) px around one image's detected joints (score >= min_score),
  as the recording path places its crops (``mvssl.predict --detections``): ``spec`` is ``openpose:FILE.json`` or
  ``openpose-body25b:FILE.json`` (one OpenPose file of this image); ``person`` picks one of the
  people it lists (-1: the highest mean score).

  Raises:
    FileNotFoundError / ValueError: naming the file: missing, no person, too few joints.
  """
  kind, _, path = spec.partition(':')
  if kind not in ('openpose', 'openpose-body25b') or not path:
    raise ValueError(f'--detections for one image must be openpose:FILE.json or '
                     f'openpose-body25b:FILE.json, got {spec!r}')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: detections file not found')
  people = _openpose_people(path, kind)
  if not len(people):
    raise ValueError(f'{path}: no person detected; give --box x0,y0,w,h instead')
  if person >= len(people):
    raise ValueError(f'{path}: lists {len(people)} people, --person={person} is not one')
  kp = people[person] if person >= 0 else people[int(np.argmax(people[..., 2].mean(-1)))]
  ok = kp[:, 2] >= min_score
  if ok.sum() < 2:
    raise ValueError(f'{path}: fewer than 2 joints scored >= {min_score}; give --box instead')
  return render.square_box(kp[ok, :2], 1.0)


def _best(people: np.ndarray):
  """The person with the highest mean score, or None."""
  return people[int(np.argmax(people[..., 2].mean(-1)))] if len(people) else None


def _coco_camera(path):
  with open(path) as f:
    data = json.load(f)
  for key in ('images', 'annotations'):
    if key not in data:
      raise KeyError(f'{path}: missing field {key!r}')
  out = {}
  for a in data['annotations']:
    kp = np.asarray(a['keypoints'], np.float64).reshape(-1, 3)
    if kp.shape[0] != 17:
      raise ValueError(f'{path}: annotation {a.get("id")} has {kp.shape[0]} keypoints, COCO has 17')
    kp[:, 2] = np.where(kp[:, 2] > 0, a.get('score', 1.0) if kp[:, 2].max() > 1 else kp[:, 2],
                        0.0)
    frame = int(a['image_id'])
    if frame not in out or kp[:, 2].mean() > out[frame][:, 2].mean():
      out[frame] = kp
  return {f: to_h36m17(kp, COCO17_TO_H36M17) for f, kp in out.items()}


def load_detections(root: str, spec: str, cameras: list[str], frames: list[int],
                    cams=None, association: dict | None = None) -> np.ndarray:
  """Detections [V, T, 17, 3] (x, y, score) for ``frames``; missing ones have score 0.

  Args:
    root: the recording folder; spec: the detections spec (module docstring).
    cameras: camera names in view order; frames: the frame numbers read.
    cams: optional Camera [V] of the full images: with several people in a view, the subject is
      picked by :func:`mvssl.data.association.associate` (else by its mean score).
    association: keyword arguments of ``associate`` (max_error_px, min_views, min_score).
  Raises:
    FileNotFoundError / KeyError / ValueError naming the file and field.
  """
  kind, _, rest = spec.partition(':')
  out = np.zeros((len(cameras), len(frames), 17, 3))
  if kind == 'npz':
    file, _, key = rest.partition(':')
    arr = read_npz(os.path.join(root, file), key, num_views=len(cameras))
    for i, f in enumerate(frames):
      if f < arr.shape[1]:
        out[:, i] = arr[:, f]
  elif kind in ('openpose', 'openpose-body25b'):
    people = [[np.zeros((0, 17, 3))] * len(frames) for _ in cameras]
    for v, cam in enumerate(cameras):
      files = list_images(root, rest, cam)
      for i, f in enumerate(frames):
        if f in files:
          people[v][i] = _openpose_people(files[f], kind)
    several = any(len(p) > 1 for view in people for p in view)
    if several and cams is not None:
      from mvssl.data import association as assoc  # noqa: PLC0415 (JAX only when needed)
      out = assoc.associate(cams, assoc.pad_people(people), **(association or {}))['detections']
    else:
      for v, view in enumerate(people):
        for i, p in enumerate(view):
          best = _best(p)
          if best is not None:
            out[v, i] = best
  elif kind == 'coco':
    for v, cam in enumerate(cameras):
      path = os.path.join(root, rest.replace('{camera}', cam))
      if not os.path.exists(path):
        raise FileNotFoundError(f'{path}: COCO keypoints file not found')
      per = _coco_camera(path)
      for i, f in enumerate(frames):
        if f in per:
          out[v, i] = per[f]
  else:
    raise ValueError(f'detections {spec!r}: kind must be npz:, openpose:, openpose-body25b: or '
                     f'coco:')
  bad = ~np.all(np.isfinite(out), axis=-1)
  out[bad] = 0.0
  return out
