"""Human3.6M from the layouts the community already has on disk -> :mod:`mvssl.data.builder`.

Two layouts (``config.data.layout``):

``learnable_triangulation`` (karfly/learnable-triangulation-pytorch + h36m-fetch)::

  MANUAL_DIR/extra/human36m-multiview-labels-GTbboxes.npy
  MANUAL_DIR/processed/S1/Directions-1/imageSequence/54138969/img_000001.jpg
                                      (or imageSequence-undistorted/ ...)

  The labels npy is a pickled dict: subject_names, camera_names, action_names, cameras
  [subjects x cameras] structured (R [3,3], t [3,1] mm, K [3,3], dist (k1, k2, p1, p2, k3)),
  table structured (subject_idx, action_idx, frame_idx (0-based; image img_{frame_idx+1}),
  keypoints [17, 3] world mm in learnable-triangulation's joint order,
  bbox_by_camera_tlbr [cameras, 4] with (0, 0, 0, 0) = view missing).

``mmpose`` (MMPose's ``tools/dataset_converters/preprocess_h36m.py``)::

  MANUAL_DIR/annotation_body3d/fps50/h36m_train.npz, h36m_test.npz
      imgname [N] 'S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg',
      center [N, 2] px, scale [N] (box side / 200 px), part [N, 17, 3] px,
      S [N, 17, 4] camera-frame joints (m) + visibility, Human3.6M-17 order
  MANUAL_DIR/annotation_body3d/cameras.pkl   {(subject, camera_id): R, T (camera centre, m),
                                              f, c, k, p, w, h};  X_cam = R^T (X_world - T)
  MANUAL_DIR/images/<imgname>

Both give the same examples: 4 views per frame (Human3.6M's cameras in CAMERA_IDS order), world
joints in mm in the Human3.6M-17 (VideoPose3D/MMPose) order, the official lens model ('h36m').
Splits are by subject lists (paper: labeled S1,S5,S6 / unlabeled S7,S8 / test S9,S11 every 64th
frame); the three S9 sequences whose labels are known to be damaged (Greeting-2, SittingDown-2,
Waiting-1) are left out of every split unless ``with_damaged`` is set.
"""

from __future__ import annotations

import collections
import os
import pickle
import re

import numpy as np

from mvssl.data import frames as frames_lib
from mvssl.data import h36m
from mvssl.geometry import camera as camlib

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Human3.6M (http://vision.imar.ro/human3.6m, registration required). Put ONE of these layouts
in the manual dir (config.data.manual_dir):

  learnable_triangulation (config.data.layout='learnable_triangulation'):
    extra/human36m-multiview-labels-GTbboxes.npy   made by learnable-triangulation-pytorch's
        mvn/datasets/human36m_preprocessing/generate-labels-npy-multiview.py
    processed/S*/<Action-N>/imageSequence/<camera>/img_NNNNNN.jpg   extracted by h36m-fetch
        (or imageSequence-undistorted/ with config.data.image_dir='imageSequence-undistorted')

  mmpose (config.data.layout='mmpose'), from MMPose's preprocess_h36m.py:
    annotation_body3d/fps50/h36m_train.npz, annotation_body3d/fps50/h36m_test.npz
    annotation_body3d/cameras.pkl
    images/S*/S*_<Action>.<camera>/S*_<Action>.<camera>_NNNNNN.jpg
"""
DAMAGED = {'S9': ('Greeting-2', 'SittingDown-2', 'Waiting-1')}


def _missing(path, what):
  return FileNotFoundError(f'{path}: {what} not found.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}')


def _split_subjects(subjects) -> dict:
  return {k: list(v) for k, v in dict(subjects).items()}


def _canon_action(name: str) -> str:
  """'Directions-1' / 'Directions_1' / 'Directions 1' -> 'Directions-1'; 'Sitting' -> 'Sitting'."""
  return re.sub(r'[ _](\d+)$', r'-\1', name)


def _damaged(subject, action):
  return _canon_action(action) in DAMAGED.get(subject, ())


class LearnableTriangulation:
  """Adapter for learnable-triangulation's labels npy + h36m-fetch frames (module docstring)."""

  name = 'human36m'
  dist_model = 'h36m'
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, manual_dir: str, *, subjects: dict, every: dict, with_damaged: bool = False,
               labels_file: str = 'extra/human36m-multiview-labels-GTbboxes.npy',
               image_dir: str = 'imageSequence', max_frames: int = 0):
    self.root = manual_dir
    self.labels_path = os.path.join(manual_dir, labels_file)
    if not os.path.exists(self.labels_path):
      raise _missing(self.labels_path, 'labels file')
    self.image_dir = image_dir
    self.subjects, self.every = _split_subjects(subjects), dict(every)
    self.with_damaged, self.max_frames = bool(with_damaged), int(max_frames)
    self.splits = tuple(self.subjects)
    try:
      labels = np.load(self.labels_path, allow_pickle=True).item()
    except Exception as e:  # noqa: BLE001 (any unreadable file gets the same clear error)
      raise ValueError(f'{self.labels_path}: not a learnable-triangulation labels npy '
                       f'({type(e).__name__}: {e})') from None
    for key in ('subject_names', 'camera_names', 'action_names', 'cameras', 'table'):
      if key not in labels:
        raise KeyError(f'{self.labels_path}: missing field {key!r}')
    self.labels = labels
    self.camera_names = [str(c) for c in labels['camera_names']]
    table = labels['table']
    for field in ('subject_idx', 'action_idx', 'frame_idx', 'keypoints', 'bbox_by_camera_tlbr'):
      if field not in table.dtype.names:
        raise KeyError(f'{self.labels_path}: table lacks field {field!r}')
    names = list(labels['subject_names'])
    frames_lib.check_subjects(self.subjects, names, self.labels_path,
                           f'field subject_names has {names}')
    cams = labels['cameras']
    if cams.shape != (len(names), len(self.camera_names)):
      raise ValueError(f'{self.labels_path}: field cameras has shape {cams.shape}, expected '
                       f'[subjects={len(names)}, cameras={len(self.camera_names)}]')
    self.cameras = {}
    for si, s in enumerate(names):
      for ci, c in enumerate(self.camera_names):
        rec = cams[si, ci]
        k1, k2, p1, p2, k3 = (float(x) for x in rec['dist'])
        dist = [0.0] * 5 if 'undistorted' in image_dir else [k1, k2, k3, p1, p2]
        self.cameras[s, c] = camlib.Camera.create(
            rec['K'], rec['R'], np.reshape(rec['t'], 3), dist, 'h36m', dtype=np.float64,
            name=f'{self.labels_path}: camera {s}/{c}')

  def settings(self) -> dict:
    return dict(layout='learnable_triangulation', subjects=self.subjects, every=self.every,
                with_damaged=self.with_damaged, image_dir=self.image_dir,
                labels=os.path.basename(self.labels_path), max_frames=self.max_frames)

  def rows(self, split: str) -> np.ndarray:
    """Indices of the table rows of ``split`` (subject list, damaged filter, every k-th)."""
    lab, table = self.labels, self.labels['table']
    sidx = [list(lab['subject_names']).index(s) for s in self.subjects[split]]
    mask = np.isin(table['subject_idx'], sidx)
    if not self.with_damaged:
      for s, actions in DAMAGED.items():
        if s in lab['subject_names']:
          bad = [i for i, a in enumerate(lab['action_names']) if _canon_action(a) in actions]
          mask &= ~((table['subject_idx'] == list(lab['subject_names']).index(s))
                    & np.isin(table['action_idx'], bad))
    return frames_lib.every_kth(np.nonzero(mask)[0], self.every, split, self.max_frames)

  def frames(self, split):
    lab, table = self.labels, self.labels['table']
    for r in self.rows(split):
      row = table[r]
      subject = str(lab['subject_names'][row['subject_idx']])
      action = str(lab['action_names'][row['action_idx']])
      frame = int(row['frame_idx'])
      origin = f'{self.labels_path} table[{r}] ({subject}/{action}/{frame})'
      views = []
      for ci, c in enumerate(self.camera_names):
        top, left, bottom, right = (float(x) for x in row['bbox_by_camera_tlbr'][ci])
        path = os.path.join(self.root, 'processed', subject, action, self.image_dir, c,
                            f'img_{frame + 1:06d}.jpg')
        missing = (top, left, bottom, right) == (0, 0, 0, 0)
        views.append(frames_lib.View(
            camera=self.cameras[subject, c],
            image=None if missing else (lambda p=path: frames_lib.imread(p)),
            box=None if missing else np.array([left, top, right - left, bottom - top]),
            origin=path))
      yield frames_lib.Frame(subject=subject, sequence=action, frame=frame, views=views,
                          pose_3d=h36m.from_lt_order(row['keypoints']), origin=origin)


def load_mmpose_cameras(path: str) -> dict:
  """MMPose cameras.pkl -> {(subject, camera_id): Camera (mm, 'h36m' lens model)}.

  Raises:
    FileNotFoundError / KeyError / ValueError naming the file and field.
  """
  if not os.path.exists(path):
    raise _missing(path, 'cameras.pkl')
  with open(path, 'rb') as f:
    raw = pickle.load(f)
  out = {}
  for key, d in raw.items():
    try:
      R_c2w = np.asarray(d['R'], np.float64)        # X_cam = R^T (X_world - T)
      centre = np.asarray(d['T'], np.float64).reshape(3) * 1000.0
      f_, c_ = np.ravel(d['f']), np.ravel(d['c'])
      k, p = np.ravel(d['k']), np.ravel(d['p'])
    except KeyError as e:
      raise KeyError(f'{path}: camera {key} lacks field {e}') from None
    K = np.array([[f_[0], 0, c_[0]], [0, f_[1], c_[1]], [0, 0, 1.0]])
    R = R_c2w.T
    out[tuple(str(x) for x in key)] = camlib.Camera.create(
        K, R, -R @ centre, [k[0], k[1], k[2], p[0], p[1]], 'h36m', dtype=np.float64,
        name=f'{path}: camera {key}')
  return out


_MMPOSE_NAME = re.compile(r'(S\d+)/\1_(.+)\.(\d+)/\1_\2\.\3_(\d+)\.jpg$')


def parse_mmpose_imgname(name: str):
  """'S1/S1_Directions_1.54138969/S1_Directions_1.54138969_000001.jpg'
  -> ('S1', 'Directions-1', '54138969', 0): action in h36m-fetch's spelling, 0-based frame
  index (the file number counts from 1), as in learnable-triangulation's table."""
  m = _MMPOSE_NAME.search(name)
  if not m:
    raise ValueError(f'imgname {name!r} is not S*/S*_<Action>.<camera>/..._NNNNNN.jpg')
  return m.group(1), _canon_action(m.group(2)), m.group(3), int(m.group(4)) - 1


class MMPose:
  """Adapter for MMPose's preprocessed Human3.6M (module docstring).

  Rows of the annotation npz files are grouped into multi-view frames by (subject, action,
  frame); the world pose comes from the first view's camera-frame ``S`` and every other view of
  the frame must agree with it within ``max_view_disagreement_mm`` (a camera that does not match
  its labels is an error).
  """

  name = 'human36m'
  dist_model = 'h36m'
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, manual_dir: str, *, subjects: dict, every: dict, with_damaged: bool = False,
               annotations=('annotation_body3d/fps50/h36m_train.npz',
                            'annotation_body3d/fps50/h36m_test.npz'),
               cameras_file: str = 'annotation_body3d/cameras.pkl', image_root: str = 'images',
               camera_names=h36m.CAMERA_IDS, max_view_disagreement_mm: float = 5.0,
               max_frames: int = 0):
    self.root = manual_dir
    self.subjects, self.every = _split_subjects(subjects), dict(every)
    self.with_damaged, self.max_frames = bool(with_damaged), int(max_frames)
    self.splits = tuple(self.subjects)
    self.camera_names = [str(c) for c in camera_names]
    self.image_root = os.path.join(manual_dir, image_root)
    self.tol = float(max_view_disagreement_mm)
    self.cameras_path = os.path.join(manual_dir, cameras_file)
    self.cameras = load_mmpose_cameras(self.cameras_path)
    self.annotations = [os.path.join(manual_dir, a) for a in annotations]
    groups = collections.defaultdict(dict)
    for path in self.annotations:
      if not os.path.exists(path):
        raise _missing(path, 'annotation npz')
      with np.load(path) as d:
        for field in ('imgname', 'center', 'scale', 'S'):
          if field not in d:
            raise KeyError(f'{path}: missing field {field!r}')
        names, center, scale, S = d['imgname'], d['center'], d['scale'], d['S']
      if S.shape[1:] not in ((17, 4), (17, 3)):
        raise ValueError(f'{path}: field S has shape {S.shape}, expected [N, 17, 4]')
      for i, name in enumerate(names):
        subject, action, cam, frame = parse_mmpose_imgname(str(name))
        if not np.all(np.isfinite(S[i, :, :3])):
          raise ValueError(f'{path}: row {i} ({name}) field S has non-finite values')
        if (subject, cam) not in self.cameras:
          raise KeyError(f'{path}: row {i} ({name}) uses camera {(subject, cam)} that '
                         f'{self.cameras_path} does not have')
        groups[subject, action, frame][cam] = frames_lib.CameraLabel(
            camera=self.cameras[subject, cam], name=f'{subject}/{cam}',
            path=os.path.join(self.image_root, str(name)),
            box=frames_lib.box_from_center_scale(center[i], scale[i]),
            joints_cam=S[i, :, :3] * 1000.0, origin=f'{path} row {i}')
    self.groups = dict(sorted(groups.items()))
    known = sorted({s for s, _, _ in self.groups})
    frames_lib.check_subjects(self.subjects, known, str(self.annotations),
                           f'the annotations have {known}')

  def settings(self) -> dict:
    return dict(layout='mmpose', subjects=self.subjects, every=self.every,
                with_damaged=self.with_damaged, cameras=self.camera_names,
                annotations=[os.path.basename(a) for a in self.annotations],
                max_frames=self.max_frames)

  def frames(self, split):
    keys = [k for k in self.groups if k[0] in self.subjects[split]
            and (self.with_damaged or not _damaged(k[0], k[1]))]
    for subject, action, frame in frames_lib.every_kth(keys, self.every, split, self.max_frames):
      group = self.groups[subject, action, frame]
      labels = [group.get(c) or frames_lib.CameraLabel(   # a missing view
          camera=self.cameras.get((subject, c), next(iter(self.cameras.values()))),
          name=f'{subject}/{c}') for c in self.camera_names]
      yield frames_lib.frame_from_camera_labels(subject, action, frame, labels, tol_mm=self.tol,
                                             calibration=self.cameras_path,
                                             origin=f'{subject}/{action}/{frame}')


def adapter(cfg):
  """The adapter that ``config.data`` (dataset='human36m') names."""
  kw = dict(subjects=cfg.subjects, every=cfg.every_by_split, with_damaged=cfg.with_damaged,
            max_frames=cfg.max_frames)
  if cfg.layout == 'learnable_triangulation':
    return LearnableTriangulation(cfg.manual_dir, image_dir=cfg.image_dir,
                                  labels_file=cfg.labels_file, **kw)
  if cfg.layout == 'mmpose':
    return MMPose(cfg.manual_dir, **kw)
  raise ValueError(f'config.data.layout must be "learnable_triangulation" or "mmpose", '
                   f'got {cfg.layout!r}')
