"""Truncated views: an evaluation split whose crops cut off part of the body, made from any split
by moving the crop window (what a crop at an image border does), so every model family is scored
on the same truncated images (issue: MeTRAbs' truncation robustness).

Modes (``config.truncation.modes``): ``bottom`` moves the window up by ``fraction`` of the crop
side, so the lower part of the body (feet, knees) leaves the image; ``side`` moves it left, so
the person's image-right side leaves. The uncovered band is black, as outside an image. The crop
camera follows exactly (K's principal point moves with the window:
:func:`mvssl.geometry.camera.crop_and_resize`), so every label and target stays exact.
"""

from __future__ import annotations

import jax
import numpy as np

from mvssl.geometry import camera as camlib

MODES = ('bottom', 'side')


def check(modes, fraction: float) -> None:
  """Raises ValueError naming config.truncation's bad field."""
  bad = [m for m in modes if m not in MODES]
  if bad:
    raise ValueError(f'config.truncation.modes: {bad} unknown (expected some of {MODES})')
  if not 0.0 < float(fraction) < 1.0:
    raise ValueError(f'config.truncation.fraction must be in (0, 1), got {fraction!r}')


def shift(mode: str, fraction: float, size: int) -> tuple[int, int]:
  """(dx, dy) px that image content moves by in a crop of ``size`` px."""
  s = int(round(fraction * size))
  return {'bottom': (0, s), 'side': (s, 0)}[mode]


def truncate_split(d: dict, mode: str, fraction: float) -> dict:
  """The split ``d`` (images [N, V, S, S, 3], cams Camera[N, V]) with every crop's window moved
  (module docstring); the other fields unchanged. Adds 'joints_outside' [N, V, J] bool: the
  joints that now project outside the crop.

  Raises:
    ValueError: for an unknown mode.
  """
  if mode not in MODES:
    raise ValueError(f'unknown truncation mode {mode!r} (expected one of {MODES})')
  images = np.asarray(d['images'])
  size = images.shape[2]
  dx, dy = shift(mode, fraction, size)
  out = np.zeros_like(images)
  out[:, :, dy:, dx:] = images[:, :, :size - dy, :size - dx]
  K = np.array(d['cams'].K, np.float32, copy=True)
  K[..., 0, 2] += dx
  K[..., 1, 2] += dy
  cams = d['cams'].replace(K=K)
  px = np.asarray(jax.vmap(camlib.project_to_views)(cams, np.asarray(d['pose_3d'])))
  outside = np.any((px < 0) | (px > size - 1), axis=-1)
  return dict(d, images=out, cams=cams, joints_outside=outside)

