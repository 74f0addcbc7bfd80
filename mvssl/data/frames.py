"""What a dataset adapter yields: synchronised multi-view frames with their full-image cameras.

An adapter (Human3.6M, MPI-INF-3DHP, a user's recording; see ``human36m.py``,
``mpi_inf_3dhp.py``, ``recording.py``) reads its files into :class:`Frame` objects of
:class:`View` objects; :mod:`mvssl.data.builder` turns them into network-ready crops. Also here:
the helpers the adapters share (per-camera labels -> one world pose, image reading, subject and
frame selection, MMPose's box convention).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from collections.abc import Callable, Iterator
from typing import Protocol

import cv2
import numpy as np

from mvssl.geometry import camera as camlib

NUM_JOINTS = 17   # Human3.6M-17


@dataclasses.dataclass
class View:
  """One camera's part of a frame (full-image coordinates).

  Attributes:
    camera: Camera of the full image (numpy float64; mm), made by ``Camera.create`` (validated).
    image: callable returning the full image as uint8 BGR [H, W, 3] (OpenCV order), or None
      when this camera has no image for the frame (a missing view).
    box: optional (x0, y0, w, h) box in full-image px; squared and scaled by ``box_scale``.
    keypoints_2d: optional [J, 3] detections (x px, y px, score) in the full image.
    origin: file name (and index) the image comes from, for error messages.
  """
  camera: camlib.Camera
  image: Callable[[], np.ndarray] | None
  box: np.ndarray | None = None
  keypoints_2d: np.ndarray | None = None
  origin: str = ''


@dataclasses.dataclass
class Frame:
  """One synchronised multi-view frame: V views and, when labeled, world joints [J, 3] mm."""
  subject: str
  sequence: str
  frame: int
  views: list[View]
  pose_3d: np.ndarray | None = None
  origin: str = ''


class Adapter(Protocol):
  """What a dataset adapter provides to :class:`mvssl.data.builder.CalibratedMultiview`."""
  name: str                   # short dataset name, e.g. 'human36m'
  dist_model: str             # lens model of its cameras: 'h36m' | 'opencv'
  camera_names: list[str]     # the V cameras, in view order
  splits: tuple[str, ...]     # split names it yields

  def settings(self) -> dict:        # every setting that changes the examples (hashed)
    ...

  def frames(self, split: str) -> Iterator[Frame]:
    ...


@dataclasses.dataclass
class CameraLabel:
  """One view of a frame labeled in its camera's frame (MMPose-style per-image annotations).

  Attributes:
    camera: Camera of the full image (numpy float64; mm).
    name: camera name for error messages (e.g. 'S1/54138969').
    path: image file, or None when this camera has no image for the frame.
    box: optional (x0, y0, w, h) box (px).
    joints_cam: [J, 3] joints in this camera's frame (mm), or None for a missing view.
    origin: annotation file and row, for error messages.
  """
  camera: camlib.Camera
  name: str
  path: str | None = None
  box: np.ndarray | None = None
  joints_cam: np.ndarray | None = None
  origin: str = ''


def frame_from_camera_labels(subject: str, sequence: str, frame: int,
                             labels: list[CameraLabel], *, tol_mm: float, calibration: str,
                             origin: str) -> Frame:
  """A :class:`Frame` from per-camera labels: the world pose comes from the first present view,
  and every other view must agree with it within ``tol_mm`` in world.

  Raises:
    ValueError: naming the annotation row and the calibration file when a camera does not
      match its labels.
  """
  world, views = None, []
  for lab in labels:
    if lab.joints_cam is None:
      views.append(View(camera=lab.camera, image=None, origin=f'{origin} {lab.name}'))
      continue
    w = camlib.camera_to_world(lab.camera, lab.joints_cam)
    if world is None:
      world = w
    else:
      gap = float(np.max(np.linalg.norm(w - world, axis=-1)))
      if gap > tol_mm:
        raise ValueError(f'{lab.origin}: camera {lab.name} of {calibration} does not match: '
                         f'its labels are {gap:.1f} mm from the other views in world')
    views.append(View(camera=lab.camera, image=lambda p=lab.path: imread(p), box=lab.box,
                      origin=lab.path))
  return Frame(subject=subject, sequence=sequence, frame=frame, views=views, pose_3d=world,
               origin=origin)


def imread(path: str) -> np.ndarray:
  """The image as BGR uint8 [H, W, 3] (OpenCV), refusing a truncated JPEG (which OpenCV would
  decode with the missing part grey, with only a libjpeg warning).

  Raises:
    FileNotFoundError: the file is missing.
    ValueError: it cannot be decoded, or it is a JPEG without its end-of-image marker.
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path}: image missing')
  data = np.fromfile(path, np.uint8)
  if data[:2].tobytes() == b'\xff\xd8' and b'\xff\xd9' not in data[-1024:].tobytes():
    raise ValueError(f'{path}: truncated JPEG (no end-of-image marker; it would decode partly '
                     f'grey); re-extract it, or delete it (a missing frame of a recording is '
                     f'masked)')
  img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
  if img is None:
    raise ValueError(f'{path}: not a readable image; re-extract it, or delete it (a missing '
                     f'frame of a recording is masked)')
  return img


def check_subjects(subjects: dict, known, source: str, has: str) -> None:
  """Raises ValueError naming ``source`` when a split lists a subject not in ``known``;
  ``has`` says what the source holds (for the message)."""
  for split, subs in subjects.items():
    for s in subs:
      if s not in known:
        raise ValueError(f'{source}: unknown subject {s!r} in split {split!r} ({has})')


def every_kth(items, every: dict, split: str, max_frames: int = 0):
  """Every ``every[split]``-th of ``items`` (default 1), at most ``max_frames`` (0 = all)."""
  return items[::max(1, int(every.get(split, 1)))][:max_frames or None]


def box_from_center_scale(center, scale) -> np.ndarray:
  """MMPose's box convention (center [2] px, scale = box side / 200 px) -> (x0, y0, w, h)."""
  side = float(scale) * 200.0
  return np.array([center[0] - side / 2, center[1] - side / 2, side, side], np.float64)


def _pattern_regex(pattern: str, camera: str) -> re.Pattern:
  text = re.escape(pattern.replace('{camera}', camera))
  return re.compile('^' + text.replace(re.escape('{frame}'), r'(\d+)') + '$')


def cameras_in_pattern(root: str, pattern: str) -> set[str]:
  """The camera names that files matching ``pattern`` ({camera} and optionally {frame}) have
  under ``root``."""
  text = re.escape(pattern).replace(re.escape('{camera}'), r'([^/\\]+?)', 1)
  rx = re.compile('^' + text.replace(re.escape('{camera}'), r'\1')
                  .replace(re.escape('{frame}'), r'\d+') + '$')
  found = set()
  for p in glob.glob(os.path.join(root, pattern.replace('{camera}', '*').replace('{frame}', '*'))):
    m = rx.match(os.path.relpath(p, root).replace(os.sep, '/'))
    if m:
      found.add(m.group(1))
  return found


def list_images(root: str, pattern: str, camera: str) -> dict[int, str]:
  """{frame number: path} of the files matching ``pattern`` ({camera}, {frame}) for a camera."""
  rel_glob = pattern.replace('{camera}', camera).replace('{frame}', '*')
  rx = _pattern_regex(pattern, camera)
  out = {}
  for p in glob.glob(os.path.join(root, rel_glob)):
    m = rx.match(os.path.relpath(p, root))
    if m:
      out[int(m.group(1))] = p
  return out
