"""Several people per frame: an evaluation split of rendered multi-person scenes, each person
cropped from its own box (issue: absolute pose of several people, as 3DMPPE and MeTRAbs do it
top-down).

Scene s of a split with frames 0..N-1 (every ``every``-th frame is a scene) holds ``people``
persons: person 0 is frame s's pose where it stands; person k > 0 is the pose of frame
(s + k N / people) mod N (another moment, often another subject), moved rigidly so that its root
stands ``spacing_mm`` (uniform in the range) from person 0's root in a random direction of the
ground plane (orthogonal to the split's mean pelvis-to-thorax direction, the world's up), at
person 0's root height. Every person of the scene is then seen by every camera of frame s: its
box is the square around its projected joints scaled by ``box_scale`` (the "GT box", as the
renderer's), its crop camera is that box's (:func:`mvssl.geometry.camera.crop_and_resize` of the
frame's crop camera: exact), and the crop shows every person of the scene, far to near
(:func:`mvssl.data.render.paint_people`), so neighbours overlap and occlude as in a crowd.

Boxes come from the labels, as in Human3.6M's and MuPoTS-3D's GT-box protocols; a detector is out
of scope. A user's own boxes plug in where the bring-your-own recording reads them
(``config.unlabeled_data.boxes``, :mod:`mvssl.data.detections`): each box becomes one crop and
its crop camera, which is all a per-crop model needs.

Only rendered data can be re-rendered as a crowd (``config.data.dataset='rendered'``).
"""

from __future__ import annotations

import cv2
import jax
import numpy as np

from mvssl.data import render
from mvssl.geometry import camera as camlib


def check(people: int, spacing_mm, every: int, dataset: str) -> None:
  """Raises ValueError naming config.crowd's bad field."""
  if int(people) == 0:
    return
  if not 2 <= int(people) <= 5:
    raise ValueError(f'config.crowd.people must be 0 (off) or 2..5, got {people!r}')
  lo, hi = (float(x) for x in spacing_mm)
  if not 0.0 < lo <= hi:
    raise ValueError(f'config.crowd.spacing_mm must be (low, high) mm with 0 < low <= high, '
                     f'got {spacing_mm!r}')
  if int(every) < 1:
    raise ValueError(f'config.crowd.every must be >= 1, got {every!r}')
  if dataset != 'rendered':
    raise ValueError(f'config.crowd renders its scenes: it needs config.data.dataset=rendered, '
                     f'got {dataset!r}; set config.crowd.people=0')


def up_direction(poses: np.ndarray) -> np.ndarray:
  """The world's up [3] (unit): the mean pelvis (0) -> thorax (8) direction of poses [N, 17, 3]."""
  d = poses[:, 8] - poses[:, 0]
  d = d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)
  u = d.mean(0)
  return u / np.linalg.norm(u)


def place(poses: np.ndarray, rng: np.random.Generator, spacing_mm, up: np.ndarray) -> np.ndarray:
  """A scene: poses [P, 17, 3] world mm -> the same poses with persons 1.. moved rigidly to
  stand ``spacing_mm`` (uniform in [low, high]) from person 0's root, in a random ground-plane
  direction (orthogonal to ``up``), at person 0's root height; person 0 unchanged."""
  e1 = np.cross(up, [1.0, 0.0, 0.0] if abs(up[0]) < 0.9 else [0.0, 1.0, 0.0])
  e1 /= np.linalg.norm(e1)
  e2 = np.cross(up, e1)
  out = np.array(poses, np.float64, copy=True)
  for k in range(1, len(out)):
    a = rng.uniform(0.0, 2.0 * np.pi)
    r = rng.uniform(*spacing_mm)
    out[k] += poses[0, 0] + r * (np.cos(a) * e1 + np.sin(a) * e2) - poses[k, 0]
  return out


def _crop_box_to_image(box_full: np.ndarray, box_crop: np.ndarray, size: int) -> np.ndarray:
  """A box in crop px of a crop cut from ``box_full`` (full-image px, square) -> full-image px."""
  s = box_full[2] / size
  return np.array([box_full[0] + box_crop[0] * s, box_full[1] + box_crop[1] * s,
                   box_crop[2] * s, box_crop[3] * s], np.float32)


def crowd_split(d: dict, people: int, spacing_mm=(900.0, 1500.0), every: int = 1,
                box_scale: float = 1.3, seed: int = 0, shading: str = 'light') -> dict:
  """The multi-person evaluation split of ``d`` (module docstring).

  Args:
    d: a rendered split: images [N, V, S, S, 3] uint8 RGB, cams Camera[N, V] (crop cameras),
      box [N, V, 4] full-image px, pose_3d [N, 17, 3] world mm, view_valid [N, V], and any other
      per-frame fields (subject, frame, ...), which each crop takes from its person's frame.
    people: persons per scene P (>= 2).
    spacing_mm: (low, high) root-to-root distance of each neighbour from person 0, mm.
    every: a scene every ``every``-th frame.
    box_scale: crop side over the projected joints' extent.
    seed: the scenes' randomness (placement, backgrounds).
    shading: how parts are shaded (:mod:`mvssl.data.render`), as the split's own renders.
  Returns:
    A split of M = ceil(N / every) * P crops (scene-major), the fields of ``d`` with the scene's
    cameras and each crop's own person: images, cams, box, pose_3d (the person as placed),
    view_valid (False where the person is partly behind a camera), plus 'scene' [M], 'person'
    [M] (0..P-1) and 'people_in_crop' [M, V]: persons whose root projects into the crop.
  Raises:
    ValueError: for people < 2 or a split without images.
  """
  if int(people) < 2:
    raise ValueError(f'a crowd needs people >= 2, got {people!r}')
  if 'images' not in d:
    raise ValueError('a crowd split is rendered crops: this split has no images')
  pose = np.asarray(d['pose_3d'], np.float64)
  n, v, size = pose.shape[0], d['images'].shape[1], d['images'].shape[2]
  rng = np.random.default_rng(seed)
  up = up_direction(pose)
  host = jax.tree.map(np.asarray, d['cams'])
  boxes_in = np.asarray(d['box'], np.float64)
  valid_in = np.asarray(d['view_valid'], bool)
  images, cams, boxes, valid, src, placed, scene, person, crowding = ([] for _ in range(9))
  for s in range(0, n, int(every)):
    members = [s] + [(s + k * n // people) % n for k in range(1, people)]
    world = place(pose[members], rng, spacing_mm, up)
    for p in range(people):
      img_v, cam_v, box_v, ok_v, in_crop = [], [], [], [], []
      for c in range(v):
        cam = jax.tree.map(lambda a, c=c: a[s, c], host)
        uv, depth = (np.asarray(x, np.float64) for x in render.project_np(cam, world[p]))
        ok = bool(valid_in[s, c]) and bool(np.all(depth > 100.0)) and np.all(np.isfinite(uv))
        box = render.square_box(uv, box_scale) if ok else np.array([0.0, 0.0, size, size])
        crop = camlib.crop_and_resize(cam, box, (size, size))
        crop = jax.tree.map(lambda a: np.asarray(a, np.float32), crop)
        img = render.background(rng, size)
        if ok:
          render.paint_people(img, crop, world, shading)
        img_v.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))       # splits hold RGB
        cam_v.append(crop)
        box_v.append(_crop_box_to_image(boxes_in[s, c], box, size))
        ok_v.append(ok)
        roots = np.stack([np.asarray(render.project_np(crop, w[:1])[0])[0] for w in world])
        in_crop.append(int(np.sum(np.all((roots >= 0) & (roots <= size - 1), axis=-1))))
      images.append(np.stack(img_v))
      cams.append(jax.tree.map(lambda *a: np.stack(a), *cam_v))
      boxes.append(np.stack(box_v))
      valid.append(ok_v)
      src.append(members[p])
      placed.append(world[p])
      scene.append(s)
      person.append(p)
      crowding.append(in_crop)
  src = np.asarray(src)
  out = {k: (np.asarray(x)[src] if isinstance(x, np.ndarray) and x.shape[:1] == (n,) else x)
         for k, x in d.items() if k not in ('cams',)}
  out.update(images=np.stack(images), cams=jax.tree.map(lambda *a: np.stack(a), *cams),
             box=np.stack(boxes), pose_3d=np.stack(placed).astype(np.float32),
             view_valid=np.asarray(valid, bool) & valid_in[src], scene=np.asarray(scene),
             person=np.asarray(person), people_in_crop=np.asarray(crowding))
  return out
