"""Format-faithful miniature copies of the dataset layouts, written by the tests themselves.

Every layout gets real file formats (structured .npy, .npz, pickles, MATLAB .mat,
camera.calibration text, MJPG .avi, JPEG frames, OpenPose / COCO JSON, TOML, OpenCV YAML) with a
few frames of procedural people seen by a procedural rig. Each full image is grey with two
markers: a red disc at the projection of the pelvis (joint 0) and a green disc at the head top
(joint 10), so a test can check that a crop shows the right pixels where its camera says.
"""

from __future__ import annotations

import json
import os
import pickle

import cv2
import numpy as np
import scipy.io

from mvssl.data import h36m
from mvssl.data import mpi_inf_3dhp
from mvssl.data import poses as poses_lib
from mvssl.data import render
from mvssl.geometry import camera as camlib

RED, GREEN = (0, 0, 255), (0, 255, 0)   # BGR
MARK_PX = 14                            # marker radius in the full image


def rig(seed, n=4, dist_model='h36m', size=1000, strength=1.0):
  """n procedural cameras with a lens distortion of the given model (numpy float64)."""
  rng = np.random.default_rng(seed)
  cams = poses_lib.procedural_rig(rng, n)
  out = []
  for c in cams:
    K = np.array(c.K, np.float64)
    K[:2] *= size / 1000.0
    K[:2, 2] = size / 2 - 0.5
    d = strength * np.array([-0.2, 0.15, -0.01, 0.002, -0.0015])
    out.append(camlib.Camera.create(K, c.R, c.t, d, dist_model, dtype=np.float64))
  return out


def people(seed, n):
  return poses_lib.procedural_poses(n, np.random.default_rng(seed))


def draw(cam, pose, size):
  """Grey BGR image [size, size, 3] with the two markers at the projected joints 0 and 10."""
  img = np.full((size, size, 3), 128, np.uint8)
  uv = np.asarray(camlib.project(cam, pose))
  for j, colour in ((0, RED), (10, GREEN)):
    cv2.circle(img, tuple(int(round(v)) for v in uv[j]), MARK_PX, colour, -1)
  return img


def imwrite(path, img):
  os.makedirs(os.path.dirname(path), exist_ok=True)
  assert cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 98])


def tlbr_box(cam, pose, scale=1.2):
  x0, y0, side, _ = np.round(render.square_box(np.asarray(camlib.project(cam, pose)), scale))
  return np.array([y0, x0, y0 + side, x0 + side]).astype(np.int16)   # square, as LT's are


# ------------------------------------------------------------------------------ Human3.6M

H36M_SUBJECTS = ['S1', 'S5', 'S6', 'S7', 'S8', 'S9', 'S11']
H36M_ACTIONS = ['Directions-1', 'Greeting-2']
H36M_FRAMES = (0, 5, 10, 15)


def h36m_truth(size=1000):
  """{subject: cameras [4]}, {(subject, action, frame): world pose [17, 3] mm (H36M-17)}, and
  the missing views {(subject, action): camera index}."""
  cams = {s: rig(i, 4, 'h36m', size) for i, s in enumerate(H36M_SUBJECTS)}
  truth = {}
  for s in ('S1', 'S7', 'S9'):
    for a, action in enumerate(H36M_ACTIONS):
      p = people(10 * H36M_SUBJECTS.index(s) + a, len(H36M_FRAMES))
      for f, pose in zip(H36M_FRAMES, p):
        truth[s, action, f] = pose
  return cams, truth, {('S7', 'Directions-1'): 3}


def write_h36m_lt(root, size=1000, truth=None):
  """learnable-triangulation labels npy + h36m-fetch frames under ``root``."""
  cams, truth, missing = truth or h36m_truth(size)
  labels = dict(subject_names=H36M_SUBJECTS, camera_names=list(h36m.CAMERA_IDS),
                action_names=H36M_ACTIONS)
  labels['cameras'] = np.empty((len(H36M_SUBJECTS), 4), dtype=[
      ('R', np.float32, (3, 3)), ('t', np.float32, (3, 1)), ('K', np.float32, (3, 3)),
      ('dist', np.float32, 5)])
  for si, s in enumerate(H36M_SUBJECTS):
    for ci, c in enumerate(cams[s]):
      rec = labels['cameras'][si, ci]
      rec['R'], rec['t'], rec['K'] = c.R, c.t.reshape(3, 1), c.K
      k1, k2, k3, p1, p2 = c.dist
      rec['dist'] = (k1, k2, p1, p2, k3)          # learnable-triangulation's order
  table = np.empty(len(truth), dtype=np.dtype([
      ('subject_idx', np.int8), ('action_idx', np.int8), ('frame_idx', np.int16),
      ('keypoints', np.float32, (17, 3)), ('bbox_by_camera_tlbr', np.int16, (4, 4))]))
  for r, ((s, action, f), pose) in enumerate(sorted(truth.items())):
    row = table[r]
    row['subject_idx'], row['action_idx'] = H36M_SUBJECTS.index(s), H36M_ACTIONS.index(action)
    row['frame_idx'], row['keypoints'] = f, h36m.to_lt_order(pose)
    for ci, (cid, cam) in enumerate(zip(h36m.CAMERA_IDS, cams[s])):
      if missing.get((s, action)) == ci:
        row['bbox_by_camera_tlbr'][ci] = 0
        continue
      row['bbox_by_camera_tlbr'][ci] = tlbr_box(cam, pose)
      imwrite(os.path.join(root, 'processed', s, action, 'imageSequence', cid,
                           f'img_{f + 1:06d}.jpg'), draw(cam, pose, size))
  labels['table'] = table
  os.makedirs(os.path.join(root, 'extra'), exist_ok=True)
  np.save(os.path.join(root, 'extra', 'human36m-multiview-labels-GTbboxes.npy'), labels)
  return cams, truth, missing


def write_h36m_mmpose(root, size=1000, truth=None):
  """MMPose's preprocessed layout (annotation npz files, cameras.pkl, images/) of the same data."""
  cams, truth, missing = truth or h36m_truth(size)
  pkl = {}
  for s in H36M_SUBJECTS:
    for cid, c in zip(h36m.CAMERA_IDS, cams[s]):
      k1, k2, k3, p1, p2 = c.dist
      pkl[s, cid] = dict(R=c.R.T, T=(-c.R.T @ c.t / 1000.0).reshape(3, 1),
                         f=c.K[[0, 1], [0, 1]].reshape(2, 1), c=c.K[:2, 2].reshape(2, 1),
                         k=np.array([[k1], [k2], [k3]]), p=np.array([[p1], [p2]]),
                         w=size, h=size, name=cid, id=cid)
  os.makedirs(os.path.join(root, 'annotation_body3d', 'fps50'), exist_ok=True)
  with open(os.path.join(root, 'annotation_body3d', 'cameras.pkl'), 'wb') as f:
    pickle.dump(pkl, f)
  rows = {'train': [], 'test': []}
  for (s, action, fr), pose in sorted(truth.items()):
    mm_action = action.replace('-', '_')
    for ci, (cid, cam) in enumerate(zip(h36m.CAMERA_IDS, cams[s])):
      if missing.get((s, action)) == ci:
        continue
      name = f'{s}/{s}_{mm_action}.{cid}/{s}_{mm_action}.{cid}_{fr + 1:06d}.jpg'
      imwrite(os.path.join(root, 'images', name), draw(cam, pose, size))
      t, l, b, r = tlbr_box(cam, pose)
      pc = np.asarray(camlib.world_to_camera(cam, pose)) / 1000.0
      uv = np.asarray(camlib.project(cam, pose))
      rows['test' if s in ('S9', 'S11') else 'train'].append(dict(
          imgname=name, center=np.array([(l + r) / 2, (t + b) / 2]), scale=(r - l) / 200.0,
          part=np.concatenate([uv, np.ones((17, 1))], -1),
          S=np.concatenate([pc, np.ones((17, 1))], -1)))
  for split, rs in rows.items():
    np.savez(os.path.join(root, 'annotation_body3d', 'fps50', f'h36m_{split}.npz'),
             **{k: np.stack([r[k] for r in rs]) for k in ('imgname', 'center', 'scale', 'part',
                                                         'S')})
  return cams, truth, missing


# ------------------------------------------------------------------------------ MPI-INF-3DHP

TDHP_FRAMES = 6


def to_mpi28(pose17, rng):
  """A 28-joint MPI-INF-3DHP skeleton whose H36M-17 subset is ``pose17``."""
  out = np.repeat(pose17[:1], 28, axis=0) + rng.normal(0, 50, (28, 3))
  out[list(mpi_inf_3dhp.MPI28_TO_H36M17)] = pose17
  return out


def write_3dhp(root, subjects=('S1', 'S4', 'S8'), sequences=('Seq1',), size=512,
               cameras=(0, 2, 7, 8)):
  """S*/Seq*/annot.mat + camera.calibration + imageSequence/video_N.avi (MJPG) under ``root``.

  Returns:
    {(subject, seq): (cams {id: Camera}, poses [N, 17, 3] world mm)}.
  """
  out = {}
  for si, s in enumerate(subjects):
    for qi, seq in enumerate(sequences):
      d = os.path.join(root, s, seq)
      os.makedirs(os.path.join(d, 'imageSequence'), exist_ok=True)
      rng = np.random.default_rng(100 * si + qi)
      all_cams = rig(100 * si + qi, 14, 'opencv', size, strength=0.0)
      cams = dict(enumerate(all_cams))
      poses = people(7 + si, TDHP_FRAMES)
      p28 = np.stack([to_mpi28(p, rng) for p in poses])                   # [N, 28, 3]
      annot2, annot3 = [], []
      lines = ['Skeletool Camera Calibration File V1.0']
      for c, cam in cams.items():
        pc = np.asarray(camlib.world_to_camera(cam, p28))                  # [N, 28, 3]
        uv = np.asarray(camlib.project(cam, p28))
        annot3.append(pc.reshape(TDHP_FRAMES, -1))
        annot2.append(uv.reshape(TDHP_FRAMES, -1))
        K4, E = np.eye(4), np.eye(4)
        K4[:3, :3] = cam.K
        E[:3, :3], E[:3, 3] = cam.R, cam.t
        lines += [f'name          {c}', '  sensor      10 10', f'  size        {size} {size}',
                  '  animated    0',
                  '  intrinsic   ' + ' '.join(f'{v:.10g}' for v in K4.ravel()),
                  '  extrinsic   ' + ' '.join(f'{v:.10g}' for v in E.ravel()),
                  '  radial      0']
      with open(os.path.join(d, 'camera.calibration'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
      def cell(arrs):
        out = np.empty((len(arrs), 1), dtype=object)
        for i, a in enumerate(arrs):
          out[i, 0] = a
        return out
      scipy.io.savemat(os.path.join(d, 'annot.mat'), dict(
          annot2=cell(annot2), annot3=cell(annot3), univ_annot3=cell(annot3),
          cameras=np.arange(14)[None], frames=np.arange(TDHP_FRAMES)[:, None]))
      for c in cameras:
        w = cv2.VideoWriter(os.path.join(d, 'imageSequence', f'video_{c}.avi'),
                            cv2.VideoWriter_fourcc(*'MJPG'), 25, (size, size))
        assert w.isOpened()
        for p in poses:
          w.write(draw(cams[c], p, size))
        w.release()
      out[s, seq] = (cams, poses)
  return out


# ------------------------------------------------------------------------------ recordings

REC_CAMS = ('camA', 'camB', 'camC')
REC_FRAMES = (0, 1, 2, 3)
# BODY_25 joints that carry an H36M-17 joint exactly (body25 index -> H36M-17 index).
BODY25_FROM_H36M17 = {8: 0, 9: 1, 10: 2, 11: 3, 12: 4, 13: 5, 14: 6, 1: 8, 0: 9, 17: 10,
                      18: 10, 5: 11, 6: 12, 7: 13, 2: 14, 3: 15, 4: 16}
COCO17_FROM_H36M17 = {0: 9, 3: 10, 4: 10, 5: 11, 7: 12, 9: 13, 6: 14, 8: 15, 10: 16, 11: 4,
                      13: 5, 15: 6, 12: 1, 14: 2, 16: 3}


def recording_truth(size=800, k3=True):
  """Cameras [V] (OpenCV lens model; k3 = 0 unless ``k3``) and world poses [T, 17, 3] mm."""
  cams = rig(42, len(REC_CAMS), 'opencv', size)
  if not k3:
    cams = [c.replace(dist=c.dist * np.array([1, 1, 0, 1, 1])) for c in cams]
  return cams, people(43, len(REC_FRAMES))


def write_calibration(root, cams, fmt):
  """Writes the cameras in one of the supported formats; returns the config string."""
  if fmt == 'json':
    data = dict(units='mm', cameras={n: dict(
        K=c.K.tolist(), dist=[c.dist[0], c.dist[1], c.dist[3], c.dist[4], c.dist[2]],
        rvec=cv2.Rodrigues(c.R)[0].ravel().tolist(), t=c.t.tolist(), size_wh=[800, 800])
        for n, c in zip(REC_CAMS, cams)})
    with open(os.path.join(root, 'calib.json'), 'w') as f:
      json.dump(data, f)
    return 'calib.json'
  if fmt == 'toml':          # Pose2Sim's Calib.toml (k3 = 0 there)
    lines = []
    for i, (n, c) in enumerate(zip(REC_CAMS, cams)):
      lines += [f'[cam_{i:02d}]', f'name = "{n}"', 'size = [ 800.0, 800.0]',
                f'matrix = {json.dumps(c.K.tolist())}',
                f'distortions = {json.dumps([c.dist[0], c.dist[1], c.dist[3], c.dist[4]])}',
                f'rotation = {json.dumps(cv2.Rodrigues(c.R)[0].ravel().tolist())}',
                f'translation = {json.dumps((c.t / 1000.0).tolist())}', 'fisheye = false', '']
    lines += ['[metadata]', 'adjusted = false', 'error = 0.0']
    with open(os.path.join(root, 'Calib.toml'), 'w') as f:
      f.write('\n'.join(lines) + '\n')
    return 'Calib.toml'
  if fmt == 'qca':           # Qualisys QTM export; conversion conventions as Pose2Sim's
    def num(x):
      return repr(float(x))
    cams_xml = []
    for n, c in zip(REC_CAMS, cams):
      M = np.diag([1.0, -1.0, -1.0]) @ c.R                      # camera pose, Qualisys axes
      centre = -c.R.T @ c.t                                     # mm
      tr = ' '.join(f'r{i + 1}{j + 1}="{num(M[i, j])}"' for i in range(3) for j in range(3))
      k1, k2, _, p1, p2 = np.asarray(c.dist) * 64
      cams_xml.append(
          f'<camera active="1" avg-residual="0.4" model="none" serial="{n}" viewrotation="0">'
          f'<fov_video bottom="799" left="0" right="799" top="0"/>'
          f'<transform {tr} x="{num(centre[0])}" y="{num(centre[1])}" z="{num(centre[2])}"/>'
          f'<intrinsic centerPointU="{num(c.K[0, 2] * 64)}" centerPointV="{num(c.K[1, 2] * 64)}" '
          f'focalLengthU="{num(c.K[0, 0] * 64)}" focalLengthV="{num(c.K[1, 1] * 64)}" '
          f'radialDistortion1="{num(k1)}" radialDistortion2="{num(k2)}" radialDistortion3="0" '
          f'skew="0" tangentalDistortion1="{num(p1)}" tangentalDistortion2="{num(p2)}"/>'
          '</camera>')
    cams_xml.append('<camera active="1" model="Miqus M3" serial="marker_only">'
                    '<transform/><intrinsic/></camera>')                # not a video camera
    with open(os.path.join(root, 'Calib.qca.txt'), 'w') as f:
      f.write("<?xml version='1.0' encoding='ASCII'?>\n<calibration type=\"regular\">"
              f'<cameras>{"".join(cams_xml)}</cameras></calibration>\n')
    return 'Calib.qca.txt'
  if fmt == 'yaml':          # EasyMocap's intri.yml + extri.yml (OpenCV FileStorage)
    intri = cv2.FileStorage(os.path.join(root, 'intri.yml'), cv2.FILE_STORAGE_WRITE)
    extri = cv2.FileStorage(os.path.join(root, 'extri.yml'), cv2.FILE_STORAGE_WRITE)
    for fs in (intri, extri):
      fs.startWriteStruct('names', cv2.FileNode_SEQ)
      for n in REC_CAMS:
        fs.write('', n)
      fs.endWriteStruct()
    for n, c in zip(REC_CAMS, cams):
      intri.write(f'K_{n}', c.K)
      intri.write(f'dist_{n}', np.array([[c.dist[0], c.dist[1], c.dist[3], c.dist[4],
                                          c.dist[2]]]))
      extri.write(f'R_{n}', cv2.Rodrigues(c.R)[0])
      extri.write(f'Rot_{n}', c.R)
      extri.write(f'T_{n}', (c.t / 1000.0).reshape(3, 1))
    intri.release()
    extri.release()
    return 'intri.yml,extri.yml'
  raise ValueError(fmt)


def write_recording(root, *, calib='json', frames='images', detections='openpose', size=800):
  """A calibrated recording: calibration, frames (image folders or MJPG videos) and detections.

  Returns:
    (cams [V], poses [T, 17, 3] world mm, config overrides for configs.recording.recording_data).
  """
  cams, poses = recording_truth(size, k3=calib not in ('toml', 'qca'))   # neither has a k3
  cfg = dict(manual_dir=root, calibration=write_calibration(root, cams, calib),
             cameras=REC_CAMS, box_scale=1.3)
  for v, (n, cam) in enumerate(zip(REC_CAMS, cams)):
    imgs = [draw(cam, p, size) for p in poses]
    if frames == 'images':
      for f, img in zip(REC_FRAMES, imgs):
        imwrite(os.path.join(root, 'images', n, f'{f:06d}.jpg'), img)
      cfg.update(images='images/{camera}/{frame}.jpg', video='')
    else:
      os.makedirs(os.path.join(root, 'videos'), exist_ok=True)
      w = cv2.VideoWriter(os.path.join(root, 'videos', f'{n}.avi'),
                          cv2.VideoWriter_fourcc(*'MJPG'), 25, (size, size))
      for img in imgs:
        w.write(img)
      w.release()
      cfg.update(images='', video='videos/{camera}.avi')
    uv = np.stack([np.asarray(camlib.project(cam, p)) for p in poses])     # [T, 17, 2]
    if detections == 'openpose':
      os.makedirs(os.path.join(root, 'openpose', n), exist_ok=True)
      for f, q in zip(REC_FRAMES, uv):
        kp = np.zeros((25, 3))
        for b, j in BODY25_FROM_H36M17.items():
          kp[b] = (q[j, 0], q[j, 1], 0.9)
        people_ = [dict(person_id=[-1], pose_keypoints_2d=kp.ravel().tolist()),
                   dict(person_id=[-1], pose_keypoints_2d=(kp * [1, 1, 0.1]).ravel().tolist())]
        with open(os.path.join(root, 'openpose', n, f'{n}_{f:012d}_keypoints.json'), 'w') as fh:
          json.dump(dict(version=1.3, people=people_), fh)
      cfg['detections'] = 'openpose:openpose/{camera}/{camera}_{frame}_keypoints.json'
    elif detections == 'coco':
      os.makedirs(os.path.join(root, 'coco'), exist_ok=True)
      anns = []
      for f, q in zip(REC_FRAMES, uv):
        kp = np.zeros((17, 3))
        for b, j in COCO17_FROM_H36M17.items():
          kp[b] = (q[j, 0], q[j, 1], 2)
        anns.append(dict(id=len(anns), image_id=f, category_id=1, keypoints=kp.ravel().tolist(),
                         score=0.9, num_keypoints=17))
      with open(os.path.join(root, 'coco', f'{n}.json'), 'w') as fh:
        json.dump(dict(images=[dict(id=f, file_name=f'{f:06d}.jpg') for f in REC_FRAMES],
                       annotations=anns, categories=[dict(id=1, name='person')]), fh)
      cfg['detections'] = 'coco:coco/{camera}.json'
    else:
      cfg['detections'] = ''
  return cams, poses, cfg
