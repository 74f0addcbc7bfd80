"""Bring your own recording: calibrated videos or image folders (+ optional 2D detections) -> an
unlabeled multi-view dataset for ``pseudo_label`` and ``finetune`` (:mod:`mvssl.data.builder`).

Layout under the recording folder (``config.data.manual_dir``), all paths configurable:

* calibration (``config.data.calibration``), format by file name:

  - ``*.json``, the documented simple format (lengths in ``units``, default metres)::

      {"units": "m",
       "cameras": {"cam01": {"K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
                             "dist": [k1, k2, p1, p2] or [k1, k2, p1, p2, k3],   (OpenCV order)
                             "R": [[...3x3 world->camera...]]  or "rvec": [3] (Rodrigues),
                             "t": [3] world->camera,
                             "size_wh": [W, H]}, ...}}

    also accepted: the key spellings of Pose2Sim's exported calibration.json
    (``dist_k1k2p1p2``, ``R_w2c``, ``t_w2c_m``);
  - ``*.toml``, Pose2Sim's ``Calib*.toml``: one table per camera with ``name``, ``size``,
    ``matrix``, ``distortions`` (k1, k2, p1, p2), ``rotation`` (Rodrigues, world->camera) and
    ``translation`` (m);
  - ``*.qca.txt``, Qualisys QTM's calibration export (XML), converted as Pose2Sim does
    (:func:`_load_qca`);
  - ``*.yml`` / ``*.yaml``, OpenCV FileStorage as EasyMocap writes it (``intri.yml`` and
    ``extri.yml``; give both as ``'intri.yml,extri.yml'``): ``names`` and per camera ``K_<n>``,
    ``dist_<n>`` (1x5 OpenCV order), ``Rot_<n>`` (3x3) or ``R_<n>`` (Rodrigues), ``T_<n>`` (m);
* frames: an image pattern with ``{camera}`` and ``{frame}`` (``config.data.images``, e.g.
  ``images/{camera}/{frame}.jpg`` or Pose2Sim's ``frames/{camera}_f{frame}.jpg``), or a video per
  camera (``config.data.video``, e.g. ``videos/{camera}.mp4``; every ``every``-th frame decoded);
* detections (optional, ``config.data.detections``): ``openpose:<pattern>`` with a per-frame
  OpenPose JSON pattern (``{camera}``, ``{frame}``; BODY_25 or COCO-18), ``coco:<pattern>`` a COCO
  keypoints JSON per camera (``{camera}``; frame = image id), or ``npz:<file>:<key>`` an array
  [V, T, 17, 3] already in Human3.6M-17 order.

Detections in other skeletons are mapped to Human3.6M-17; joints with no counterpart (spine,
head top) are the midpoints named in :data:`BODY25_TO_H36M17` / :data:`COCO17_TO_H36M17`, scored
with the lower of their sources' scores. The lens model is OpenCV's.
"""

from __future__ import annotations

import glob
import json
import os
import re
import tomllib

import cv2
import numpy as np

from mvssl.data import builder
from mvssl.data import render
from mvssl.geometry import camera as camlib

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Your own recording: put in one folder (config.data.manual_dir) a calibration file
(config.data.calibration: simple .json, Pose2Sim .toml, or OpenCV/EasyMocap .yml), the frames
(config.data.images pattern like 'images/{camera}/{frame}.jpg', or config.data.video like
'videos/{camera}.mp4') and optionally 2D detections (config.data.detections). See
mvssl/data/recording.py for the exact formats.
"""

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


# ------------------------------------------------------------------------------ calibration

def _camera(name, K, dist_opencv, R, t_mm, origin):
  K, R, t = (np.asarray(a, np.float64) for a in (K, R, t_mm))
  if R.size == 3:
    R = cv2.Rodrigues(R.reshape(3))[0]
  d = np.zeros(5)
  dist_opencv = np.ravel(np.asarray(dist_opencv, np.float64))
  if dist_opencv.size not in (4, 5, 8, 12, 14):
    raise ValueError(f'{origin}: camera {name!r} field dist has {dist_opencv.size} values; '
                     f'expected OpenCV (k1, k2, p1, p2[, k3, ...])')
  if dist_opencv.size > 5 and np.any(dist_opencv[5:] != 0):
    raise ValueError(f'{origin}: camera {name!r}: only k1, k2, p1, p2, k3 are supported')
  k1, k2, p1, p2 = dist_opencv[:4]
  k3 = dist_opencv[4] if dist_opencv.size > 4 else 0.0
  d[:] = (k1, k2, k3, p1, p2)
  try:
    cam = camlib.Camera.create(K.reshape(3, 3), R.reshape(3, 3), t.reshape(3), d, 'opencv',
                               dtype=np.float64)
  except ValueError as e:
    raise ValueError(f'{origin}: camera {name!r}: {e}') from None
  for field in ('K', 'R', 't', 'dist'):
    if not np.all(np.isfinite(getattr(cam, field))):
      raise ValueError(f'{origin}: camera {name!r} field {field} is not finite')
  if abs(np.linalg.det(cam.R) - 1) > 1e-3:
    raise ValueError(f'{origin}: camera {name!r} field R is not a rotation '
                     f'(det {np.linalg.det(cam.R):.4f})')
  return cam


def _load_json(path):
  with open(path) as f:
    data = json.load(f)
  if 'cameras' not in data:
    raise KeyError(f'{path}: missing top-level field "cameras"')
  scale = {'m': 1000.0, 'mm': 1.0}.get(data.get('units', 'm'))
  if scale is None:
    raise ValueError(f'{path}: field units must be "m" or "mm", got {data["units"]!r}')
  out = {}
  def field(name, c, *keys):
    for k in keys:
      if k in c:
        return k, c[k]
    raise KeyError(f'{path}: camera {name!r} lacks field {keys[0]!r}'
                   + (f' (or {", ".join(map(repr, keys[1:]))})' if len(keys) > 1 else ''))

  for name, c in data['cameras'].items():
    K = field(name, c, 'K')[1]
    dist = field(name, c, 'dist', 'dist_k1k2p1p2')[1]
    R = field(name, c, 'R', 'rvec', 'R_w2c')[1]
    key, t = field(name, c, 't', 't_w2c_m')
    t = np.asarray(t, float) * (1e3 if key == 't_w2c_m' else scale)
    out[name] = _camera(name, K, dist, R, t, path)
  return out


def _load_toml(path):
  with open(path, 'rb') as f:
    try:
      data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
      raise ValueError(f'{path}: not valid TOML ({e})') from None
  out = {}
  for key, c in data.items():
    if not isinstance(c, dict) or key == 'metadata':
      continue
    name = str(c.get('name', key))
    try:
      out[name] = _camera(name, c['matrix'], c['distortions'], c['rotation'],
                          np.asarray(c['translation'], float) * 1000.0, path)
    except KeyError as e:
      raise KeyError(f'{path}: camera table [{key}] lacks field {e}') from None
  if not out:
    raise ValueError(f'{path}: no camera tables found')
  return out


def _load_yaml(paths):
  nodes, names = {}, None
  for path in paths:
    fs = cv2.FileStorage(path, cv2.FILE_STORAGE_READ)
    if not fs.isOpened():
      raise ValueError(f'{path}: OpenCV cannot read this FileStorage file')
    root = fs.root()
    for key in root.keys():
      node = root.getNode(key)
      if key == 'names':
        names = [node.at(i).string() for i in range(node.size())]
      elif node.isMap() or node.isSeq() or node.isReal() or node.isInt():
        m = node.mat()
        if m is not None:
          nodes[key] = (m, path)
    fs.release()
  if names is None:
    raise KeyError(f'{paths}: missing field "names"')
  out = {}
  for n in names:
    def get(*keys, n=n):
      for k in keys:
        if f'{k}_{n}' in nodes:
          return nodes[f'{k}_{n}'][0]
      raise KeyError(f'{paths}: camera {n!r} lacks field {keys[0]}_{n}')
    K, dist = get('K'), get('dist', 'D')
    R = get('Rot', 'R')
    out[n] = _camera(n, K, dist, R, np.asarray(get('T'), float) * 1000.0, ','.join(paths))
  return out


QCA_VIDEO_MODELS = ('Miqus Video', 'Miqus Video UnderWater', 'none')


def _load_qca(path):
  """Qualisys QTM ``*.qca.txt`` (XML), converted as Pose2Sim's ``calib_qca_to_toml`` does:
  K = focalLength{U,V} / 64, c = centerPoint{U,V} / 64 - fov_video offset, OpenCV (k1, k2, p1,
  p2) = (radialDistortion1, 2, tangentalDistortion1, 2) / 64; ``transform`` is the camera's
  pose in the world (columns r_1j, r_2j, r_3j; x, y, z in mm), turned into world->camera and
  then rotated 180 degrees about the camera's x axis (Qualisys cameras look down -z).
  Only video cameras (model Miqus Video or none) are read, as Pose2Sim does."""
  import xml.etree.ElementTree as ET  # noqa: PLC0415
  try:
    root = ET.parse(path).getroot()
  except ET.ParseError as e:
    raise ValueError(f'{path}: not a Qualisys .qca.txt XML file ({e})') from None
  out = {}
  for cam in root.findall('cameras/camera'):
    name = cam.get('serial')
    if cam.get('model') not in QCA_VIDEO_MODELS:
      continue
    try:
      tr, it, fov = cam.find('transform'), cam.find('intrinsic'), cam.find('fov_video')
      def num(node, k, name=name):
        try:
          return float(node.attrib[k])
        except ValueError:
          raise ValueError(f'{path}: camera {name!r} field {k!r} is not a number: '
                           f'{node.attrib[k]!r}') from None
      M = np.array([[num(tr, f'r{i}{j}') for j in (1, 2, 3)] for i in (1, 2, 3)])
      centre = np.array([num(tr, k) for k in ('x', 'y', 'z')])
      K = np.array([[num(it, 'focalLengthU') / 64, 0, num(it, 'centerPointU') / 64
                     - num(fov, 'left')],
                    [0, num(it, 'focalLengthV') / 64, num(it, 'centerPointV') / 64
                     - num(fov, 'top')], [0, 0, 1]])
      dist = [num(it, k) / 64 for k in ('radialDistortion1', 'radialDistortion2',
                                        'tangentalDistortion1', 'tangentalDistortion2')]
    except (AttributeError, KeyError) as e:
      raise KeyError(f'{path}: camera {name!r} lacks field {e}') from None
    flip = np.diag([1.0, -1.0, -1.0])
    out[name] = _camera(name, K, dist, flip @ M, -flip @ M @ centre, path)
  if not out:
    raise ValueError(f'{path}: no video camera (model {" / ".join(QCA_VIDEO_MODELS)}) found')
  return out


def load_calibration(path: str) -> dict[str, camlib.Camera]:
  """Any supported calibration file (module docstring) -> {camera name: Camera (mm, OpenCV)}.

  ``path`` may list two OpenCV files separated by a comma (intri.yml,extri.yml).

  Raises:
    FileNotFoundError / KeyError / ValueError naming the file, camera and field.
  """
  paths = [p for p in path.split(',') if p]
  for p in paths:
    if not os.path.exists(p):
      raise FileNotFoundError(f'{p}: calibration file not found.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}')
  ext = os.path.splitext(paths[0])[1].lower()
  if ext == '.json':
    return _load_json(paths[0])
  if ext == '.toml':
    return _load_toml(paths[0])
  if ext in ('.yml', '.yaml', '.xml'):
    return _load_yaml(paths)
  if paths[0].lower().endswith(('.qca.txt', '.qca')):
    return _load_qca(paths[0])
  raise ValueError(f'{path}: unknown calibration format {ext!r} (use .json, .toml, .yml or '
                   f'.qca.txt)')


# ------------------------------------------------------------------------------ frames

def _pattern_regex(pattern: str, camera: str) -> re.Pattern:
  text = re.escape(pattern.replace('{camera}', camera))
  return re.compile('^' + text.replace(re.escape('{frame}'), r'(\d+)') + '$')


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


# ------------------------------------------------------------------------------ detections

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
    path = os.path.join(root, file)
    if not os.path.exists(path):
      raise FileNotFoundError(f'{path}: detections file not found')
    with np.load(path) as d:
      if key not in d:
        raise KeyError(f'{path}: missing array {key!r} (has {sorted(d.files)})')
      arr = np.asarray(d[key], np.float64)
    if arr.ndim != 4 or arr.shape[0] != len(cameras) or arr.shape[2:] != (17, 3):
      raise ValueError(f'{path}[{key}]: expected [V={len(cameras)}, T, 17, 3], got {arr.shape}')
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
    raise ValueError(f'config.data.detections {spec!r}: kind must be npz:, openpose: or coco:')
  bad = ~np.all(np.isfinite(out), axis=-1)
  out[bad] = 0.0
  return out


# ------------------------------------------------------------------------------ adapter

class Recording:
  """Adapter for a user's calibrated multi-view recording (module docstring); split 'unlabeled'."""

  name = 'recording'
  dist_model = 'opencv'
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, manual_dir: str, *, calibration: str, images: str = '', video: str = '',
               detections: str = '', cameras=(), every: int = 1, subject: str = '',
               max_frames: int = 0, box_min_score: float = 0.3):
    if not os.path.isdir(manual_dir):
      raise FileNotFoundError(f'{manual_dir}: recording folder not found.\n'
                              f'{MANUAL_DOWNLOAD_INSTRUCTIONS}')
    if bool(images) == bool(video):
      raise ValueError('config.data: give exactly one of images (a pattern with {camera} and '
                       '{frame}) or video (a pattern with {camera})')
    self.root = manual_dir
    self.calib_spec = calibration
    calib = load_calibration(','.join(os.path.join(manual_dir, p) for p in calibration.split(',')))
    names = list(cameras) or sorted(calib)
    for n in names:
      if n not in calib:
        raise KeyError(f'{calibration}: no camera {n!r} (has {sorted(calib)})')
    self.camera_names, self.cams = names, [calib[n] for n in names]
    self.images, self.video, self.detections = images, video, detections
    self.every, self.max_frames = max(1, int(every)), int(max_frames)
    self.box_min_score = float(box_min_score)
    self.subject = subject or os.path.basename(os.path.normpath(manual_dir))
    self.splits = ('unlabeled',)
    if images:
      per = [list_images(manual_dir, images, n) for n in names]
      for n, p in zip(names, per):
        if not p:
          raise FileNotFoundError(f'{os.path.join(manual_dir, images)}: no frames of camera '
                                  f'{n!r}.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}')
      self.files = per
      self.frame_ids = sorted(set().union(*per))[::self.every]
    else:
      self.files = None
      counts = []
      for n in names:
        path = os.path.join(manual_dir, video.replace('{camera}', n))
        if not os.path.exists(path):
          raise FileNotFoundError(f'{path}: video of camera {n!r} not found')
        cap = cv2.VideoCapture(path)
        counts.append(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)))
        cap.release()
      self.frame_ids = list(range(0, min(counts), self.every))
    if self.max_frames:
      self.frame_ids = self.frame_ids[:self.max_frames]
    self.det = (load_detections(manual_dir, detections, names, self.frame_ids)
                if detections else None)

  def settings(self) -> dict:
    return dict(layout='recording', calibration=self.calib_spec, images=self.images,
                video=self.video, detections=self.detections, cameras=self.camera_names,
                every=self.every, subject=self.subject, max_frames=self.max_frames,
                box_min_score=self.box_min_score)

  def _box(self, kp):
    """Square box around the confident detections (score >= box_min_score), or None."""
    if kp is None:
      return None
    ok = kp[:, 2] >= self.box_min_score
    return render.square_box(kp[ok, :2], 1.0) if ok.sum() >= 2 else None

  def frames(self, split):
    if split != 'unlabeled':
      return
    readers = None
    if self.video:
      from mvssl.data.mpi_inf_3dhp import VideoReader
      readers = [VideoReader(os.path.join(self.root, self.video.replace('{camera}', n)))
                 for n in self.camera_names]
    try:
      for i, f in enumerate(self.frame_ids):
        views = []
        for v, (n, cam) in enumerate(zip(self.camera_names, self.cams)):
          kp = None if self.det is None else self.det[v, i]
          if readers is not None:
            img = readers[v].read(f)
            views.append(builder.View(camera=cam, image=lambda im=img: im, keypoints_2d=kp,
                                      box=self._box(kp), origin=f'{readers[v].path} frame {f}'))
          elif f in self.files[v]:
            p = self.files[v][f]
            views.append(builder.View(camera=cam, image=lambda p=p: builder.imread(p),
                                      keypoints_2d=kp, box=self._box(kp), origin=p))
          else:
            views.append(builder.View(camera=cam, image=None, origin=f'{n} frame {f}'))
        yield builder.Frame(subject=self.subject, sequence='recording', frame=f, views=views,
                            origin=f'{self.root} frame {f}')
    finally:
      for r in readers or ():
        r.close()



def adapter(cfg):
  """The adapter that ``config.data`` (dataset='recording') names."""
  return Recording(cfg.manual_dir, calibration=cfg.calibration, images=cfg.images,
                   video=cfg.video, detections=cfg.detections, cameras=tuple(cfg.cameras),
                   every=cfg.every, subject=cfg.get('subject', ''),
                   max_frames=cfg.get('max_frames', 0),
                   box_min_score=cfg.get('box_min_score', 0.3))
