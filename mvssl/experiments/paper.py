"""The paper's experiment (``config.experiment='paper'``): the run table trained in dependency
order, the P-GT made when a run first needs it, then the per-camera evaluation.

``config.stage``: ``all`` (default), ``build``, ``pseudo_label``, ``evaluate``, or the name of a
run of ``config.runs`` (trains that run alone; its ``init_from`` run and, for a P-GT run, G must
be finished).
"""

from __future__ import annotations

from mvssl.train import evaluate
from mvssl.train import stages
from mvssl.train.context import Context

STAGES = dict(build=stages.build, pseudo_label=stages.pseudo_label, evaluate=evaluate.evaluate)


def stage_names(config) -> list[str]:
  """Every value ``config.stage`` may take in this experiment."""
  return ['all'] + sorted(STAGES) + sorted(config.runs)


def run(config, workdir: str):
  """Runs ``config.stage`` in ``workdir`` (resuming whatever it holds)."""
  ctx = Context(config, workdir)
  if config.stage == 'all':
    stages.build(ctx)                 # what each split holds, and samples/<split>.png
    for r in ctx.runs.values():
      stages.train(ctx, r.name)       # a P-GT run makes the P-GT first (stages.pseudo_label)
    return evaluate.evaluate(ctx)
  if config.stage in STAGES:
    return STAGES[config.stage](ctx)
  return stages.train(ctx, config.stage)
