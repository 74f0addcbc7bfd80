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


def make_optimizer(cfg) -> optax.GradientTransformation:
  """Adam with linear warm-up and cosine decay, global-norm clipping (cfg: lr, steps, warmup)."""
  sched = optax.warmup_cosine_decay_schedule(0.0, cfg.lr, max(1, cfg.warmup),
                                             max(cfg.steps, cfg.warmup + 1), cfg.lr * 0.02)
  return optax.chain(optax.clip_by_global_norm(cfg.get('clip', 10.0)),
                     optax.adamw(sched, weight_decay=cfg.get('weight_decay', 1e-4)))
