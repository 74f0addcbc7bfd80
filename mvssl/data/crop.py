"""One adapter :class:`~mvssl.data.frames.Frame` -> one dataset example: square crops with their
exact cameras, JPEG-encoded, plus the labels mapped into the crops.

Crops: the box (the dataset's GT box, else the square around the projected 3D joints or the 2D
detections) is made square, scaled by ``box_scale``, cut out and resized to S x S in one
``cv2.remap``; with ``undistort`` the same warp removes the lens distortion, so the crop camera is
an exact pinhole camera (dist = 0). Images are area-downsampled first when the box is more than
twice the crop size, so nothing aliases.
"""

from __future__ import annotations

import cv2
import numpy as np

from mvssl.data import render
from mvssl.data.frames import NUM_JOINTS, Frame
from mvssl.geometry import camera as camlib

JPEG_QUALITY = 95


def square_scaled(box, scale: float) -> np.ndarray:
  """(x0, y0, w, h) -> square box with side ``scale * max(w, h)``, same centre."""
  x0, y0, w, h = (float(v) for v in box)
  side = max(w, h) * scale
  return np.array([x0 + w / 2 - side / 2, y0 + h / 2 - side / 2, side, side])


def crop_view(image: np.ndarray, cam: camlib.Camera, box, size: int, *, undistort: bool):
  """Cuts ``box`` out of ``image`` and resizes it to ``size`` x ``size``, exactly.

  Args:
    image: [H, W, 3] uint8 full image (any channel order; kept).
    cam: Camera of the full image (numpy).
    box: (x0, y0, w, h) crop box in full-image px.
    size: S, output side (px).
    undistort: also remove the lens distortion (the returned camera then has dist = 0).
  Returns:
    (crop [S, S, 3] uint8, Camera of the crop).
  """
  box = np.asarray(box, np.float64)
  cam = camlib.Camera(K=np.asarray(cam.K, np.float64), R=np.asarray(cam.R, np.float64),
                      t=np.asarray(cam.t, np.float64), dist=np.asarray(cam.dist, np.float64),
                      dist_model=cam.dist_model)
  crop = camlib.crop_and_resize(cam, box, (size, size))
  if undistort:
    crop = crop.replace(dist=np.zeros(5))
  g = np.arange(size, dtype=np.float64)
  uv = np.stack(np.meshgrid(g, g), axis=-1)                                  # [S, S, 2] (x, y)
  if undistort:   # crop pixel -> pinhole ray -> distorted full-image pixel
    full = camlib.normalized_to_pixels(cam, camlib.pixels_to_normalized(
        crop, uv, remove_distortion=False))
  else:           # the lens model cancels: an affine map
    full = camlib.pixels_to_normalized(crop, uv, remove_distortion=False) @ cam.K[:2, :2].T \
        + cam.K[:2, 2]
  f = min(1.0, 2.0 * size / max(box[2], 1.0))
  if f < 1.0:     # area-downsample first; cv2.resize maps centres as x' = (x + 0.5) f - 0.5
    small = cv2.resize(image, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    fx, fy = small.shape[1] / image.shape[1], small.shape[0] / image.shape[0]
    full = np.stack([(full[..., 0] + 0.5) * fx - 0.5, (full[..., 1] + 0.5) * fy - 0.5], -1)
    image = small
  out = cv2.remap(image, full[..., 0].astype(np.float32), full[..., 1].astype(np.float32),
                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
  return out, crop


def keypoints_to_crop(kp: np.ndarray, cam: camlib.Camera, crop: camlib.Camera) -> np.ndarray:
  """Full-image detections [J, 3] (x, y, score) -> the same in crop px (score kept)."""
  xy = camlib.pixels_to_normalized(cam, kp[:, :2])
  uv = camlib.normalized_to_pixels(crop, xy)
  return np.concatenate([uv, kp[:, 2:3]], axis=-1)


def _check_finite(what, arr, origin):
  if not np.all(np.isfinite(arr)):
    raise ValueError(f'{origin}: field {what!r} has non-finite values (NaN/inf)')


class NoUsableView(ValueError):
  """A frame none of whose views has both an image and a crop box (the builder skips it)."""


def process_frame(fr: Frame, *, size: int, box_scale: float, undistort: bool,
                  num_joints: int = NUM_JOINTS) -> dict:
  """One :class:`Frame` -> one example (see module docstring).

  A view without an image, or without anything to place its crop (no box, no 3D pose, fewer
  than 2 detections: e.g. the detector missed the person in that camera), is masked
  (``view_valid`` False, a black crop), the same way for both causes.

  Raises:
    NoUsableView: (a ValueError) when no view of the frame has both an image and a box.
    ValueError: naming the file and field on a non-finite label or a wrong image shape.
  """
  v = len(fr.views)
  if fr.pose_3d is not None:
    pose = np.asarray(fr.pose_3d, np.float64)
    if pose.shape != (num_joints, 3):
      raise ValueError(f'{fr.origin}: field pose_3d has shape {pose.shape}, '
                       f'expected ({num_joints}, 3)')
    _check_finite('pose_3d', pose, fr.origin)
  ex = dict(images=[], K=np.zeros((v, 3, 3), np.float32), R=np.zeros((v, 3, 3), np.float32),
            t=np.zeros((v, 3), np.float32), dist=np.zeros((v, 5), np.float32),
            box=np.zeros((v, 4), np.float32), view_valid=np.zeros(v, bool),
            keypoints_2d=np.zeros((v, num_joints, 3), np.float32))
  blank = cv2.imencode('.jpg', np.zeros((size, size, 3), np.uint8))[1].tobytes()
  for i, view in enumerate(fr.views):
    cam = view.camera        # validated by Camera.create in the adapter
    img = view.image() if view.image is not None else None
    if img is None:
      ex['images'].append(blank)
      continue
    if img.ndim != 3 or img.shape[2] != 3:
      raise ValueError(f'{view.origin}: expected an [H, W, 3] image, got {img.shape}')
    kp = None if view.keypoints_2d is None else np.asarray(view.keypoints_2d, np.float64)
    if kp is not None:
      kp = np.where(np.isfinite(kp), kp, 0.0)
    if view.box is not None:
      box = np.asarray(view.box, np.float64)
      _check_finite('box', box, view.origin)
      box = square_scaled(box, box_scale)
    elif fr.pose_3d is not None:
      box = render.square_box(camlib.project(cam, pose), box_scale)
    elif kp is not None and np.sum(kp[:, 2] > 0) >= 2:
      box = render.square_box(kp[kp[:, 2] > 0, :2], box_scale)
    else:                    # nothing places the crop: masked like a missing image
      ex['images'].append(blank)
      continue
    crop_img, crop = crop_view(img, cam, box, size, undistort=undistort)
    ex['images'].append(cv2.imencode('.jpg', crop_img,        # BGR in, as OpenCV expects
                                     [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes())
    ex['K'][i], ex['R'][i], ex['t'][i], ex['dist'][i] = crop.K, crop.R, crop.t, crop.dist
    ex['box'][i] = box
    ex['view_valid'][i] = True
    if kp is not None:
      ex['keypoints_2d'][i] = keypoints_to_crop(kp, cam, crop)
  if not ex['view_valid'].any():
    raise NoUsableView(f'{fr.origin}: no view has both an image and a crop box (a box, a 3D '
                       f'pose or >= 2 detections)')
  ex.update(pose_3d=(pose if fr.pose_3d is not None else np.zeros((num_joints, 3))
                     ).astype(np.float32),
            has_pose_3d=fr.pose_3d is not None, subject=fr.subject, sequence=fr.sequence,
            frame=int(fr.frame))
  return ex
