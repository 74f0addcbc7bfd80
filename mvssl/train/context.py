"""What the stages of an experiment share: config, workdir, mesh, codec, data and the run table."""

from __future__ import annotations

import functools
import json
import logging
import os

from mvssl import parallel
from mvssl.data import augment
from mvssl.data import crowd
from mvssl.data import input_pipeline
from mvssl.data import sources
from mvssl.data import truncate
from mvssl.models import torchvision_weights
from mvssl.train import checkpointing
from mvssl.train import families
from mvssl.train import loop
from mvssl.train import runs as runs_lib
from mvssl.train import state as state_lib

log = logging.getLogger('mvssl')

AUGMENTS = ('none', 'colour', 'geometric')


class Context:
  """The shared state of one experiment in one workdir.

  Attributes:
    config, workdir: as given.
    mesh: the data-parallel mesh (``config.num_devices``, 0 = all).
    runs: the validated run table (:func:`mvssl.train.runs.table`), in dependency order.
    data: the experiment's splits (:class:`mvssl.data.sources.ExperimentData`), opened lazily.
    pgt: the P-GT once :func:`mvssl.train.stages.pseudo_label` has made or read it.
    pgt_ungated: the same without the robust gate (``pseudo_label(ctx, gated=False)``).
  """

  def __init__(self, config, workdir: str):
    self.config, self.workdir = config, workdir
    self.mesh = parallel.make_mesh(config.num_devices)
    self.runs = runs_lib.table(config)
    self.data = sources.ExperimentData(config.data, config.unlabeled_data,
                                       os.path.join(workdir, 'data'),
                                       image_size=config.model.image_size,
                                       num_threads=config.input.num_threads,
                                       validation_share=config.validation.share,
                                       validation_seed=config.validation.seed)
    self.pgt = self.pgt_ungated = None
    self._truncated = {}

  def split(self, name: str) -> dict:
    """A split of the experiment's data (:class:`mvssl.data.sources.ExperimentData`); 'S@MODE'
    is split S with truncated crops (:mod:`mvssl.data.truncate`, config.truncation.fraction),
    'S@crowd' its multi-person scenes (:mod:`mvssl.data.crowd`, config.crowd)."""
    if '@' in name:
      base, mode = name.split('@', 1)
      if name not in self._truncated:
        if mode == 'crowd':
          c = self.config.crowd
          self._truncated[name] = crowd.crowd_split(
              self.data.split(base), int(c.people), tuple(c.spacing_mm), int(c.every),
              float(self.config.data.box_scale), int(c.seed),
              str(self.config.data.shading))
        else:
          self._truncated[name] = truncate.truncate_split(
              self.data.split(base), mode, float(self.config.truncation.fraction))
      return self._truncated[name]
    return self.data.split(name)

  def split_settings(self, name: str) -> str:
    """What a made split ('S@MODE') depends on beyond split S, as text ('' for a plain split):
    stored predictions of a made split are reused only under the same settings."""
    if '@' not in name:
      return ''
    mode = name.split('@', 1)[1]
    if mode == 'crowd':
      return 'crowd:' + json.dumps(self.config.crowd.to_dict(), sort_keys=True) + \
          f':box_scale={float(self.config.data.box_scale)}' + \
          f':shading={self.config.data.shading}'
    return f'{mode}:fraction={float(self.config.truncation.fraction)!r}'

  def schedule(self, run: runs_lib.Run):
    return self.config.schedules[run.schedule]

  def codec(self, run: runs_lib.Run):
    """The codec of the run's family for ``config.model`` (e.g. the heatmap codec, eq. 4-8)."""
    return families.FAMILIES[run.family].codec(self.config.model)

  def pgt_path(self, gated: bool = True) -> str:
    """P-GT file: pgt/pgt.npz, or pgt/pgt_<dataset build>.npz for a separate unlabeled dataset;
    ``gated=False``: the P-GT without the robust gate, pgt/pgt[_<build>]_ungated.npz."""
    name = 'pgt' if not self.data.separate_unlabeled else \
        f'pgt_{self.data.source("unlabeled").name}'
    return os.path.join(self.workdir, 'pgt', name + ('' if gated else '_ungated') + '.npz')

  def new_state(self, run: runs_lib.Run, pretrained: bool = False) -> state_lib.TrainState:
    """A freshly initialised state of the run's network (seed config.seed + run.init_seed); with
    ``pretrained``, its trunk loaded from ``config.model.init_from`` when that is set (a restore's
    template never reads it, so a finished run evaluates without the ImageNet file)."""
    model = families.FAMILIES[run.family].build(self.config.model, axis_name=parallel.AXIS,
                                                seed=self.config.seed + run.init_seed)
    if pretrained and torchvision_weights.init_from(model, self.config.model.init_from):
      log.info('[%s] trunk initialised from %s', run.name, self.config.model.init_from)
    return state_lib.TrainState.create(
        model, state_lib.make_optimizer(self.config.optimizer, self.schedule(run)))

  def finished(self, name: str) -> bool:
    """Whether run ``name`` has a checkpoint at its last step."""
    ckpt = checkpointing.Checkpointer(os.path.join(self.workdir, 'checkpoints', name),
                                      save_every=1)
    try:
      return (ckpt.latest_step() or 0) >= self.schedule(self.runs[name]).steps
    finally:
      ckpt.close()

  def restore(self, name: str) -> state_lib.TrainState:
    """The finished run ``name``, or a clear error naming the stage to run first.

    Raises:
      FileNotFoundError: when the run has no checkpoint at its last step.
      ValueError: when that checkpoint is damaged: it is set aside (kept as ``damaged.<step>``),
        so that the next command resumes the run from its previous checkpoint.
    """
    run = self.runs[name]
    steps = self.schedule(run).steps
    directory = os.path.join(self.workdir, 'checkpoints', name)
    ckpt = checkpointing.Checkpointer(directory, save_every=1)
    try:
      step = ckpt.latest_step()
      if step is None or step < steps:
        raise FileNotFoundError(f'{directory}: no finished checkpoint (step {step} of {steps}); '
                                f'run --config.stage={name} first')
      try:
        return ckpt.restore(self.new_state(run), step)
      except checkpointing.DamagedCheckpoint as e:
        moved = ckpt.set_aside(step)
        raise ValueError(f'{e}; kept as {moved}; run the same command again: {name} resumes '
                         f'from step {ckpt.latest_step() or 0}') from None
    finally:
      ckpt.close()

  def augment_fn(self):
    """Per-example augmentation from ``config.input`` (None when switched off)."""
    cfg = self.config.input
    if cfg.augment == 'none':
      return None
    if cfg.augment == 'colour':
      return input_pipeline.colour_jitter
    return functools.partial(augment.augment_frame, scale=tuple(cfg.scale),
                             rotation_deg=float(cfg.rotation_deg),
                             flip_prob=float(cfg.flip_prob), shift=float(cfg.shift))

  def train(self, run: runs_lib.Run, state, loss_fn, arrays) -> state_lib.TrainState:
    """:func:`mvssl.train.loop.train_loop` of ``run`` with the config's loop settings."""
    c = self.config
    project = families.FAMILIES[run.family].project
    return loop.train_loop(
        run.name, state, loss_fn, arrays, self.schedule(run), workdir=self.workdir,
        mesh=self.mesh, parallel_mode=c.parallel, seed=c.seed, log_every=c.log_every,
        save_every=c.save_every, augment_fn=self.augment_fn(),
        num_threads=c.input.num_threads, prefetch=c.input.prefetch,
        project=project(c.model) if project else None,
        lr_fn=state_lib.learning_rate(c.optimizer, self.schedule(run)))
