"""The rendered multi-view dataset: a TFDS ``array_record`` builder and its in-memory reader.

One example is one synchronised multi-view frame::

  images    [V, S, S, 3] uint8   PNG-encoded crops (the network inputs)
  K         [V, 3, 3]   float32  crop intrinsics (px)
  R, t      [V, 3, 3], [V, 3]    world->camera (t in mm)
  dist      [V, 5]      float32  (k1, k2, k3, p1, p2), Human3.6M lens model
  box       [V, 4]      float32  crop box (x0, y0, w, h) in the full image (px)
  pose_3d   [J, 3]      float32  world joints (mm); for the unlabeled split this is the hidden
                                 GT, read only to score the P-GT
  subject, sequence (text), frame (int)

Splits: ``labeled``, ``unlabeled`` and ``test``, by subject lists from the config (Human3.6M's
S1,S5,S6 / S7,S8 / S9,S11 by default). Pose sources: ``procedural`` (poses.procedural_poses on a
procedural rig per subject; nothing external) or ``h36m_motion`` (the real motion and official
cameras). TFDS writes into an ``incomplete.*`` folder and renames it when done, so an interrupted
build never passes for a complete one; the builder's config name is a hash of every generation
setting, so a changed config never reuses an old build.
"""

from __future__ import annotations

import hashlib
import json
import os

import cv2
import numpy as np
import tensorflow_datasets as tfds

from mvssl.data import builder as builder_lib
from mvssl.data import h36m
from mvssl.data import poses as poses_lib
from mvssl.data import reader
from mvssl.data import render

SPLITS = ('labeled', 'unlabeled', 'test')
GEN_KEYS = ('source', 'num_views', 'box_scale', 'seed', 'subjects', 'frames',
            'motion_path', 'cameras_path', 'every', 'shading')


def _gen_settings(cfg, image_size: int) -> dict:
  d = {k: cfg[k] for k in GEN_KEYS if k in cfg}
  d['image_size'] = int(image_size)
  d = json.loads(json.dumps(d, default=lambda o: o.to_dict() if hasattr(o, 'to_dict') else str(o)))
  if d.get('source') == 'h36m_motion':   # paths: content identity, not location
    for k in ('motion_path', 'cameras_path'):
      d[k] = os.path.basename(d[k])
  else:
    d.pop('motion_path', None)
    d.pop('cameras_path', None)
  return d


class MultiviewPose(tfds.core.GeneratorBasedBuilder):
  """Rendered calibrated multi-view people (see module docstring)."""

  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {'1.0.0': 'Initial release.',
                   '1.1.0': 'Images stored in RGB order (1.0.0 stored BGR).'}
  dist_model = 'h36m'

  def __init__(self, *, data_config, image_size: int, **kwargs):
    self._cfg = data_config
    self.image_size = int(image_size)
    settings = _gen_settings(data_config, self.image_size)
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    config = tfds.core.BuilderConfig(name=f'{settings["source"]}_{digest}',
                                     description=json.dumps(settings))
    super().__init__(config=config, **kwargs)

  @property
  def camera_names(self) -> list[str]:
    """Human3.6M's camera ids for the real motion, else cam0, cam1, ..."""
    v = self._cfg.num_views
    if self._cfg.source == 'h36m_motion':
      return list(h36m.CAMERA_IDS[:v])
    return [f'cam{i}' for i in range(v)]

  def load_split(self, split: str, num_threads: int = 4) -> dict:
    """The split as :func:`load_split` reads it (``num_threads`` unused: decoded in memory)."""
    del num_threads
    return load_split(self, split)

  def _info(self):
    v, s = self._cfg.num_views, self.image_size
    f32 = np.float32
    return tfds.core.DatasetInfo(
        builder=self,
        description=__doc__,
        features=tfds.features.FeaturesDict({
            'images': tfds.features.Sequence(
                tfds.features.Image(shape=(s, s, 3), encoding_format='png'), length=v),
            'K': tfds.features.Tensor(shape=(v, 3, 3), dtype=f32),
            'R': tfds.features.Tensor(shape=(v, 3, 3), dtype=f32),
            't': tfds.features.Tensor(shape=(v, 3), dtype=f32),
            'dist': tfds.features.Tensor(shape=(v, 5), dtype=f32),
            'box': tfds.features.Tensor(shape=(v, 4), dtype=f32),
            'pose_3d': tfds.features.Tensor(shape=(17, 3), dtype=f32),
            'subject': tfds.features.Text(),
            'sequence': tfds.features.Text(),
            'frame': np.int32,
        }))

  def _split_generators(self, dl_manager):
    del dl_manager
    return {split: self._generate_examples(split) for split in SPLITS}

  def _sources(self, split):
    cfg = self._cfg
    subjects = list(cfg.subjects[split])
    n = int(cfg.frames[split])
    if cfg.source == 'procedural':
      out = {}
      for s in subjects:
        seed = int(hashlib.sha1(f'{cfg.seed}/{s}'.encode()).hexdigest()[:8], 16)
        rng = np.random.default_rng(seed)
        cams = poses_lib.procedural_rig(rng, cfg.num_views)
        per = n // len(subjects)
        # Independent draws: every frame is its own sequence (mvssl.data.validation).
        out[s] = (poses_lib.procedural_poses(per, rng), cams,
                  [(f'procedural_{i:05d}', i) for i in range(per)])
      return out
    if cfg.source == 'h36m_motion':
      src = poses_lib.h36m_motion_source(cfg.motion_path, cfg.cameras_path, subjects,
                                         every=int(cfg.every))
      out = {}
      for s, (p, cams, ids) in src.items():
        per = max(1, n // len(subjects))
        idx = np.linspace(0, len(p) - 1, min(per, len(p))).round().astype(int)
        out[s] = (p[idx], cams, [ids[i] for i in idx])
      return out
    raise ValueError(f'data.source must be "procedural" or "h36m_motion", got {cfg.source!r}')

  def _generate_examples(self, split):
    cfg = self._cfg
    for s, (poses, cams, ids) in self._sources(split).items():
      for i, (pose, (seq, frame)) in enumerate(zip(poses, ids)):
        rng = np.random.default_rng([cfg.seed, SPLITS.index(split), i, len(s), ord(s[-1])])
        views = [render.render_view(pose, c, self.image_size, rng, cfg.box_scale, cfg.shading)
                 for c in cams]
        # render_view draws BGR; cv2.imencode takes BGR, so the PNG (and TFDS's decode) is RGB.
        pngs = [cv2.imencode('.png', img)[1].tobytes() for img, _, _ in views]
        crops = [c for _, c, _ in views]
        yield f'{s}/{seq}/{frame}', {
            'images': pngs,
            'K': np.stack([np.asarray(c.K) for c in crops]).astype(np.float32),
            'R': np.stack([np.asarray(c.R) for c in crops]).astype(np.float32),
            't': np.stack([np.asarray(c.t) for c in crops]).astype(np.float32),
            'dist': np.stack([np.asarray(c.dist) for c in crops]).astype(np.float32),
            'box': np.stack([b for _, _, b in views]).astype(np.float32),
            'pose_3d': pose.astype(np.float32),
            'subject': s, 'sequence': seq, 'frame': int(frame)}


def build(data_config, data_dir: str, *, image_size: int) -> MultiviewPose:
  """Builds (or reuses a finished build of) the dataset under ``data_dir``; returns the builder.

  Args:
    data_config: the rendered dataset's config (configs/default.py: ``rendered_data``).
    data_dir: TFDS data_dir.
    image_size: S, side of the rendered crops (px).
  """
  return builder_lib.prepare(lambda: MultiviewPose(data_config=data_config, image_size=image_size,
                                                   data_dir=data_dir, file_format='array_record'))


def load_split(builder: MultiviewPose, split: str) -> dict:
  """Reads a whole split through ``tfds.data_source`` into numpy arrays, in a stable order.

  Returns:
    dict with 'images' [N, V, S, S, 3] uint8, 'cams' (Camera with leaves [N, V, ...]),
    'pose_3d' [N, J, 3], 'box' [N, V, 4], 'subject' [N] str, 'sequence' [N] str, 'frame' [N],
    and, as :func:`mvssl.data.builder.load_split` gives them, 'view_valid' [N, V] and
    'has_pose_3d' [N] (all True: every rendered view exists and is labeled).
  Raises:
    ValueError: on non-finite labels or cameras, naming the split and field.
    DamagedFile: (a ValueError) on a damaged shard (:func:`mvssl.data.reader.read_record`).
  """
  source = builder.as_data_source(split=split)
  where = f'{builder.data_dir} split {split!r}'
  rows = [reader.read_record(source, i, where=where, data_dir=builder.data_dir)
          for i in range(len(source))]
  order = np.argsort([f'{r["subject"]}/{r["sequence"]}/{int(r["frame"]):08d}' for r in rows],
                     kind='stable')
  rows = [rows[i] for i in order]
  out = {k: np.stack([np.asarray(r[k]) for r in rows]) for k in
         ('images', 'K', 'R', 't', 'dist', 'box', 'pose_3d', 'frame')}
  for k in ('subject', 'sequence'):
    out[k] = np.array([r[k].decode() if isinstance(r[k], bytes) else str(r[k]) for r in rows])
  out['view_valid'] = np.ones(out['K'].shape[:2], bool)
  out['has_pose_3d'] = np.ones(len(rows), bool)
  return reader.split_dict(out, where=where, dist_model=builder.dist_model)
