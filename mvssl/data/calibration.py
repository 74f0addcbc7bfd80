"""Calibration files of a user's recording -> {camera name: Camera (mm, OpenCV lens model)}.

Format by file name (:func:`load_calibration`):

* ``*.json``, the documented simple format (lengths in ``units``, default metres)::

    {"units": "m",
     "cameras": {"cam01": {"K": [[fx, 0, cx], [0, fy, cy], [0, 0, 1]],
                           "dist": [k1, k2, p1, p2] or [k1, k2, p1, p2, k3],   (OpenCV order)
                           "R": [[...3x3 world->camera...]]  or "rvec": [3] (Rodrigues),
                           "t": [3] world->camera,
                           "size_wh": [W, H]}, ...}}

  also accepted: the key spellings of Pose2Sim's exported calibration.json (``dist_k1k2p1p2``,
  ``R_w2c``, ``t_w2c_m``);
* ``*.toml``, Pose2Sim's ``Calib*.toml``: one table per camera with ``name``, ``size``,
  ``matrix``, ``distortions`` (k1, k2, p1, p2), ``rotation`` (Rodrigues, world->camera) and
  ``translation`` (m);
* ``*.qca.txt``, Qualisys QTM's calibration export (XML), converted as Pose2Sim does
  (:func:`_load_qca`);
* ``*.yml`` / ``*.yaml``, OpenCV FileStorage as EasyMocap writes it (``intri.yml`` and
  ``extri.yml``; give both as ``'intri.yml,extri.yml'``): ``names`` and per camera ``K_<n>``,
  ``dist_<n>`` (1x5 OpenCV order), ``Rot_<n>`` (3x3) or ``R_<n>`` (Rodrigues), ``T_<n>`` (m).

Every camera goes through ``Camera.create``, which rejects non-finite values and a matrix R that
is not a rotation, naming the file and camera.
"""

from __future__ import annotations

import json
import os
import tomllib
import xml.etree.ElementTree as ET

import cv2
import numpy as np

from mvssl.geometry import camera as camlib

HINT = ('calibration formats: simple .json, Pose2Sim .toml, Qualisys .qca.txt or '
        'OpenCV/EasyMocap .yml (mvssl/data/calibration.py)')

class Calibration(dict):
  """{camera name: Camera (mm, OpenCV lens model)}, plus ``sizes``: {camera name: (W, H) px}
  for the cameras whose file gives the image size (json ``size_wh``, toml ``size``, qca
  ``fov_video``, yml ``W_<n>``/``H_<n>``); the frames of those cameras must have that size."""

  def __init__(self, cams=(), sizes=None):
    super().__init__(cams)
    self.sizes = dict(sizes or {})


def _size(value, name, origin):
  """(W, H) from a two-number field, or a ValueError naming it."""
  wh = np.ravel(np.asarray(value, np.float64))
  if wh.size != 2 or not np.all(np.isfinite(wh)) or np.any(wh < 1):
    raise ValueError(f'{origin}: camera {name!r} field size must be [W, H] in px, got {value!r}')
  return int(round(wh[0])), int(round(wh[1]))


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
  return camlib.Camera.create(K.reshape(3, 3), R.reshape(3, 3), t.reshape(3), d, 'opencv',
                              dtype=np.float64, name=f'{origin}: camera {name!r}')


def _load_json(path):
  with open(path) as f:
    data = json.load(f)
  if 'cameras' not in data:
    raise KeyError(f'{path}: missing top-level field "cameras"')
  scale = {'m': 1000.0, 'mm': 1.0}.get(data.get('units', 'm'))
  if scale is None:
    raise ValueError(f'{path}: field units must be "m" or "mm", got {data["units"]!r}')
  out = Calibration()
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
    if 'size_wh' in c:
      out.sizes[name] = _size(c['size_wh'], name, path)
  return out


def _load_toml(path):
  with open(path, 'rb') as f:
    try:
      data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
      raise ValueError(f'{path}: not valid TOML ({e})') from None
  out = Calibration()
  for key, c in data.items():
    if not isinstance(c, dict) or key == 'metadata':
      continue
    name = str(c.get('name', key))
    try:
      out[name] = _camera(name, c['matrix'], c['distortions'], c['rotation'],
                          np.asarray(c['translation'], float) * 1000.0, path)
    except KeyError as e:
      raise KeyError(f'{path}: camera table [{key}] lacks field {e}') from None
    if 'size' in c:
      out.sizes[name] = _size(c['size'], name, path)
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
      elif node.isReal() or node.isInt():
        nodes[key] = (np.array([node.real()]), path)
      elif node.isMap() or node.isSeq():
        m = node.mat()
        if m is not None:
          nodes[key] = (m, path)
    fs.release()
  if names is None:
    raise KeyError(f'{paths}: missing field "names"')
  out = Calibration()
  for n in names:
    def get(*keys, n=n):
      for k in keys:
        if f'{k}_{n}' in nodes:
          return nodes[f'{k}_{n}'][0]
      raise KeyError(f'{paths}: camera {n!r} lacks field {keys[0]}_{n}')
    K, dist = get('K'), get('dist', 'D')
    R = get('Rot', 'R')
    out[n] = _camera(n, K, dist, R, np.asarray(get('T'), float) * 1000.0, ','.join(paths))
    if f'W_{n}' in nodes and f'H_{n}' in nodes:
      out.sizes[n] = _size([float(nodes[f'W_{n}'][0].ravel()[0]),
                            float(nodes[f'H_{n}'][0].ravel()[0])], n, ','.join(paths))
  return out


QCA_VIDEO_MODELS = ('Miqus Video', 'Miqus Video UnderWater', 'none')


def _load_qca(path):
  """Qualisys QTM ``*.qca.txt`` (XML), converted as Pose2Sim's ``calib_qca_to_toml`` does:
  K = focalLength{U,V} / 64, c = centerPoint{U,V} / 64 - fov_video offset, OpenCV (k1, k2, p1,
  p2) = (radialDistortion1, 2, tangentalDistortion1, 2) / 64; ``transform`` is the camera's
  pose in the world (columns r_1j, r_2j, r_3j; x, y, z in mm), turned into world->camera and
  then rotated 180 degrees about the camera's x axis (Qualisys cameras look down -z).
  Only video cameras (model Miqus Video or none) are read, as Pose2Sim does."""
  try:
    root = ET.parse(path).getroot()
  except ET.ParseError as e:
    raise ValueError(f'{path}: not a Qualisys .qca.txt XML file ({e})') from None
  out = Calibration()
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
    if cam.get('viewrotation', '0') in ('0', '180'):     # else W and H are swapped on export
      out.sizes[name] = _size([num(fov, 'right') - num(fov, 'left') + 1,
                               num(fov, 'bottom') - num(fov, 'top') + 1], name, path)
  if not out:
    raise ValueError(f'{path}: no video camera (model {" / ".join(QCA_VIDEO_MODELS)}) found')
  return out


def load_calibration(path: str) -> Calibration:
  """Any supported calibration file (module docstring) -> {camera name: Camera (mm, OpenCV)}
  with the image sizes the file gives (:class:`Calibration`).

  ``path`` may list two OpenCV files separated by a comma (intri.yml,extri.yml).

  Raises:
    FileNotFoundError / KeyError / ValueError naming the file, camera and field.
  """
  paths = [p for p in path.split(',') if p]
  for p in paths:
    if not os.path.exists(p):
      raise FileNotFoundError(f'{p}: calibration file not found ({HINT})')
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
