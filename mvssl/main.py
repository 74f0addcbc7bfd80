"""The one entry point: ``train_and_evaluate(config, workdir)`` checks the config, then runs the
experiment that ``config.experiment`` names (launch.py calls it).

Experiments: ``paper`` (:mod:`mvssl.experiments.paper`, the method and its table),
``pose2sim`` (:mod:`mvssl.experiments.pose2sim`, the real recording without 3D labels) and
``study`` (:mod:`mvssl.experiments.study`, the reproduction study over variants and seeds). Imports
point one way: geometry/ops <- models/losses <- data <- train <- experiments <- main.
"""

from __future__ import annotations

import logging
import os

from mvssl import parallel
from mvssl.data import sources
from mvssl.experiments import paper
from mvssl.experiments import pose2sim
from mvssl.experiments import seeds
from mvssl.experiments import study
from mvssl.models import pose_net
from mvssl.models import resnet
from mvssl.models import torchvision_weights
from mvssl.train import context
from mvssl.train import runs
from mvssl.train import stages
from mvssl.train import state

EXPERIMENTS = dict(paper=paper.run, pose2sim=pose2sim.run, study=study.run)


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
  _one_of('config.pseudo_label.source', config.pseudo_label.source, stages.PGT_SOURCES)
  sources.check_kind(config.data)
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
  runs.table(config)
  if config.experiment == 'study':
    study.check(config)


def record_config(config, workdir: str) -> str | None:
  """Writes the config to ``workdir/config.json`` when it differs from the one there, keeping
  the earlier one as ``config.<n>.json`` (a re-run with the same config touches nothing; a
  read-only finished workdir can still be evaluated: then only a warning).

  Returns:
    The path the earlier config was moved to, or None.
  """
  path = os.path.join(workdir, 'config.json')
  text = config.to_json_best_effort(indent=2)
  try:
    if os.path.exists(path):
      with open(path) as f:
        if f.read() == text:
          return None
      n = 1
      while os.path.exists(os.path.join(workdir, f'config.{n}.json')):
        n += 1
      kept = os.path.join(workdir, f'config.{n}.json')
      os.replace(path, kept)
    else:
      kept = None
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
      f.write(text)
    os.replace(tmp, path)
    return kept
  except OSError as e:
    logging.getLogger('mvssl').warning('could not record the config in %s (%s); going on',
                                       path, e.strerror or e)
    return None


def train_and_evaluate(config, workdir: str):
  """Validates ``config``, records it in ``workdir/config.json`` (process 0,
  :func:`record_config`) and runs
  ``config.experiment`` (once per seed of ``config.seeds`` when given, then their aggregate);
  returns what the experiment returns (e.g. the results dict) or the aggregate."""
  validate(config)
  parallel.check_devices()
  os.makedirs(workdir, exist_ok=True)
  if parallel.is_main_process():
    record_config(config, workdir)
  if config.seeds and config.experiment != 'study':    # the study runs its own seeds
    return seeds.run(config, workdir, EXPERIMENTS[config.experiment])
  return EXPERIMENTS[config.experiment](config, workdir)
