"""One data-source interface: every dataset, rendered or real, opens into the same object.

  source = open_source(config.data, data_dir, image_size=S)
  source.name, source.camera_names, source.dist_model
  d = source.split('labeled')

A split is a dict of per-frame arrays with a leading frame axis N::

  images        [N, V, S, S, 3] uint8 RGB (in memory, or decoded on access for real data;
                                   absent from the 2D-only kind h36m_2d)
  cams          Camera with leaves [N, V, ...]: the input crops' cameras (mm, px; h36m_2d: the
                                   full images')
  view_valid    [N, V] bool        False where a camera has no image (it borrows another's camera)
  pose_3d       [N, J, 3]          world joints (mm, Human3.6M-17); zeros where has_pose_3d is False
  has_pose_3d   [N] bool
  box           [N, V, 4]          crop box in the full image (px)
  subject, sequence [N] str; frame [N] int; real data also keypoints_2d [N, V, J, 3] (crop px,
  score) and index [N]; h36m_2d keypoints_2d, gt_2d and action (no box)

Dataset kinds (field ``dataset`` of a data config, configs/default.py): ``rendered``
(:mod:`mvssl.data.multiview`), ``human36m``, ``mpi_inf_3dhp`` and ``recording`` (real data:
their adapters through :mod:`mvssl.data.builder`), ``h36m_2d`` (2D-3D pairs for lifting models,
no images: :mod:`mvssl.data.motion2d`). Adapters differ only in how they read files;
nothing above this module asks which dataset it has. :class:`ExperimentData` puts the splits of
an experiment together (labeled and test from one dataset, unlabeled from the same or another).
"""

from __future__ import annotations


import numpy as np

from mvssl.data import arrays
from mvssl.data import builder
from mvssl.data import human36m
from mvssl.data import motion2d
from mvssl.data import mpi_inf_3dhp
from mvssl.data import multiview
from mvssl.data import recording
from mvssl.data import validation

SPLITS = ('labeled', 'validation', 'unlabeled', 'test')


def _rendered(cfg, data_dir, image_size):
  built = multiview.build(cfg, cfg.data_dir or data_dir, image_size=image_size)
  return built, built.builder_config.name


def _real(adapter_fn):
  def open_(cfg, data_dir, image_size):
    if not cfg.manual_dir:
      raise ValueError(f'dataset {cfg.dataset!r}: field manual_dir is empty; set it to the folder '
                       f'holding the downloaded files (README, section "Real datasets")')
    built = builder.build(adapter_fn(cfg), cfg.data_dir or data_dir, image_size=image_size,
                          box_scale=cfg.box_scale, undistort=cfg.undistort,
                          num_workers=cfg.num_workers)
    return built, built.builder_config.name
  return open_


def _motion2d(cfg, data_dir, image_size):
  del data_dir, image_size            # nothing to build: projected from the motion on loading
  built = motion2d.Motion2D(cfg)
  return built, built.name


# kind -> open(data config, data_dir, image_size) -> (object with load_split, camera_names,
# dist_model; build name)
OPENERS = dict(rendered=_rendered, human36m=_real(human36m.adapter),
               mpi_inf_3dhp=_real(mpi_inf_3dhp.adapter), recording=_real(recording.adapter),
               h36m_2d=_motion2d)


def check_kind(data_cfg, field: str = 'config.data') -> None:
  """Raises ValueError naming ``field`` when its ``dataset`` is not a known kind."""
  if data_cfg.dataset not in OPENERS:
    raise ValueError(f'{field}.dataset must be one of {sorted(OPENERS)}, '
                     f'got {data_cfg.dataset!r}')


class Source:
  """An opened (built) dataset: its name, cameras, lens model and splits (loaded once each)."""

  def __init__(self, built, name: str, num_threads: int = 4):
    self.builder, self.num_threads = built, num_threads
    self.name = name                                  # hash-stamped build name
    self.camera_names = list(built.camera_names)
    self.dist_model = built.dist_model
    self._splits = {}

  def split(self, name: str) -> dict:
    """The split ``name`` (module docstring), read on first use."""
    if name not in self._splits:
      self._splits[name] = self.builder.load_split(name, num_threads=self.num_threads)
    return self._splits[name]


def open_source(data_cfg, data_dir: str, *, image_size: int, num_threads: int = 4) -> Source:
  """Builds (or reuses the build of) the dataset a data config names and opens it.

  Args:
    data_cfg: a data config (configs/default.py: rendered_data, human36m_data, ...).
    data_dir: TFDS data_dir (``data_cfg.data_dir`` wins when set).
    image_size: S, side of the network input crops (px).
    num_threads: image decoding threads of real splits.
  Raises:
    ValueError: for an unknown kind or a real dataset without ``manual_dir``.
  """
  check_kind(data_cfg)
  built, name = OPENERS[data_cfg.dataset](data_cfg, data_dir, image_size)
  return Source(built, name, num_threads)


class ExperimentData:
  """The splits of an experiment: labeled, validation and test from ``data_cfg``, unlabeled from
  ``unlabeled_cfg`` when given (e.g. a user's recording next to Human3.6M), else ``data_cfg``.

  The validation split is whole sequences of the labeled subjects held out of the labeled split
  (``validation_share``, ``validation_seed``: :mod:`mvssl.data.validation`); with a share of 0
  the labeled split is the dataset's whole labeled split and there is no validation split.
  Sources open lazily (the first split asked for builds its dataset). A separate unlabeled
  dataset must share the labeled data's lens model, or be pinhole (undistorted crops).
  """

  def __init__(self, data_cfg, unlabeled_cfg, data_dir: str, *, image_size: int,
               num_threads: int = 4, validation_share: float = 0.0, validation_seed: int = 0):
    self.cfgs = dict(main=data_cfg, unlabeled=unlabeled_cfg)
    self.data_dir, self.image_size, self.num_threads = data_dir, image_size, num_threads
    self.validation_share, self.validation_seed = float(validation_share), int(validation_seed)
    self._sources = {}
    self._held = {}

  def source(self, which: str = 'main') -> Source:
    """'main' (labeled, test) or 'unlabeled' (the same object when there is no second dataset)."""
    if which == 'unlabeled' and self.cfgs['unlabeled'] is None:
      which = 'main'
    if which not in self._sources:
      self._sources[which] = open_source(self.cfgs[which], self.data_dir,
                                         image_size=self.image_size,
                                         num_threads=self.num_threads)
    return self._sources[which]

  @property
  def camera_names(self) -> list[str]:
    return self.source().camera_names

  @property
  def separate_unlabeled(self) -> bool:
    return self.cfgs['unlabeled'] is not None

  def _labeled(self, name: str) -> dict:
    """'labeled' or 'validation': the dataset's labeled split without / with only the held-out
    sequences (the whole labeled split when the share is 0)."""
    full = self.source().split('labeled')
    if not self.validation_share:
      if name == 'validation':
        raise ValueError('there is no validation split: config.validation.share is 0; set it '
                         '> 0 (e.g. 0.2) to hold out a share of the labeled sequences')
      return full
    if name not in self._held:
      held = validation.mask(full['subject'], full['sequence'], self.validation_share,
                             self.validation_seed)
      if not held.any():
        raise ValueError(f'config.validation.share={self.validation_share}: no labeled sequence '
                         f'held out (every labeled subject of {self.source().name} has a single '
                         f'sequence); set config.validation.share=0')
      self._held = dict(labeled=arrays.take(full, np.flatnonzero(~held)),
                        validation=arrays.take(full, np.flatnonzero(held)))
    return self._held[name]

  def split(self, name: str) -> dict:
    """A split by name (:data:`SPLITS`), lens model matched to the labeled data.

    Raises:
      ValueError: for an unknown split, 'validation' without a validation share, or an
        unlabeled dataset with another lens model.
    """
    if name not in SPLITS:
      raise ValueError(f'unknown split {name!r} (expected one of {SPLITS})')
    src = self.source('unlabeled' if name == 'unlabeled' else 'main')
    d = self._labeled(name) if name in ('labeled', 'validation') else src.split(name)
    want = self.source().dist_model
    if d['cams'].dist_model != want:
      if np.any(np.asarray(d['cams'].dist) != 0):
        raise ValueError(f'split {name!r} ({src.name}) uses the {d["cams"].dist_model!r} lens '
                         f'model but the labeled data uses {want!r}; build it with '
                         f'undistort=True (field undistort of its data config)')
      d = dict(d, cams=d['cams'].replace(dist_model=want))   # pinhole either way
    return d
