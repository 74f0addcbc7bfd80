"""Real calibrated multi-view recordings as TFDS ``array_record`` datasets.

One builder, :class:`CalibratedMultiview`, turns the frames that a dataset *adapter* yields
(:mod:`mvssl.data.frames`; Human3.6M, MPI-INF-3DHP or a user's own recording) into
network-ready square crops with their exact cameras (:mod:`mvssl.data.crop`). One example is one
synchronised frame with V views::

  images        [V] bytes           JPEG-encoded S x S RGB crops (black for a missing view),
                                    decoded by the input pipeline's worker threads (OpenCV)
  K, R, t, dist [V, ...]            crop cameras: K in crop px, world->camera R and t (mm),
                                    dist (k1, k2, k3, p1, p2) of the lens model named in the
                                    builder's settings (zeros when the crops are undistorted)
  box           [V, 4]              crop box (x0, y0, w, h) in the full image (px)
  view_valid    [V] bool            False where a camera has no image for this frame, or
                                    nothing places its crop (no box, 3D pose or detections);
                                    a frame with no valid view is skipped with a warning
  pose_3d       [J, 3]              world joints (mm), Human3.6M-17 order; zeros if none
  has_pose_3d   bool                whether pose_3d is a label
  keypoints_2d  [V, J, 3]           2D detections mapped into the crop (x px, y px, score);
                                    zeros where none were given
  subject, sequence (text), frame (int)

TFDS writes into an ``incomplete.*`` folder and renames it only when every split is written, so
an interrupted build never passes for a complete one. The builder's config name is a hash of the
adapter's settings and the crop settings: a changed setting never reuses an old build.
:mod:`mvssl.data.reader` reads a build back.
"""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import json
import logging
import os
import shutil

import jax
import numpy as np
import tensorflow_datasets as tfds
from jax.experimental import multihost_utils

from mvssl.data import crop as crop_lib
from mvssl.data import reader
from mvssl.data.frames import NUM_JOINTS, Adapter


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
                         jpeg_quality=crop_lib.JPEG_QUALITY, cameras=list(adapter.camera_names),
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

  def load_split(self, split: str, num_threads: int = 4) -> dict:
    """The split as :func:`mvssl.data.reader.load_split` reads it."""
    return reader.load_split(self, split, num_threads=num_threads)

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
    n, views, masked, skipped = 0, 0, 0, []

    def process(fr):
      try:
        return crop_lib.process_frame(fr, **work)
      except crop_lib.NoUsableView as e:
        return e

    # Decoding and warping run in threads (OpenCV releases the GIL); bounded look-ahead.
    with concurrent.futures.ThreadPoolExecutor(self.num_workers) as pool:
      while True:
        chunk = [fr for _, fr in zip(range(4 * self.num_workers), frames)]
        if not chunk:
          break
        for fr, ex in zip(chunk, pool.map(process, chunk)):
          if isinstance(ex, crop_lib.NoUsableView):
            skipped.append(str(ex))
            continue
          n += 1
          views += len(ex['view_valid'])
          masked += int(np.sum(~ex['view_valid']))
          yield f'{fr.subject}/{fr.sequence}/{fr.frame}', ex
    if masked:
      logging.getLogger('mvssl').warning(
          '%s split %r: %d of %d views masked (no image, or nothing to place the crop: no box, '
          'no 3D pose, < 2 detections)', self.adapter.name, split, masked, views)
    if skipped:
      logging.getLogger('mvssl').warning(
          '%s split %r: %d frame(s) skipped, no view with an image and a crop box (first: %s)',
          self.adapter.name, split, len(skipped), skipped[0])
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


def remove_incomplete(data_dir: str) -> list[str]:
  """Removes the ``incomplete.*`` folders an interrupted build of this dataset left beside its
  version folder ``data_dir`` (TFDS renames the folder only when the build is complete, so they
  hold nothing finished). Called by process 0 just before it builds. Returns what it removed."""
  parent = os.path.dirname(os.path.normpath(data_dir))
  gone = sorted(glob.glob(os.path.join(parent, 'incomplete.*')))
  for path in gone:
    logging.info('Removing %s (left by an interrupted build)', path)
    shutil.rmtree(path, ignore_errors=True)
  return gone


def prepare(make):
  """``make()`` -> a TFDS builder, built if needed. With several processes (multi-host), only
  process 0 builds while the others wait at a barrier, then every process opens the finished
  build (the data_dir must be shared)."""
  b = make()
  if jax.process_index() == 0:
    if b.is_prepared():
      logging.info('Reusing dataset %s at %s', b.info.full_name, b.data_dir)
    else:
      remove_incomplete(b.data_dir)
      logging.info('Building dataset %s at %s', b.info.full_name, b.data_dir)
      b.download_and_prepare()
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(f'mvssl dataset {b.info.full_name}')
    if jax.process_index() != 0:
      b = make()     # opened anew: one made before process 0's build holds no splits
      if not b.is_prepared():
        raise FileNotFoundError(f'{b.data_dir}: process 0 built the dataset but process '
                                f'{jax.process_index()} does not see it; data_dir must be a '
                                f'folder every host shares')
  return b
