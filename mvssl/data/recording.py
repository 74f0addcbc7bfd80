"""Bring your own recording: calibrated videos or image folders (+ optional 2D detections) -> an
unlabeled multi-view dataset for P-GT and fine-tuning (:mod:`mvssl.data.builder`).

Layout under the recording folder (``manual_dir`` of its data config, configs/default.py:
``recording_data``), all paths configurable:

* calibration (``calibration``): simple JSON, Pose2Sim TOML, Qualisys ``.qca.txt`` or
  OpenCV/EasyMocap YAML (:mod:`mvssl.data.calibration`); world->camera, mm, OpenCV lens model;
* frames: an image pattern with ``{camera}`` and ``{frame}`` (``images``, e.g.
  ``images/{camera}/{frame}.jpg`` or Pose2Sim's ``frames/{camera}_f{frame}.jpg``), or a video per
  camera (``video``, e.g. ``videos/{camera}.mp4``; every ``every``-th frame decoded,
  :mod:`mvssl.data.video`);
* detections (optional, ``detections``): OpenPose, COCO or npz, mapped to Human3.6M-17
  (:mod:`mvssl.data.detections`); they place the crops and can give the P-GT by DLT. Where a
  view lists several people, the subject is picked across the calibrated views
  (:mod:`mvssl.data.association`, gate ``association_px``).
"""

from __future__ import annotations

import os

from mvssl.data import calibration as calib_lib
from mvssl.data import detections as det_lib
from mvssl.data import frames as frames_lib
from mvssl.data import render
from mvssl.data import video as video_lib
from mvssl.geometry import camera as camlib

# Video encoders pad frames to a multiple of this many pixels; calibrations may give the padded size.
PAD = 16

MANUAL_DOWNLOAD_INSTRUCTIONS = """\
Your own recording: put in one folder (manual_dir of config.unlabeled_data) a calibration file
(calibration: simple .json, Pose2Sim .toml, Qualisys .qca.txt or OpenCV/EasyMocap .yml), the
frames (images: a pattern like 'images/{camera}/{frame}.jpg', or video: 'videos/{camera}.mp4')
and optionally 2D detections (detections). See mvssl/data/recording.py for the exact formats.
"""

class Recording:
  """Adapter for a user's calibrated multi-view recording (module docstring); split 'unlabeled'."""

  name = 'recording'
  dist_model = 'opencv'
  MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

  def __init__(self, manual_dir: str, *, calibration: str, images: str = '', video: str = '',
               detections: str = '', cameras=(), every: int = 1, subject: str = '',
               max_frames: int = 0, box_min_score: float = 0.3, association_px: float = 20.0):
    if not os.path.isdir(manual_dir):
      raise FileNotFoundError(f'{manual_dir}: recording folder not found.\n'
                              f'{MANUAL_DOWNLOAD_INSTRUCTIONS}')
    if bool(images) == bool(video):
      raise ValueError(f'{manual_dir}: give exactly one of images (a pattern with {{camera}} '
                       'and {frame}) or video (a pattern with {camera})')
    self.root = manual_dir
    self.calib_spec = calibration
    calib = calib_lib.load_calibration(
        ','.join(os.path.join(manual_dir, p) for p in calibration.split(',')))
    names = list(cameras) or sorted(calib)
    for n in names:
      if n not in calib:
        raise KeyError(f'{calibration}: no camera {n!r} (has {sorted(calib)})')
    if not cameras:          # every camera with frames must be calibrated
      pattern = images or video
      lacking = sorted(frames_lib.cameras_in_pattern(manual_dir, pattern) - set(calib))
      if lacking:
        raise KeyError(f'{calibration}: no camera {", ".join(map(repr, lacking))}, yet '
                       f'{os.path.join(manual_dir, pattern)} has its frames; add it to the '
                       f'calibration, or list the cameras to use (cameras=...)')
    self.sizes = {n: calib.sizes[n] for n in names if n in calib.sizes}
    self.camera_names, self.cams = names, [calib[n] for n in names]
    self.images, self.video, self.detections = images, video, detections
    self.every, self.max_frames = max(1, int(every)), int(max_frames)
    self.box_min_score = float(box_min_score)
    self.subject = subject or os.path.basename(os.path.normpath(manual_dir))
    self.splits = ('unlabeled',)
    if images:
      per = [frames_lib.list_images(manual_dir, images, n) for n in names]
      for n, p in zip(names, per):
        if not p:
          raise FileNotFoundError(f'{os.path.join(manual_dir, images)}: no frames of camera '
                                  f'{n!r}.\n{MANUAL_DOWNLOAD_INSTRUCTIONS}')
      self.files = per
      self.frame_ids = sorted(set().union(*per))[::self.every]
    else:
      self.files = None
      counts = [video_lib.frame_count(os.path.join(manual_dir, video.replace('{camera}', n)))
                for n in names]
      self.frame_ids = list(range(0, min(counts), self.every))
    if self.max_frames:
      self.frame_ids = self.frame_ids[:self.max_frames]
    self.association_px = float(association_px)
    self.det = (det_lib.load_detections(
        manual_dir, detections, names, self.frame_ids, cams=camlib.stack(self.cams),
        association=dict(max_error_px=self.association_px, min_score=self.box_min_score))
                if detections else None)

  def settings(self) -> dict:
    return dict(layout='recording', calibration=self.calib_spec, images=self.images,
                video=self.video, detections=self.detections, cameras=self.camera_names,
                every=self.every, subject=self.subject, max_frames=self.max_frames,
                box_min_score=self.box_min_score, association_px=self.association_px)

  def _box(self, kp):
    """Square box around the confident detections (score >= box_min_score), or None."""
    if kp is None:
      return None
    ok = kp[:, 2] >= self.box_min_score
    return render.square_box(kp[ok, :2], 1.0) if ok.sum() >= 2 else None

  def _sized(self, img, camera: str, where: str):
    """The image, if its size is the calibration's for that camera (:func:`check_size`)."""
    return check_size(img, self.sizes.get(camera), camera=camera, where=where,
                      calibration=self.calib_spec)

  def frames(self, split):
    if split != 'unlabeled':
      return
    readers = None
    if self.video:
      readers = [video_lib.VideoReader(os.path.join(self.root, self.video.replace('{camera}', n)))
                 for n in self.camera_names]
    try:
      for i, f in enumerate(self.frame_ids):
        views = []
        for v, (n, cam) in enumerate(zip(self.camera_names, self.cams)):
          kp = None if self.det is None else self.det[v, i]
          if readers is not None:
            img = readers[v].read(f)
            where = f'{readers[v].path} frame {f}'
            views.append(frames_lib.View(
                camera=cam, image=lambda im=img, n=n, w=where: self._sized(im, n, w),
                keypoints_2d=kp, box=self._box(kp), origin=where))
          elif f in self.files[v]:
            p = self.files[v][f]
            views.append(frames_lib.View(
                camera=cam, image=lambda p=p, n=n: self._sized(frames_lib.imread(p), n, p),
                keypoints_2d=kp, box=self._box(kp), origin=p))
          else:
            views.append(frames_lib.View(camera=cam, image=None, origin=f'{n} frame {f}'))
        yield frames_lib.Frame(subject=self.subject, sequence='recording', frame=f,
                               views=views, origin=f'{self.root} frame {f}')
    finally:
      for r in readers or ():
        r.close()


def check_size(img, want, *, camera: str, where: str, calibration: str):
  """``img`` if its size is ``want`` (W, H) px, the size the calibration gives for ``camera``
  (None: no size given, nothing to check).

  A calibrated size up to 15 px larger than the frame in either dimension is accepted: video
  encoders pad frames to a multiple of 16 px at the right/bottom edge (the Pose2Sim demo's
  calibration gives 1088x1920 for its 1080x1920 frames), which leaves K unchanged. Anything
  else (a resized or cropped frame) would make every projection wrong, so it is refused.

  Raises:
    ValueError: one line naming the image file (``where``), both sizes and the remedy.
  """
  if want is None or img is None:
    return img
  have = (img.shape[1], img.shape[0])
  if not all(0 <= w - h < PAD for w, h in zip(want, have)):
    raise ValueError(f'{where}: image is {have[0]}x{have[1]} px but {calibration} gives camera '
                     f'{camera!r} size {want[0]}x{want[1]}; use frames of the calibrated size '
                     f'(not resized), or fix its size')
  return img


def adapter(cfg):
  """The adapter that a recording data config (dataset='recording') names."""
  return Recording(cfg.manual_dir, calibration=cfg.calibration, images=cfg.images,
                   video=cfg.video, detections=cfg.detections, cameras=tuple(cfg.cameras),
                   every=cfg.every, subject=cfg.subject, max_frames=cfg.max_frames,
                   box_min_score=cfg.box_min_score, association_px=cfg.association_px)
