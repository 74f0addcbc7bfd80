"""Renders a posed body into a calibrated camera's square crop.

Each bone is a capsule (a thick segment with round ends) whose image radius is f * r / depth, the
torso a quadrilateral, the head a disc; parts are painted far to near (painter's algorithm), left
limbs in blue hues, right limbs in orange hues, the trunk in green, each shaded by its depth
relative to the root. The background is a random smooth texture with stripes. The crop is the
square box around the projected joints scaled by ``box_scale`` (the "GT box" of Human3.6M
protocols); the returned camera is that crop's (K updated), so projecting the 3D joints with it
gives the labels in crop pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from mvssl.data import h36m
from mvssl.geometry import camera as camlib

RADIUS_MM = {(0, 1): 70, (1, 2): 65, (2, 3): 50, (0, 4): 70, (4, 5): 65, (5, 6): 50, (0, 7): 90,
             (7, 8): 100, (8, 9): 50, (9, 10): 60, (8, 11): 55, (11, 12): 45, (12, 13): 38,
             (8, 14): 55, (14, 15): 45, (15, 16): 38}
HEAD_MM = 105.0
_SUB = 4  # sub-pixel bits for cv2 drawing


def project_np(cam, pts):
  """(pixels [J, 2], camera-frame depths [J] mm) of world points ``pts`` [J, 3] mm (host)."""
  pc = pts @ np.asarray(cam.R).T + np.asarray(cam.t)
  return np.asarray(camlib.project(cam, pts)), pc[:, 2]


def square_box(uv: np.ndarray, scale: float) -> np.ndarray:
  """Square (x0, y0, w, h) box around 2D points [J, 2], side = scale * max extent (px)."""
  lo, hi = uv.min(0), uv.max(0)
  side = max(float(np.max(hi - lo)) * scale, 1.0)
  ctr = (lo + hi) / 2
  return np.array([ctr[0] - side / 2, ctr[1] - side / 2, side, side], np.float64)


def draw_skeleton(img: np.ndarray, uv: np.ndarray, colour=None, thickness: int = 2) -> np.ndarray:
  """``img`` (BGR) with the skeleton at ``uv`` [J, 2] px drawn on it (left limbs blue, right
  orange, spine green, unless one ``colour`` (BGR) is given)."""
  out = img.copy()
  for a, b in h36m.BONES:
    if a >= len(uv) or b >= len(uv) or not np.all(np.isfinite(uv[[a, b]])):
      continue
    c = colour or ((255, 128, 0) if b in h36m.LEFT else (0, 128, 255) if b in h36m.RIGHT
                   else (0, 200, 0))
    cv2.line(out, tuple(int(round(x)) for x in uv[a]), tuple(int(round(x)) for x in uv[b]), c,
             thickness, cv2.LINE_AA)
  return out


def _colour(idx_pair, rel_depth):
  a, b = idx_pair
  if b in h36m.LEFT:
    base = np.array([230, 120, 40])       # BGR blue-ish
  elif b in h36m.RIGHT:
    base = np.array([40, 130, 240])       # orange
  else:
    base = np.array([80, 190, 80])        # green trunk
  base = base + 12 * (b % 3)
  shade = np.clip(1.0 - rel_depth / 1600.0, 0.45, 1.35)
  return tuple(int(c) for c in np.clip(base * shade, 0, 255))


def background(rng: np.random.Generator, size: int) -> np.ndarray:
  """Random textured background [size, size, 3] uint8."""
  grey = rng.uniform(60, 190)
  low = (0.5 * grey + 0.5 * rng.uniform(30, 220, (6, 6, 3))).astype(np.float32)
  img = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
  freq = rng.uniform(0.1, 0.6)
  ang = rng.uniform(0, np.pi)
  yy, xx = np.mgrid[0:size, 0:size]
  stripes = 25 * np.sin(freq * (np.cos(ang) * xx + np.sin(ang) * yy))
  img += stripes[..., None] + rng.normal(0, 8, (size, size, 3))
  return np.clip(img, 0, 255).astype(np.uint8)


def render_view(pose: np.ndarray, cam: camlib.Camera, size: int, rng: np.random.Generator,
                box_scale: float = 1.3):
  """Renders one view.

  Args:
    pose: [17, 3] world joints (mm).
    cam: full-image camera.
    size: output square size S (px).
    rng: randomness for the background and box jitter.
    box_scale: crop side over the projected joints' extent.
  Returns:
    (image [S, S, 3] uint8 BGR, crop camera, box [4] (x0, y0, w, h) in full-image px).
  Raises:
    ValueError: if a joint is behind the camera.
  """
  uv_full, depth = project_np(cam, pose)
  if np.any(depth <= 100.0):
    raise ValueError(f'a joint is behind or at the camera (depth {depth.min():.0f} mm)')
  box = square_box(uv_full, box_scale)
  crop = camlib.crop_and_resize(cam, box, (size, size))
  uv, _ = project_np(crop, pose)
  img = background(rng, size)
  _paint(img, float(np.asarray(crop.K)[0, 0]), [(uv, depth)])
  return img, crop, box


def paint_people(img: np.ndarray, crop: camlib.Camera, poses) -> np.ndarray:
  """Paints bodies into ``img`` [S, S, 3] uint8 BGR (in place, and returned) as seen by the crop
  camera ``crop``: every person's bones, torso and head far to near together (painter's
  algorithm over all people, so a nearer person occludes a farther one), each shaded by its
  depth relative to its own root.

  Args:
    poses: world joints [17, 3] (mm) of each person; a person with a joint at or behind the
      camera (depth <= 100 mm) is left out.
  """
  people = [project_np(crop, np.asarray(pose)) for pose in poses]
  return _paint(img, float(np.asarray(crop.K)[0, 0]),
                [(uv, depth) for uv, depth in people if np.all(depth > 100.0)])


def _paint(img, f, people):
  """Paints people [(uv [17, 2] px, depth [17] mm)] into ``img`` (crop focal length f px)."""
  parts = []
  for uv, depth in people:
    person = (uv, depth[0])
    for (a, b) in h36m.BONES:
      parts.append(((depth[a] + depth[b]) / 2, 'bone', (a, b), person))
    parts.append((depth[[1, 4, 11, 14]].mean() + 40.0, 'torso', None, person))
    parts.append((depth[10], 'head', None, person))
  for d, kind, ab, (uv, root_depth) in sorted(parts, key=lambda p: -p[0]):
    rel = d - root_depth
    if kind == 'bone':
      a, b = ab
      r = max(1, int(round(f * RADIUS_MM[ab] / d)))
      p0 = tuple(int(v) for v in np.round(uv[a] * (1 << _SUB)))
      p1 = tuple(int(v) for v in np.round(uv[b] * (1 << _SUB)))
      cv2.line(img, p0, p1, _colour(ab, rel), 2 * r, cv2.LINE_AA, _SUB)
    elif kind == 'torso':
      quad = np.round(uv[[14, 11, 4, 1]] * (1 << _SUB)).astype(np.int32)
      cv2.fillConvexPoly(img, quad, _colour((0, 7), rel), cv2.LINE_AA, _SUB)
    else:
      r = max(1, int(round(f * HEAD_MM / d)))
      c = tuple(int(v) for v in np.round(uv[10] * (1 << _SUB)))
      cv2.circle(img, c, r << _SUB, (150, 180, 225), -1, cv2.LINE_AA, _SUB)
      # Face marker: nose side of the head, so the facing direction is visible.
      n = tuple(int(v) for v in np.round((0.6 * uv[9] + 0.4 * uv[10]) * (1 << _SUB)))
      cv2.circle(img, n, max(1, r // 3) << _SUB, (60, 60, 160), -1, cv2.LINE_AA, _SUB)
  return img
