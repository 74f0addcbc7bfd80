"""Training augmentation of multi-view frames with the exactly matching camera change.

A crop is warped by a similarity ``A`` about its centre (scale s, in-plane rotation theta, and
optionally a horizontal flip). The camera of the warped crop is the one whose projection of
every world point is ``A`` applied to the old projection, so labels stay exact and the world
frame never changes (the MVC loss and the DLT keep working across views):

  A K R = K' Q R    (RQ decomposition: K' upper triangular with a positive diagonal, Q = diag(Q2, 1)
                     orthogonal, det Q2 = -1 for a flip)
  R' = Q R,  t' = Q t,  (p2', p1') = Q2 (p2, p1),  radial k unchanged.

The tangential update holds for both lens models (OpenCV's and Human3.6M's tangential terms are
``r^2 p + 2 (x . p) x`` and ``r^2 p + (x . p) x`` with p = (p2, p1), both equivariant under
orthogonal maps of the normalised coordinates x). A flip mirrors the image, so the joints'
left/right names swap: the world pose (and any 2D detections) are permuted with
``h36m.FLIP_PERM``; one flip decision is shared by all views of a frame so that every view
keeps labelling the same world pose.
"""

from __future__ import annotations

import cv2
import numpy as np
import scipy.linalg

from mvssl.data import h36m


def similarity(size: int, scale: float, angle_deg: float, flip: bool,
               shift_px=(0.0, 0.0)) -> np.ndarray:
  """3x3 map of crop pixels (px) -> warped crop pixels about the crop centre ((S-1)/2), then
  moved by ``shift_px`` (dx, dy) px (image content moves right / down)."""
  c = (size - 1) / 2.0
  th = np.deg2rad(angle_deg)
  rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) * scale
  if flip:
    rot = rot @ np.diag([-1.0, 1.0])
  A = np.eye(3)
  A[:2, :2] = rot
  A[:2, 2] = np.array([c, c]) - rot @ np.array([c, c]) + np.asarray(shift_px, np.float64)
  return A


def warp_camera(K, R, t, dist, A):
  """Camera (K [3,3], R [3,3], t [3], dist [5]) of a crop warped by A -> (K', R', t', dist')."""
  M = A @ K
  Kp, Q = scipy.linalg.rq(M)
  S = np.diag(np.sign(np.diag(Kp)))
  Kp, Q = Kp @ S, S @ Q
  Kp = Kp / Kp[2, 2]
  Q2 = Q[:2, :2]
  d = np.array(dist, np.float64, copy=True)
  p2, p1 = Q2 @ np.array([d[4], d[3]])
  d[3], d[4] = p1, p2
  return Kp, Q @ R, Q @ t, d


def augment_frame(ex: dict, rng: np.random.Generator, *, scale=(0.8, 1.2), rotation_deg=30.0,
                  flip_prob=0.5, colour=True, shift=0.0) -> dict:
  """Randomly warps every view of one frame and updates cameras and labels to match.

  Args:
    ex: one example: images [V, S, S, 3] uint8, cams (Camera with leaves K, R [V, 3, 3],
      t [V, 3] mm, dist [V, 5]), pose_3d [J, 3] world mm, view_valid [V]; optional
      keypoints_2d [V, J, 3] (crop px), target_noise [V, J, 3] and target_w [V, J] (per-joint
      target extras of :func:`mvssl.train.stages.unlabeled_targets`, permuted with the joints).
    rng: numpy Generator (deterministic per example).
    scale: (low, high) uniform zoom; rotation_deg: uniform in +-rotation_deg; flip_prob: chance
      of a horizontal flip of the whole frame; colour: per-view gain/bias jitter; shift: each
      view's content moved by up to +-shift of the crop side in x and in y (uniform), so part
      of the body can leave the crop: truncation augmentation, as MeTRAbs trains with (0 = off;
      no random numbers are drawn for it then, so other settings' streams are unchanged).
  Returns:
    A new dict with the same keys.
  """
  out = dict(ex)
  imgs = np.asarray(ex['images'])
  cams = ex['cams']
  size = imgs.shape[1]
  flip = bool(rng.random() < flip_prob)
  new = {k: np.array(getattr(cams, k), np.float64) for k in ('K', 'R', 't', 'dist')}
  ims = list(imgs)
  kp = ex.get('keypoints_2d')
  kp = None if kp is None else np.array(kp, np.float64)
  for i in np.nonzero(np.asarray(ex['view_valid']))[0]:   # a missing view: nothing to warp
    zoom, angle = float(rng.uniform(*scale)), float(rng.uniform(-rotation_deg, rotation_deg))
    move = rng.uniform(-shift, shift, 2) * size if shift > 0 else (0.0, 0.0)
    A = similarity(size, zoom, angle, flip, move)
    new['K'][i], new['R'][i], new['t'][i], new['dist'][i] = warp_camera(
        new['K'][i], new['R'][i], new['t'][i], new['dist'][i], A)
    img = cv2.warpAffine(imgs[i], A[:2], (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT)
    if colour:
      img = np.clip(img * rng.uniform(0.8, 1.2) + rng.uniform(-20, 20), 0, 255).astype(np.uint8)
    ims[i] = img
    if kp is not None:
      kp[i, :, :2] = kp[i, :, :2] @ A[:2, :2].T + A[:2, 2]
  dt = np.asarray(cams.K).dtype
  out['images'] = np.stack(ims)
  out['cams'] = cams.replace(**{k: a.astype(dt) for k, a in new.items()})
  perm = list(h36m.FLIP_PERM) if flip else list(range(len(h36m.FLIP_PERM)))
  out['pose_3d'] = np.asarray(ex['pose_3d'])[perm]
  for key, axis in (('target_noise', -2), ('target_w', -1)):   # per-joint target extras
    if key in ex:
      out[key] = np.take(np.asarray(ex[key]), perm, axis=axis)
  if kp is not None:
    out['keypoints_2d'] = kp[:, perm].astype(np.asarray(ex['keypoints_2d']).dtype)
  return out
