"""Real calibrated multi-view recordings as TFDS ``array_record`` datasets.

One builder, :class:`CalibratedMultiview`, turns the frames that a dataset *adapter* yields
(Human3.6M, MPI-INF-3DHP, or a user's own recording; see ``human36m.py``, ``mpi_inf_3dhp.py``,
``recording.py``) into network-ready square crops with their exact cameras. One example is one
synchronised frame with V views::

  images        [V] bytes           JPEG-encoded S x S RGB crops (black for a missing view),
                                    decoded by the input pipeline's worker threads (OpenCV)
  K, R, t, dist [V, ...]            crop cameras: K in crop px, world->camera R and t (mm),
                                    dist (k1, k2, k3, p1, p2) of the lens model named in the
                                    builder's settings (zeros when the crops are undistorted)
  box           [V, 4]              crop box (x0, y0, w, h) in the full image (px)
  view_valid    [V] bool            False where a camera has no image for this frame
  pose_3d       [J, 3]              world joints (mm), Human3.6M-17 order; zeros if none
  has_pose_3d   bool                whether pose_3d is a label
  keypoints_2d  [V, J, 3]           2D detections mapped into the crop (x px, y px, score);
                                    zeros where none were given
  subject, sequence (text), frame (int)

Crops: the box (the dataset's GT box, else the square around the projected 3D joints or the
2D detections) is made square, scaled by ``box_scale``, cut out and resized to S x S in one
``cv2.remap``; with ``undistort`` the same warp removes the lens distortion, so the crop camera
is an exact pinhole camera (dist = 0). Images are area-downsampled first when the box is more
than twice the crop size, so nothing aliases.

TFDS writes into an ``incomplete.*`` folder and renames it only when every split is written, so
an interrupted build never passes for a complete one. The builder's config name is a hash of the
adapter's settings and the crop settings: a changed setting never reuses an old build.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from typing import Protocol

import cv2
import numpy as np
import tensorflow_datasets as tfds
import tqdm

from mvssl.data import render
from mvssl.geometry import camera as camlib

NUM_JOINTS = 17
JPEG_QUALITY = 95


@dataclasses.dataclass
class View:
  """One camera's part of a frame (full-image coordinates).

  Attributes:
    camera: Camera of the full image (numpy float64; mm).
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
  """What a dataset adapter provides to :class:`CalibratedMultiview`."""
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
  """cv2.imread (BGR uint8) that names the file when it is missing or unreadable."""
  img = cv2.imread(path, cv2.IMREAD_COLOR)
  if img is None:
    raise FileNotFoundError(f'{path}: image missing or unreadable')
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


def process_frame(fr: Frame, *, size: int, box_scale: float, undistort: bool,
                  num_joints: int = NUM_JOINTS) -> dict:
  """One :class:`Frame` -> one example (see module docstring).

  Raises:
    ValueError: naming the file and field on a non-finite label, an unreadable image, a frame
      without any image, or an image whose size does not match its box.
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
    cam = view.camera
    for field in ('K', 'R', 't', 'dist'):
      _check_finite(f'camera {i} {field}', np.asarray(getattr(cam, field)), view.origin or
                    fr.origin)
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
    else:
      raise ValueError(f'{view.origin}: no box, no 3D pose and fewer than 2 detections: '
                       f'cannot place the crop')
    crop_img, crop = crop_view(img, cam, box, size, undistort=undistort)
    ex['images'].append(cv2.imencode('.jpg', crop_img,        # BGR in, as OpenCV expects
                                     [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1].tobytes())
    ex['K'][i], ex['R'][i], ex['t'][i], ex['dist'][i] = crop.K, crop.R, crop.t, crop.dist
    ex['box'][i] = box
    ex['view_valid'][i] = True
    if kp is not None:
      ex['keypoints_2d'][i] = keypoints_to_crop(kp, cam, crop)
  if not ex['view_valid'].any():
    raise ValueError(f'{fr.origin}: no camera has an image for this frame')
  ex.update(pose_3d=(pose if fr.pose_3d is not None else np.zeros((num_joints, 3))
                     ).astype(np.float32),
            has_pose_3d=fr.pose_3d is not None, subject=fr.subject, sequence=fr.sequence,
            frame=int(fr.frame))
  return ex


class CalibratedMultiview(tfds.core.GeneratorBasedBuilder):
  """Square multi-view crops with exact cameras from a dataset adapter (module docstring)."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = 'See the adapter module (human36m, mpi_inf_3dhp, recording).'

  def __init__(self, *, adapter: Adapter, image_size: int, box_scale: float, undistort: bool,
               num_workers: int = 8, **kwargs):
    self.adapter = adapter
    self.MANUAL_DOWNLOAD_INSTRUCTIONS = getattr(adapter, 'MANUAL_DOWNLOAD_INSTRUCTIONS',
                                                self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    self.image_size, self.box_scale, self.undistort = int(image_size), float(box_scale), \
        bool(undistort)
    self.num_workers = max(1, int(num_workers))
    self.settings = dict(adapter.settings(), dataset=adapter.name, image_size=self.image_size,
                         box_scale=self.box_scale, undistort=self.undistort,
                         jpeg_quality=JPEG_QUALITY, cameras=list(adapter.camera_names),
                         dist_model=adapter.dist_model)
    blob = json.dumps(self.settings, sort_keys=True, default=str)
    digest = hashlib.sha1(blob.encode()).hexdigest()[:10]
    config = tfds.core.BuilderConfig(name=f'{adapter.name}_{digest}', description=blob)
    super().__init__(config=config, **kwargs)

  @property
  def dist_model(self) -> str:
    return self.adapter.dist_model

  @property
  def camera_names(self) -> list[str]:
    return list(self.adapter.camera_names)

  def _info(self):
    v, j = len(self.adapter.camera_names), NUM_JOINTS
    f32 = np.float32
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'images': tfds.features.Tensor(shape=(v,), dtype=np.object_),   # JPEG bytes
            'K': tfds.features.Tensor(shape=(v, 3, 3), dtype=f32),
            'R': tfds.features.Tensor(shape=(v, 3, 3), dtype=f32),
            't': tfds.features.Tensor(shape=(v, 3), dtype=f32),
            'dist': tfds.features.Tensor(shape=(v, 5), dtype=f32),
            'box': tfds.features.Tensor(shape=(v, 4), dtype=f32),
            'view_valid': tfds.features.Tensor(shape=(v,), dtype=np.bool_),
            'pose_3d': tfds.features.Tensor(shape=(j, 3), dtype=f32),
            'has_pose_3d': np.bool_,
            'keypoints_2d': tfds.features.Tensor(shape=(v, j, 3), dtype=f32),
            'subject': tfds.features.Text(),
            'sequence': tfds.features.Text(),
            'frame': np.int32,
        }))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(split) for split in self.adapter.splits}

  def _generate_examples(self, split):
    work = dict(size=self.image_size, box_scale=self.box_scale, undistort=self.undistort)
    frames = self.adapter.frames(split)
    n = 0
    # Decoding and warping run in threads (OpenCV releases the GIL); bounded look-ahead.
    with concurrent.futures.ThreadPoolExecutor(self.num_workers) as pool:
      while True:
        chunk = [fr for _, fr in zip(range(4 * self.num_workers), frames)]
        if not chunk:
          break
        for fr, ex in zip(chunk, pool.map(lambda f: process_frame(f, **work), chunk)):
          n += 1
          yield f'{fr.subject}/{fr.sequence}/{fr.frame}', ex
    if n == 0:
      raise ValueError(f'{self.adapter.name}: split {split!r} has no frames (check the '
                       f'subject lists and the files under the manual dir)')


def build(adapter: Adapter, data_dir: str, *, image_size: int, box_scale: float,
          undistort: bool, num_workers: int = 8) -> CalibratedMultiview:
  """Builds (or reuses a finished build of) ``adapter``'s dataset under ``data_dir``."""
  def make():
    return CalibratedMultiview(adapter=adapter, image_size=image_size, box_scale=box_scale,
                               undistort=undistort, num_workers=num_workers, data_dir=data_dir,
                               file_format='array_record')
  return prepare(make)


def prepare(make):
  """``make()`` -> a TFDS builder, built if needed. With several processes (multi-host), only
  process 0 builds while the others wait at a barrier, then every process opens the finished
  build (the data_dir must be shared)."""
  import jax  # noqa: PLC0415 (the builders themselves need no accelerator)
  b = make()
  if jax.process_index() == 0:
    if b.is_prepared():
      logging.info('Reusing dataset %s at %s', b.info.full_name, b.data_dir)
    else:
      logging.info('Building dataset %s at %s', b.info.full_name, b.data_dir)
      b.download_and_prepare()
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils  # noqa: PLC0415
    multihost_utils.sync_global_devices(f'mvssl dataset {b.info.full_name}')
    if not b.is_prepared():
      b = make()
      if not b.is_prepared():
        raise FileNotFoundError(f'{b.data_dir}: process 0 built the dataset but process '
                                f'{jax.process_index()} does not see it; data_dir must be a '
                                f'folder every host shares')
  return b


LABEL_FIELDS = ('K', 'R', 't', 'dist', 'box', 'view_valid', 'pose_3d', 'has_pose_3d',
                'keypoints_2d', 'frame', 'subject', 'sequence')


def decode_jpeg(data: bytes) -> np.ndarray:
  """JPEG bytes -> [S, S, 3] uint8 RGB."""
  img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
  if img is None:
    raise ValueError('corrupt JPEG in the dataset')
  return img[..., ::-1]


class EncodedImages:
  """The images of a split, decoded on access: ``images[idx]`` -> [n, V, S, S, 3] uint8 RGB.

  Behaves like the array it stands for (``len``, ``shape``, ``dtype``, integer / slice / index
  array access), so the same code trains from memory or from disk. Decoding runs in
  ``num_threads`` threads (OpenCV releases the GIL).
  """

  def __init__(self, source, order: np.ndarray, size: int, num_views: int, num_threads: int = 4):
    self.source, self.order = source, np.asarray(order)
    self.shape = (len(self.order), num_views, size, size, 3)
    self.dtype = np.dtype(np.uint8)
    self.ndim = 5
    self._pool = concurrent.futures.ThreadPoolExecutor(max(1, num_threads))

  def __len__(self):
    return self.shape[0]

  def row(self, i: int) -> np.ndarray:
    return np.stack([decode_jpeg(b) for b in self.source[int(self.order[i])]['images']])

  def __getitem__(self, idx):
    if isinstance(idx, (int, np.integer)):
      return self.row(int(idx))
    rows = np.arange(len(self))[idx]
    return np.stack(list(self._pool.map(self.row, rows))) if len(rows) else \
        np.zeros((0,) + self.shape[1:], np.uint8)


def load_split(b: CalibratedMultiview, split: str, num_threads: int = 4) -> dict:
  """A split's labels in memory and its images decoded on access, in a stable order.

  Labels are read once (no image decoding) and cached next to the dataset in
  ``labels_<split>.npz`` (written atomically).

  Returns:
    dict with 'images' (EncodedImages [N, V, S, S, 3]), 'cams' (Camera [N, V] with the dataset's
    lens model), 'box', 'view_valid', 'pose_3d', 'has_pose_3d', 'keypoints_2d', 'subject',
    'sequence', 'frame' and 'index' (the record of each row). Missing views (view_valid False)
    carry a copy of a present view's camera.
  Raises:
    ValueError: on non-finite labels or cameras, naming the dataset, split and field.
  """
  source = b.as_data_source(split=split)
  cache = os.path.join(b.data_dir, f'labels_{split}.npz')
  if os.path.exists(cache):
    with np.load(cache) as z:
      out = {k: z[k] for k in z.files}
  else:
    cols = {k: [] for k in LABEL_FIELDS}
    for i in tqdm.trange(len(source), desc=f'labels of {split}', unit='frame', leave=False):
      row = source[i]                 # the images' bytes are dropped right away (memory)
      for k in LABEL_FIELDS:
        v = row[k]
        cols[k].append(v.decode() if isinstance(v, bytes) else
                       str(v) if k in ('subject', 'sequence') else np.asarray(v))
    key = [f'{s}/{q}/{int(f):08d}' for s, q, f in zip(cols['subject'], cols['sequence'],
                                                       cols['frame'])]
    order = np.argsort(np.array(key), kind='stable')
    out = {k: (np.array(v) if k in ('subject', 'sequence') else np.stack(v))[order]
           for k, v in cols.items()}
    out['index'] = order
    tmp = cache + f'.{os.getpid()}.tmp.npz'
    try:
      np.savez(tmp, **out)
      os.replace(tmp, cache)
    except OSError as e:     # a read-only dataset folder: read the labels again next time
      logging.warning('%s: labels cache not written (%s)', cache, e)
  for k in ('K', 'R', 't', 'dist', 'box', 'pose_3d', 'keypoints_2d'):
    if not np.all(np.isfinite(out[k])):
      raise ValueError(f'{b.data_dir} split {split!r}: field {k!r} has non-finite values')
  # A missing view borrows the camera of the frame's first present view (its image is black
  # and every loss and DLT weight masks it), so no computation ever sees an all-zero camera.
  first = np.argmax(out['view_valid'], axis=1)
  rows = np.arange(len(first))
  for k in ('K', 'R', 't', 'dist'):
    out[k] = np.where(out['view_valid'].reshape(out['view_valid'].shape + (1,) * (out[k].ndim - 2)),
                      out[k], out[k][rows, first][:, None])
  out['images'] = EncodedImages(source, out['index'], b.image_size,
                                len(b.adapter.camera_names), num_threads)
  out['cams'] = camlib.Camera(K=out.pop('K'), R=out.pop('R'), t=out.pop('t'),
                              dist=out.pop('dist'), dist_model=b.dist_model)
  return out
