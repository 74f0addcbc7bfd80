"""2D detections of a user's recording, mapped to Human3.6M-17: OpenPose JSON (BODY_25 or
COCO-18), COCO keypoints JSON, or an npz array already in Human3.6M-17.

Spec strings (``config.unlabeled_data.detections``): ``openpose:<pattern>`` with a per-frame
OpenPose JSON pattern (``{camera}``, ``{frame}``), ``coco:<pattern>`` a COCO keypoints JSON per
camera (``{camera}``; frame = image id), or ``npz:<file>:<key>`` an array [V, T, 17, 3].
Joints with no counterpart in the source skeleton (spine, head top) are the midpoints named in
:data:`BODY25_TO_H36M17` / :data:`COCO17_TO_H36M17`, scored with the lower of their sources'
scores; missing or non-finite detections get score 0.
"""

from __future__ import annotations

import json
import os

import numpy as np

from mvssl.data.frames import list_images

# Human3.6M-17 joint j = mean of these source joints (one index = that joint itself).
BODY25_TO_H36M17 = ((8,), (9,), (10,), (11,), (12,), (13,), (14,), (8, 1), (1,), (0,), (17, 18),
                    (5,), (6,), (7,), (2,), (3,), (4,))
COCO18_TO_H36M17 = ((8, 11), (8,), (9,), (10,), (11,), (12,), (13,), (8, 11, 1), (1,), (0,),
                    (16, 17), (5,), (6,), (7,), (2,), (3,), (4,))
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


def _openpose_frame(path):
  with open(path) as f:
    try:
      data = json.load(f)
    except json.JSONDecodeError as e:
      raise ValueError(f'{path}: not valid JSON ({e})') from None
  people = data.get('people')
  if people is None:
    raise KeyError(f'{path}: missing field "people"')
  if not people:
    return None
  best = max(people, key=lambda p: np.mean(np.asarray(p['pose_keypoints_2d'])[2::3]))
  kp = np.asarray(best['pose_keypoints_2d'], np.float64).reshape(-1, 3)
  if kp.shape[0] == 25:
    return to_h36m17(kp, BODY25_TO_H36M17)
  if kp.shape[0] == 18:
    return to_h36m17(kp, COCO18_TO_H36M17)
  raise ValueError(f'{path}: pose_keypoints_2d has {kp.shape[0]} joints (BODY_25 or COCO-18 '
                   f'expected)')


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


def load_detections(root: str, spec: str, cameras: list[str], frames: list[int]) -> np.ndarray:
  """Detections [V, T, 17, 3] (x, y, score) for ``frames``; missing ones have score 0.

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
  elif kind == 'openpose':
    for v, cam in enumerate(cameras):
      files = list_images(root, rest, cam)
      for i, f in enumerate(frames):
        if f in files:
          kp = _openpose_frame(files[f])
          if kp is not None:
            out[v, i] = kp
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
    raise ValueError(f'detections {spec!r}: kind must be npz:, openpose: or coco:')
  bad = ~np.all(np.isfinite(out), axis=-1)
  out[bad] = 0.0
  return out
