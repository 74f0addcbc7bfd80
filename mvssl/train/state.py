"""Training state: a pytree of arrays (step, params, batch_stats, opt_state); the NNX graph
definition and the optax transformation stay outside, as static fields."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
import optax
from flax import nnx


@flax.struct.dataclass
class TrainState:
  """step [] int32; params / batch_stats nnx.State of the model; opt_state optax state."""
  step: jax.Array
  params: Any
  batch_stats: Any
  opt_state: Any
  graphdef: Any = flax.struct.field(pytree_node=False)
  tx: Any = flax.struct.field(pytree_node=False)

  @classmethod
  def create(cls, model: nnx.Module, tx: optax.GradientTransformation) -> 'TrainState':
    graphdef, params, batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    return cls(step=jnp.zeros((), jnp.int32), params=params, batch_stats=batch_stats,
               opt_state=tx.init(params), graphdef=graphdef, tx=tx)

  def model(self) -> nnx.Module:
    """The NNX module with this state's parameters (for evaluation)."""
    return nnx.merge(self.graphdef, self.params, self.batch_stats)

  def arrays(self) -> dict:
    """The checkpointed part, as a plain dict of pytrees."""
    return dict(step=self.step, params=self.params, batch_stats=self.batch_stats,
                opt_state=self.opt_state)

  def with_arrays(self, d: dict) -> 'TrainState':
    return self.replace(**d)


OPTIMIZERS = ('adam', 'adamw')
DECAYS = ('cosine', 'exponential')


def learning_rate(opt_cfg, schedule):
  """The learning rate per step: linear warm-up to ``lr`` over ``warmup`` steps, then cosine
  decay to ``lr * final_lr_fraction`` at ``steps`` ('cosine'), or ``lr * decay_rate **
  (step / decay_steps)`` (``decay='exponential'``, Martinez et al.'s).

  Raises:
    ValueError: for an unknown decay.
  """
  if schedule.decay not in DECAYS:
    raise ValueError(f'schedule decay must be one of {DECAYS}, got {schedule.decay!r}')
  if schedule.decay == 'exponential':
    return optax.join_schedules(
        [optax.linear_schedule(0.0, schedule.lr, max(1, schedule.warmup)),
         optax.exponential_decay(schedule.lr, schedule.decay_steps, schedule.decay_rate)],
        [max(1, schedule.warmup)])
  return optax.warmup_cosine_decay_schedule(
      0.0, schedule.lr, max(1, schedule.warmup), max(schedule.steps, schedule.warmup + 1),
      schedule.lr * opt_cfg.final_lr_fraction)


def make_optimizer(opt_cfg, schedule) -> optax.GradientTransformation:
  """The optimizer of a run: global-norm clipping, then Adam (the paper's) or AdamW, with the
  learning rate of :func:`learning_rate`.

  Args:
    opt_cfg: ``config.optimizer``: name ('adam' | 'adamw'), clip (global norm; 0 = none),
      weight_decay (adamw only), final_lr_fraction (of lr at the last step, cosine decay).
    schedule: a block of ``config.schedules``: lr, steps, warmup, decay (cosine | exponential),
      decay_rate and decay_steps (exponential).
  Raises:
    ValueError: for an unknown optimizer name.
  """
  if opt_cfg.name not in OPTIMIZERS:
    raise ValueError(f'config.optimizer.name must be one of {OPTIMIZERS}, got {opt_cfg.name!r}')
  sched = learning_rate(opt_cfg, schedule)
  opt = (optax.adamw(sched, weight_decay=opt_cfg.weight_decay) if opt_cfg.name == 'adamw'
         else optax.adam(sched))
  clip = clip_apart(opt_cfg.clip) if opt_cfg.clip > 0 else optax.identity()
  return optax.chain(clip, opt)


# Parameters under these attribute names are clipped by their own global norm, apart from the
# rest: heads that learn from held-fixed features (the lifting network's Laplace scale head) and
# must not change how the others are clipped.
APART = ('error_scale',)


def _apart(path) -> bool:
  return any(getattr(k, 'key', getattr(k, 'name', None)) in APART for k in path)


def clip_apart(max_norm: float) -> optax.GradientTransformation:
  """``optax.clip_by_global_norm(max_norm)`` applied separately to the parameters under
  :data:`APART` and to all the others, so that a head trained on held-fixed features leaves the
  others' updates exactly as without it. Without such parameters it is
  ``optax.clip_by_global_norm`` (the same state, the same arithmetic)."""
  inner = optax.clip_by_global_norm(max_norm)

  def update(updates, state, params=None):
    mask = jax.tree_util.tree_map_with_path(lambda p, _: _apart(p), updates)
    if not any(jax.tree.leaves(mask)):
      return inner.update(updates, state, params)
    part = lambda keep: jax.tree.map(                                  # noqa: E731
        lambda u, m: u if m == keep else jnp.zeros_like(u), updates, mask)
    rest, _ = inner.update(part(False), state, params)
    head, _ = inner.update(part(True), state, params)
    return jax.tree.map(lambda m, a, b: b if m else a, mask, rest, head), state

  return optax.GradientTransformation(inner.init, update)
