"""MPI-INF-3DHP training recordings -> :mod:`mvssl.data.builder`.

Two layouts (``config.data.layout``): ``mmpose`` (MMPose's preprocessed npz + cameras pickle +
extracted JPEGs, :class:`MMPose3dhp`) and ``official`` (:class:`MpiInf3dhp`), as the official
``get_dataset.sh`` unpacks it::

  MANUAL_DIR/S1/Seq1/annot.mat            MATLAB v5: annot2 {14 x 1 cell} [N, 28*2] px,
                                          annot3 {14 x 1 cell} [N, 28*3] camera-frame mm,
                                          cameras [14] camera ids, frames [N] (0-based)
  MANUAL_DIR/S1/Seq1/camera.calibration   text, one block per camera:
                                            name <id> / size <W H> / intrinsic <16> (4x4 K) /
                                            extrinsic <16> (4x4 world->camera, mm)
  MANUAL_DIR/S1/Seq1/imageSequence/video_<cam>.avi
       or, with config.data.frames_from='jpeg', extracted frames
  MANUAL_DIR/S1/Seq1/imageFrames/video_<cam>/frame_<frame+1:06d>.jpg

The 28 joints are mapped to Human3.6M-17 (pelvis, hips, knees, ankles, the H36M-compatible spine
joint, neck -> Thorax, head -> Neck/Nose, head top -> Head, shoulders, elbows, wrists). World joints
come from the first selected camera's annot3 through its extrinsics; every other camera must agree
within ``max_view_disagreement_mm`` and annot2 must be annot3 projected through the intrinsics
within ``max_reprojection_px``, else the camera does not match its labels (an error). Paper split:
labeled S1-S3 / unlabeled S4-S7 / test S8 on cameras 0, 2, 7, 8; frames every ``every``-th.
"""

from __future__ import annotations

import os
import pickle
import re

import numpy as np
import scipy.io

from mvssl.data import frames as frames_lib
from mvssl.data import video
from mvssl.geometry import camera as camlib

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
MPI-INF-3DHP (https://vcai.mpi-inf.mpg.de/3dhp-dataset, licence form; its get_dataset.sh downloads
it). Put the training subjects in the manual dir (config.data.manual_dir):
  S1..S8/Seq1..Seq2/annot.mat
  S1..S8/Seq1..Seq2/camera.calibration
  S1..S8/Seq1..Seq2/imageSequence/video_<camera>.avi
  (or extracted frames S*/Seq*/imageFrames/video_<camera>/frame_NNNNNN.jpg with
   config.data.frames_from='jpeg')
or MMPose's preprocessed layout (config.data.layout='mmpose'):
  annotations/mpi_inf_3dhp_train.npz, annotations/cameras_train.pkl,
  images/S1_Seq1_Cam0_000001.jpg ...
"""
JOINTS_28 = ('spine3', 'spine4', 'spine2', 'spine', 'pelvis', 'neck', 'head', 'head_top',
             'left_clavicle', 'left_shoulder', 'left_elbow', 'left_wrist', 'left_hand',
             'right_clavicle', 'right_shoulder', 'right_elbow', 'right_wrist', 'right_hand',
             'left_hip', 'left_knee', 'left_ankle', 'left_foot', 'left_toe', 'right_hip',
             'right_knee', 'right_ankle', 'right_foot', 'right_toe')
# Human3.6M-17 (VideoPose3D order) from the 28 training joints.
MPI28_TO_H36M17 = (4, 23, 24, 25, 18, 19, 20, 3, 5, 6, 7, 9, 10, 11, 14, 15, 16)
# The 17-joint order of the 3DHP test set and of MMPose's 3DHP npz files:
# head_top, neck, r_sho, r_elb, r_wri, l_sho, l_elb, l_wri, r_hip, r_knee, r_ank, l_hip, l_knee,
# l_ank, pelvis, spine, head.
MPI17_TO_H36M17 = (14, 8, 9, 10, 11, 12, 13, 15, 1, 16, 0, 5, 6, 7, 2, 3, 4)


def parse_calibration(path: str) -> dict[int, dict]:
  """camera.calibration -> {camera id: {'K' [3,3] px, 'R' [3,3], 't' [3] mm, 'size' (W, H)}}.

  Raises:
    FileNotFoundError, ValueError naming the file, the camera and the field.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: camera.calibration not found.\n'
                            f'{MANUAL_DOWNLOAD_INSTRUCTIONS}')
  cams, cur = {}, None
  with open(path) as f:
    for lineno, line in enumerate(f, 1):
      parts = line.split()
      if not parts:
        continue
      key, vals = parts[0], parts[1:]
      if key == 'name':
        cur = int(vals[0])
        cams[cur] = {}
      elif cur is not None and key in ('intrinsic', 'extrinsic', 'size'):
        try:
          cams[cur][key] = np.array([float(v) for v in vals])
        except ValueError:
          raise ValueError(f'{path}:{lineno}: camera {cur} field {key!r} is not numeric') \
              from None
  out = {}
  for c, d in cams.items():
    for key, n in (('intrinsic', 16), ('extrinsic', 16), ('size', 2)):
      if key not in d:
        raise ValueError(f'{path}: camera {c} lacks field {key!r}')
      if d[key].size != n or not np.all(np.isfinite(d[key])):
        raise ValueError(f'{path}: camera {c} field {key!r} must be {n} finite numbers, '
                         f'got {d[key].size}')
    K, E = d['intrinsic'].reshape(4, 4), d['extrinsic'].reshape(4, 4)
    out[c] = dict(K=K[:3, :3], R=E[:3, :3], t=E[:3, 3], size=tuple(int(x) for x in d['size']))
  return out


def load_annot(path: str) -> dict:
  """annot.mat -> {'annot2' [C, N, 28, 2] px, 'annot3' [C, N, 28, 3] mm, 'cameras' [C],
  'frames' [N]}.

  Raises:
    FileNotFoundError / KeyError / ValueError naming the file and field.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: annot.mat not found.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}')
  try:
    m = scipy.io.loadmat(path)
  except Exception as e:  # noqa: BLE001
    raise ValueError(f'{path}: not a MATLAB annot.mat ({type(e).__name__}: {e})') from None
  out = {}
  for key in ('annot2', 'annot3', 'cameras', 'frames'):
    if key not in m:
      raise KeyError(f'{path}: missing field {key!r}')
  for key, dim in (('annot2', 2), ('annot3', 3)):
    cells = [np.asarray(c, np.float64) for c in np.ravel(m[key])]
    n = {c.shape for c in cells}
    if len(n) != 1 or cells[0].ndim != 2 or cells[0].shape[1] != 28 * dim:
      raise ValueError(f'{path}: field {key!r} must hold [N, {28 * dim}] per camera, got {n}')
    out[key] = np.stack(cells).reshape(len(cells), -1, 28, dim)
  out['cameras'] = np.ravel(m['cameras']).astype(int)
  out['frames'] = np.ravel(m['frames']).astype(int)
  if len(out['cameras']) != out['annot3'].shape[0]:
    raise ValueError(f'{path}: field cameras has {len(out["cameras"])} ids but annot3 has '
                     f'{out["annot3"].shape[0]} cameras')
  if len(out['frames']) != out['annot3'].shape[1]:
    raise ValueError(f'{path}: field frames has {len(out["frames"])} entries but annot3 has '
                     f'{out["annot3"].shape[1]} frames')
  return out


class MpiInf3dhp:
  """Adapter for the MPI-INF-3DHP training layout (module docstring)."""

  name = 'mpi_inf_3dhp'
  dist_model = 'opencv'   # pinhole: annot2 is annot3 through K with no lens model
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, manual_dir: str, *, subjects: dict, every: dict, cameras=(0, 2, 7, 8),
               sequences=('Seq1', 'Seq2'), frames_from: str = 'video',
               max_view_disagreement_mm: float = 5.0, max_reprojection_px: float = 2.0,
               max_frames: int = 0):
    if frames_from not in ('video', 'jpeg'):
      raise ValueError(f'frames_from must be "video" or "jpeg", got {frames_from!r}')
    self.root = manual_dir
    self.subjects = {k: list(v) for k, v in dict(subjects).items()}
    self.every, self.cams = dict(every), [int(c) for c in cameras]
    self.sequences, self.frames_from = list(sequences), frames_from
    self.tol_mm, self.tol_px = float(max_view_disagreement_mm), float(max_reprojection_px)
    self.max_frames = int(max_frames)
    self.splits = tuple(self.subjects)
    self.camera_names = [f'cam{c}' for c in self.cams]
    for split, subs in self.subjects.items():
      for s in subs:
        if not os.path.isdir(os.path.join(manual_dir, s)):
          raise FileNotFoundError(f'{os.path.join(manual_dir, s)}: unknown subject {s!r} in '
                                  f'split {split!r} (no such folder).\n'
                                  f'{MANUAL_DOWNLOAD_INSTRUCTIONS}')

  def settings(self) -> dict:
    return dict(layout='mpi_inf_3dhp', subjects=self.subjects, every=self.every,
                cameras=self.cams, sequences=self.sequences, frames_from=self.frames_from,
                max_frames=self.max_frames)

  def _cameras(self, seq_dir):
    calib_path = os.path.join(seq_dir, 'camera.calibration')
    calib = parse_calibration(calib_path)
    out = {}
    for c in self.cams:
      if c not in calib:
        raise KeyError(f'{calib_path}: no camera {c} (has {sorted(calib)})')
      d = calib[c]
      out[c] = camlib.Camera.create(d['K'], d['R'], d['t'], None, 'opencv', dtype=np.float64,
                                    name=f'{calib_path}: camera {c}')
    return out

  def _sequence(self, subject, seq, every, budget):
    seq_dir = os.path.join(self.root, subject, seq)
    annot_path = os.path.join(seq_dir, 'annot.mat')
    annot = load_annot(annot_path)
    cams = self._cameras(seq_dir)
    idx = []
    for c in self.cams:
      where = np.nonzero(annot['cameras'] == c)[0]
      if not len(where):
        raise KeyError(f'{annot_path}: field cameras has no camera {c}')
      idx.append(int(where[0]))
    keep = np.arange(0, annot['annot3'].shape[1], max(1, every))
    if budget is not None:
      keep = keep[:budget]
    readers = {}
    try:
      if self.frames_from == 'video':
        readers = {c: video.VideoReader(os.path.join(seq_dir, 'imageSequence', f'video_{c}.avi'),
                                        MANUAL_DOWNLOAD_INSTRUCTIONS)
                   for c in self.cams}
      for n in keep:
        frame = int(annot['frames'][n])
        origin = f'{annot_path} frame {frame}'
        world = None
        views = []
        for c, ci in zip(self.cams, idx):
          cam = cams[c]
          a3 = annot['annot3'][ci, n][MPI28_TO_H36M17, :]
          a2 = annot['annot2'][ci, n][MPI28_TO_H36M17, :]
          for what, a in (('annot3', a3), ('annot2', a2)):
            if not np.all(np.isfinite(a)):
              raise ValueError(f'{origin}: field {what!r} of camera {c} has non-finite values')
          w = camlib.camera_to_world(cam, a3)
          err = np.max(np.abs(camlib.project(cam, w) - a2))
          if err > self.tol_px:
            raise ValueError(f'{seq_dir}/camera.calibration: camera {c} does not match '
                             f'{annot_path}: annot3 projects {err:.1f} px from annot2 '
                             f'(frame {frame})')
          if world is None:
            world = w
          elif np.max(np.linalg.norm(w - world, axis=-1)) > self.tol_mm:
            gap = np.max(np.linalg.norm(w - world, axis=-1))
            raise ValueError(f'{seq_dir}/camera.calibration: camera {c} does not match '
                             f'{annot_path}: its annot3 is {gap:.1f} mm from camera '
                             f'{self.cams[0]} in world (frame {frame})')
          if self.frames_from == 'video':
            img = readers[c].read(n)
            image, where = (lambda im=img: im), f'{readers[c].path} frame {n}'
          else:
            where = os.path.join(seq_dir, 'imageFrames', f'video_{c}', f'frame_{n + 1:06d}.jpg')
            image = lambda p=where: frames_lib.imread(p)
          views.append(frames_lib.View(camera=cam, image=image, origin=where))
        yield frames_lib.Frame(subject=subject, sequence=seq, frame=frame, views=views,
                            pose_3d=world, origin=origin)
    finally:
      for r in readers.values():
        r.close()

  def frames(self, split):
    every = int(self.every.get(split, 1))
    left = self.max_frames or None
    for s in self.subjects[split]:
      for seq in self.sequences:
        if not os.path.isdir(os.path.join(self.root, s, seq)):
          raise FileNotFoundError(f'{os.path.join(self.root, s, seq)}: sequence folder not '
                                  f'found.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}')
        for fr in self._sequence(s, seq, every, left):
          yield fr
          if left is not None:
            left -= 1
            if left <= 0:
              return


def load_mmpose_cameras(path: str) -> dict:
  """MMPose's 3DHP cameras_*.pkl -> {key: Camera (mm; pinhole)}.

  Training keys ('S1_Seq1_Cam0') carry R and T (world->camera, m); test keys ('TS1') only
  intrinsics (identity extrinsics). The pickle's image size fields are not used (the training
  file's height reads 204 where the images are 2048).

  Raises:
    FileNotFoundError / KeyError naming the file and field.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: cameras pickle not found.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}')
  with open(path, 'rb') as f:
    raw = pickle.load(f)
  out = {}
  for key, d in raw.items():
    try:
      f_, c_ = np.ravel(d['f']), np.ravel(d['c'])
    except KeyError as e:
      raise KeyError(f'{path}: camera {key} lacks field {e}') from None
    K = np.array([[f_[0], 0, c_[0]], [0, f_[1], c_[1]], [0, 0, 1.0]])
    R = np.asarray(d.get('R', np.eye(3)), np.float64)
    t = np.ravel(d.get('T', np.zeros(3))).astype(np.float64) * 1000.0
    out[str(key)] = camlib.Camera.create(K, R, t, None, 'opencv', dtype=np.float64,
                                         name=f'{path}: camera {key}')
  return out


_MMPOSE_NAME = re.compile(r'(S\d+)_(Seq\d+)_Cam(\d+)_(\d+)\.jpg$')


class MMPose3dhp:
  """Adapter for MMPose's preprocessed MPI-INF-3DHP training data::

    MANUAL_DIR/annotations/mpi_inf_3dhp_train.npz   imgname [N] 'S1_Seq1_Cam0_000001.jpg',
        center [N, 2] px, scale [N] (box side / 200 px), part [N, 17, 3] px,
        S [N, 17, 4] camera-frame joints (m) + visibility, in the 3DHP test-set 17-joint order
    MANUAL_DIR/annotations/cameras_train.pkl        {'S1_Seq1_Cam0': R, T (world->camera, m), f, c}
    MANUAL_DIR/images/<imgname>

  Rows are grouped into multi-view frames by (subject, sequence, frame) over ``cameras``; the
  world pose comes from the first present view and every other view must agree within
  ``max_view_disagreement_mm``.
  """

  name = 'mpi_inf_3dhp'
  dist_model = 'opencv'
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, manual_dir: str, *, subjects: dict, every: dict, cameras=(0, 2, 7, 8),
               annotation: str = 'annotations/mpi_inf_3dhp_train.npz',
               cameras_file: str = 'annotations/cameras_train.pkl', image_root: str = 'images',
               max_view_disagreement_mm: float = 5.0, max_frames: int = 0):
    self.root = manual_dir
    self.subjects = {k: list(v) for k, v in dict(subjects).items()}
    self.every, self.cams = dict(every), [int(c) for c in cameras]
    self.camera_names = [f'cam{c}' for c in self.cams]
    self.splits = tuple(self.subjects)
    self.tol, self.max_frames = float(max_view_disagreement_mm), int(max_frames)
    self.image_root = os.path.join(manual_dir, image_root)
    self.cameras_path = os.path.join(manual_dir, cameras_file)
    self.cameras = load_mmpose_cameras(self.cameras_path)
    self.annotation = os.path.join(manual_dir, annotation)
    if not os.path.exists(self.annotation):
      raise FileNotFoundError(f'{self.annotation}: annotation npz not found.\n'
                              f'{MANUAL_DOWNLOAD_INSTRUCTIONS}')
    with np.load(self.annotation) as d:
      for field in ('imgname', 'S'):
        if field not in d:
          raise KeyError(f'{self.annotation}: missing field {field!r}')
      names, S = d['imgname'], np.asarray(d['S'], np.float64)
      center = d['center'] if 'center' in d else None
      scale = d['scale'] if 'scale' in d else None
    if S.shape[1:2] != (17,) or S.shape[2] not in (3, 4):
      raise ValueError(f'{self.annotation}: field S has shape {S.shape}, expected [N, 17, 4]')
    groups = {}
    for i, n in enumerate(names):
      m = _MMPOSE_NAME.search(str(n))
      if not m:
        raise ValueError(f'{self.annotation}: row {i} imgname {str(n)!r} is not '
                         f'S*_Seq*_Cam*_NNNNNN.jpg')
      subject, seq, cam, frame = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
      if cam not in self.cams:
        continue
      key = f'{subject}_{seq}_Cam{cam}'
      if key not in self.cameras:
        raise KeyError(f'{self.annotation}: row {i} ({n}) uses camera {key} that '
                       f'{self.cameras_path} does not have')
      if not np.all(np.isfinite(S[i, :, :3])):
        raise ValueError(f'{self.annotation}: row {i} ({n}) field S has non-finite values')
      box = None
      if center is not None and scale is not None:
        box = frames_lib.box_from_center_scale(center[i], scale[i])
      groups.setdefault((subject, seq, frame), {})[cam] = frames_lib.CameraLabel(
          camera=self.cameras[key], name=key, path=os.path.join(self.image_root, str(n)),
          box=box, joints_cam=S[i, :, :3][list(MPI17_TO_H36M17)] * 1000.0,
          origin=f'{self.annotation} row {i}')
    self.groups = dict(sorted(groups.items()))
    known = sorted({k[0] for k in self.groups})
    frames_lib.check_subjects(self.subjects, known, self.annotation,
                           f'the annotation has {known} on cameras {self.cams}')

  def settings(self) -> dict:
    return dict(layout='mmpose', subjects=self.subjects, every=self.every, cameras=self.cams,
                annotation=os.path.basename(self.annotation), max_frames=self.max_frames)

  def frames(self, split):
    keys = [k for k in self.groups if k[0] in self.subjects[split]]
    for subject, seq, frame in frames_lib.every_kth(keys, self.every, split, self.max_frames):
      group = self.groups[subject, seq, frame]
      labels = [group.get(c) or frames_lib.CameraLabel(   # a missing view
          camera=self.cameras.get(f'{subject}_{seq}_Cam{c}', next(iter(self.cameras.values()))),
          name=f'{subject}_{seq}_Cam{c}') for c in self.cams]
      yield frames_lib.frame_from_camera_labels(
          subject, seq, frame, labels, tol_mm=self.tol, calibration=self.cameras_path,
          origin=f'{self.annotation} {subject}/{seq}/{frame}')


def adapter(cfg):
  """The adapter that ``config.data`` (dataset='mpi_inf_3dhp') names (field layout)."""
  layout = cfg.layout
  kw = dict(subjects=cfg.subjects, every=cfg.every_by_split, cameras=tuple(cfg.cameras),
            max_frames=cfg.max_frames)
  if layout == 'official':
    return MpiInf3dhp(cfg.manual_dir, frames_from=cfg.frames_from,
                      sequences=tuple(cfg.sequences), **kw)
  if layout == 'mmpose':
    return MMPose3dhp(cfg.manual_dir, **kw)
  raise ValueError(f'config.data.layout must be "official" or "mmpose", got {layout!r}')
