"""The one entry point: ``train_and_evaluate(config, workdir)`` checks the config, then runs the
experiment that ``config.experiment`` names (launch.py calls it).

Experiments: ``paper`` (:mod:`mvssl.experiments.paper`, the method and its table),
``pose2sim`` (:mod:`mvssl.experiments.pose2sim`, the real recording without 3D labels) and
``study`` (:mod:`mvssl.experiments.study`, the reproduction study over variants and seeds). Imports
point one way: geometry/ops <- models/losses <- data <- train <- experiments <- main.
"""

from __future__ import annotations

import os

from mvssl import parallel
from mvssl.data import sources
from mvssl.experiments import paper
from mvssl.experiments import pose2sim
from mvssl.experiments import seeds
from mvssl.experiments import study
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
  runs.table(config)
  if config.experiment == 'study':
    study.check(config)


def train_and_evaluate(config, workdir: str):
  """Validates ``config``, writes it to ``workdir/config.json`` (process 0) and runs
  ``config.experiment`` (once per seed of ``config.seeds`` when given, then their aggregate);
  returns what the experiment returns (e.g. the results dict) or the aggregate."""
  validate(config)
  os.makedirs(workdir, exist_ok=True)
  if parallel.is_main_process():
    with open(os.path.join(workdir, 'config.json'), 'w') as f:
      f.write(config.to_json_best_effort(indent=2))
  if config.seeds and config.experiment != 'study':    # the study runs its own seeds
    return seeds.run(config, workdir, EXPERIMENTS[config.experiment])
  return EXPERIMENTS[config.experiment](config, workdir)
