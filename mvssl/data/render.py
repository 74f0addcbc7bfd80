"""Renders a posed body into a calibrated camera's square crop.

Each bone is a capsule (a thick segment with round ends) whose image radius is f * r / depth, the
torso a quadrilateral, the head a disc; parts are painted far to near (painter's algorithm), left
limbs in blue hues, right limbs in orange hues, the trunk in green. The background is a random smooth texture with stripes. The crop is the
square box around the projected joints scaled by ``box_scale`` (the "GT box" of Human3.6M
protocols); the returned camera is that crop's (K updated), so projecting the 3D joints with it
gives the labels in crop pixels.

Shading (``shading``, the data configs' field of that name):

  light  (default) Lambertian: each part's colour is scaled by 0.6 + 0.6 * max(0, n . l), with
         l a fixed light direction in the world (``LIGHT``: from above, z-up worlds) and n the
         part's surface normal facing the camera (a capsule: its axis' perpendicular towards
         the camera; the torso: its plane's normal). Real images shade by orientation, never by
         distance, so a single image learns nothing from it that a photograph would not give.
  depth  the renders' first shading, kept to measure what it gives away: each part scaled by
         1 - (its depth - the root's depth) / 1600 mm, clipped to [0.45, 1.35]. That is each
         part's root-relative depth written into its brightness, a cue real images lack and
         exactly the quantity multi-view consistency exists to fix.
  flat   no shading.
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
SHADINGS = ('light', 'depth', 'flat')
LIGHT = np.array([0.6, -0.5, 0.6]) / np.linalg.norm([0.6, -0.5, 0.6])   # world, unit


def project_np(cam, pts):
  """(pixels [J, 2], camera-frame depths [J] mm) of world points ``pts`` [J, 3] mm (host)."""
  pc = pts @ np.asarray(cam.R).T + np.asarray(cam.t)
  return np.asarray(camlib.project(cam, pts)), pc[:, 2]


def check_shading(shading: str) -> None:
  """Raises ValueError naming the field when ``shading`` is not one of :data:`SHADINGS`."""
  if shading not in SHADINGS:
    raise ValueError(f'field shading of the rendered data must be one of {", ".join(SHADINGS)}; '
                     f'got {shading!r}')


def lambert(normal: np.ndarray, light_cam: np.ndarray) -> float:
  """The ``light`` shade factor 0.6 + 0.6 * max(0, n . l) of a unit normal and the unit light
  direction, both in one frame."""
  return 0.6 + 0.6 * max(0.0, float(np.dot(normal, light_cam)))


def facing_normal(a: np.ndarray, b: np.ndarray) -> np.ndarray:
  """Unit normal of a capsule from ``a`` to ``b`` (camera-frame mm) at the middle of its visible
  side: the direction to the camera with its component along the axis removed."""
  axis = b - a
  axis = axis / max(np.linalg.norm(axis), 1e-9)
  to_cam = -(a + b) / 2
  n = to_cam - np.dot(to_cam, axis) * axis
  return n / max(np.linalg.norm(n), 1e-9)


def plane_normal(quad: np.ndarray) -> np.ndarray:
  """Unit normal, turned towards the camera, of a quadrilateral [4, 3] (camera-frame mm)."""
  n = np.cross(quad[2] - quad[0], quad[3] - quad[1])
  n = n / max(np.linalg.norm(n), 1e-9)
  return n if np.dot(n, -quad.mean(0)) >= 0 else -n


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


def _colour(idx_pair, shade):
  _, b = idx_pair
  if b in h36m.LEFT:
    base = np.array([230, 120, 40])       # BGR blue-ish
  elif b in h36m.RIGHT:
    base = np.array([40, 130, 240])       # orange
  else:
    base = np.array([80, 190, 80])        # green trunk
  base = base + 12 * (b % 3)
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
                box_scale: float = 1.3, shading: str = 'light'):
  """Renders one view.

  Args:
    pose: [17, 3] world joints (mm).
    cam: full-image camera.
    size: output square size S (px).
    rng: randomness for the background and box jitter.
    box_scale: crop side over the projected joints' extent.
    shading: light | depth | flat (module docstring).
  Returns:
    (image [S, S, 3] uint8 BGR, crop camera, box [4] (x0, y0, w, h) in full-image px).
  Raises:
    ValueError: if a joint is behind the camera, or for an unknown shading.
  """
  check_shading(shading)
  uv_full, depth = project_np(cam, pose)
  if np.any(depth <= 100.0):
    raise ValueError(f'a joint is behind or at the camera (depth {depth.min():.0f} mm)')
  box = square_box(uv_full, box_scale)
  crop = camlib.crop_and_resize(cam, box, (size, size))
  uv, _ = project_np(crop, pose)
  img = background(rng, size)
  _paint(img, crop, [(uv, pose)], shading)
  return img, crop, box


def paint_people(img: np.ndarray, crop: camlib.Camera, poses, shading: str = 'light'
                 ) -> np.ndarray:
  """Paints bodies into ``img`` [S, S, 3] uint8 BGR (in place, and returned) as seen by the crop
  camera ``crop``: every person's bones, torso and head far to near together (painter's
  algorithm over all people, so a nearer person occludes a farther one), each shaded as
  ``shading`` says (module docstring; ``depth``: relative to its own root).

  Args:
    poses: world joints [17, 3] (mm) of each person; a person with a joint at or behind the
      camera (depth <= 100 mm) is left out.
  Raises:
    ValueError: for an unknown shading.
  """
  check_shading(shading)
  people = [(project_np(crop, np.asarray(pose))[0], np.asarray(pose, np.float64))
            for pose in poses]
  return _paint(img, crop, [(uv, pose) for uv, pose in people
                            if np.all(_camera_frame(crop, pose)[:, 2] > 100.0)], shading)


def _camera_frame(cam, pose):
  return pose @ np.asarray(cam.R, np.float64).T + np.asarray(cam.t, np.float64)


def _shade(shading, kind, ab, pc, light_cam):
  """The shade factor of a part (module docstring); pc: the person's camera-frame joints."""
  if shading == 'flat':
    return 1.0
  if shading == 'depth':
    d = (pc[[1, 4, 11, 14], 2].mean() + 40.0 if kind == 'torso'
         else (pc[ab[0], 2] + pc[ab[1], 2]) / 2)
    return float(np.clip(1.0 - (d - pc[0, 2]) / 1600.0, 0.45, 1.35))
  if kind == 'torso':
    return lambert(plane_normal(pc[[14, 11, 4, 1]]), light_cam)
  return lambert(facing_normal(pc[ab[0]], pc[ab[1]]), light_cam)


def _paint(img, crop, people, shading):
  """Paints people [(uv [17, 2] px, world joints [17, 3] mm)] into ``img`` as the crop camera
  ``crop`` sees them."""
  f = float(np.asarray(crop.K)[0, 0])
  light_cam = np.asarray(crop.R, np.float64) @ LIGHT
  parts = []
  for uv, pose in people:
    pc = _camera_frame(crop, pose)
    depth = pc[:, 2]
    person = (uv, pc)
    for (a, b) in h36m.BONES:
      parts.append(((depth[a] + depth[b]) / 2, 'bone', (a, b), person))
    parts.append((depth[[1, 4, 11, 14]].mean() + 40.0, 'torso', (0, 7), person))
    parts.append((depth[10], 'head', None, person))
  for d, kind, ab, (uv, pc) in sorted(parts, key=lambda p: -p[0]):
    if kind == 'bone':
      a, b = ab
      r = max(1, int(round(f * RADIUS_MM[ab] / d)))
      p0 = tuple(int(v) for v in np.round(uv[a] * (1 << _SUB)))
      p1 = tuple(int(v) for v in np.round(uv[b] * (1 << _SUB)))
      cv2.line(img, p0, p1, _colour(ab, _shade(shading, kind, ab, pc, light_cam)), 2 * r,
               cv2.LINE_AA, _SUB)
    elif kind == 'torso':
      quad = np.round(uv[[14, 11, 4, 1]] * (1 << _SUB)).astype(np.int32)
      cv2.fillConvexPoly(img, quad, _colour(ab, _shade(shading, kind, ab, pc, light_cam)),
                         cv2.LINE_AA, _SUB)
    else:
      r = max(1, int(round(f * HEAD_MM / d)))
      c = tuple(int(v) for v in np.round(uv[10] * (1 << _SUB)))
      cv2.circle(img, c, r << _SUB, (150, 180, 225), -1, cv2.LINE_AA, _SUB)
      # Face marker: nose side of the head, so the facing direction is visible.
      n = tuple(int(v) for v in np.round((0.6 * uv[9] + 0.4 * uv[10]) * (1 << _SUB)))
      cv2.circle(img, n, max(1, r // 3) << _SUB, (60, 60, 160), -1, cv2.LINE_AA, _SUB)
  return img
