"""The one entry point: ``train_and_evaluate(config, workdir)`` checks the config, then runs the
experiment that ``config.experiment`` names (launch.py calls it).

Experiments: ``paper`` (:mod:`mvssl.experiments.paper`, the method and its table),
``pose2sim`` (:mod:`mvssl.experiments.pose2sim`, the real recording without 3D labels) and
``study`` (:mod:`mvssl.experiments.study`, the reproduction study over variants and seeds) and
``g_variants`` (:mod:`mvssl.experiments.g_variants`, variants of the multi-view model G). Imports
point one way: geometry/ops <- models/losses <- data <- train <- experiments <- main.
"""

from __future__ import annotations

import os

from mvssl import parallel
from mvssl import provenance
from mvssl.data import crowd
from mvssl.data import render
from mvssl.data import sources
from mvssl.data import truncate
from mvssl.data import validation
from mvssl.experiments import g_variants
from mvssl.experiments import paper
from mvssl.experiments import pose2sim
from mvssl.experiments import seeds
from mvssl.experiments import study
from mvssl.models import g_heads
from mvssl.models import pose_net
from mvssl.models import resnet
from mvssl.models import torchvision_weights
from mvssl.train import context
from mvssl.train import pgt as pgt_lib
from mvssl.train.checkpointing import record_config  # noqa: F401  (main.record_config)
from mvssl.train import runs
from mvssl.train import stages
from mvssl.train import state

EXPERIMENTS = dict(paper=paper.run, pose2sim=pose2sim.run, study=study.run,
                   g_variants=g_variants.run)


def _one_of(field: str, value, allowed) -> None:
  if value not in allowed:
    raise ValueError(f'{field} must be one of {", ".join(map(str, allowed))}; got {value!r}')


def validate(config) -> None:
  """Checks every choice of ``config`` before anything runs (field names are checked when the
  config is parsed: an override of an undeclared field fails there).

  Raises:
    ValueError: one line naming the field, the allowed values and what was given.
  """
  _one_of('config.experiment', config.experiment, sorted(EXPERIMENTS))
  _one_of('config.stage', config.stage, paper.stage_names(config))
  _one_of('config.parallel', config.parallel, parallel.MODES)
  _one_of('config.optimizer.name', config.optimizer.name, state.OPTIMIZERS)
  _one_of('config.input.augment', config.input.augment, context.AUGMENTS)
  if not 0.0 <= float(config.input.shift) < 0.5:
    raise ValueError(f'config.input.shift must be in [0, 0.5) (a fraction of the crop side), '
                     f'got {config.input.shift!r}')
  _one_of('config.pseudo_label.source', config.pseudo_label.source, stages.PGT_SOURCES)
  pgt_lib.check(config.pseudo_label.robust)
  sources.check_kind(config.data)
  validation.check(config.validation.share, config.validation.seed)
  if config.data.dataset == 'rendered':
    render.check_shading(config.data.shading)
  if config.unlabeled_data is not None:
    sources.check_kind(config.unlabeled_data, 'config.unlabeled_data')
  for name, sch in config.schedules.items():
    for field in ('steps', 'batch_size'):
      value = sch[field]
      if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f'config.schedules.{name}.{field} must be a whole number >= 1; '
                         f'got {value!r}')
  size = config.model.image_size
  if not isinstance(size, int) or size < 32 or size % 32:
    raise ValueError(f'config.model.image_size must be a multiple of 32 (the ResNet trunk '
                     f'downsamples by 32 and the deconvolutions upsample by 8, so heatmaps are '
                     f'S/4 only then); got {size!r}, e.g. use {max(32, 32 * round(size / 32))}'
                     if isinstance(size, int) else
                     f'config.model.image_size must be a multiple of 32; got {size!r}')
  _one_of('config.model.padding', config.model.padding, sorted(resnet.PADDINGS))
  _one_of('config.model.dtype', config.model.dtype, sorted(pose_net.DTYPES))
  if config.model.init_from:
    torchvision_weights.parse(config.model.init_from)   # the file is read by fresh runs only
    if config.model.padding != 'torchvision':
      raise ValueError("config.model.init_from loads torchvision weights: set "
                       "config.model.padding='torchvision' (the padding they were trained with)")
  g_heads.check(g_heads.options(config.model.g), num_joints=config.model.num_joints)
  runs.check_pairs(config.pairs, runs.table(config))
  truncate.check(config.truncation.modes, config.truncation.fraction)
  crowd.check(config.crowd.people, config.crowd.spacing_mm, config.crowd.every,
              config.data.dataset)
  if config.experiment == 'study':
    study.check(config)
  if config.experiment == 'g_variants':
    g_variants.check(config)
  if config.experiment == 'pose2sim' and any(len(tuple(p)) != 2 for p in config.pairs):
    raise ValueError('config.pairs: the pose2sim experiment compares (run a, run b) on both its '
                     'metrics (MVC disagreement, distance to the P-GT); give no metric')


def train_and_evaluate(config, workdir: str):
  """Validates ``config``, records it in ``workdir/config.json`` (process 0,
  :func:`mvssl.train.checkpointing.record_config`) and runs
  ``config.experiment`` (once per seed of ``config.seeds`` when given, then their aggregate);
  returns what the experiment returns (e.g. the results dict) or the aggregate."""
  validate(config)
  parallel.check_devices()
  os.makedirs(workdir, exist_ok=True)
  if parallel.is_main_process():
    record_config(config, workdir)
    provenance.record(workdir, config.seeds or (config.seed,))
  if config.seeds and config.experiment not in ('study', 'g_variants', 'pose2sim'):   # own seeds
    return seeds.run(config, workdir, EXPERIMENTS[config.experiment])
  return EXPERIMENTS[config.experiment](config, workdir)
