"""The one compiled train step, written per device.

Batches are dicts of arrays with a leading frame axis b (the device's shard) and a view axis V::

  images      [b, V, S, S, 3] uint8
  cams        Camera with leaves [b, V, ...] (input-crop cameras: K px, R, t mm, dist)
  view_valid  [b, V] bool     missing views get no loss and no DLT weight
  pose_3d     [b, J, 3]       world mm (GT or P-GT): the families' losses make their targets
                              from it and the (possibly augmented) cameras
  l1_w, mvc_w [b]             per-frame weights of the L1 and MVC terms (the run's data mix)

:func:`make_train_step` wraps a family's loss (:mod:`mvssl.train.families`) into
``step(state, batch) -> (state, metrics)`` with the named axis 'data' bound by
:class:`mvssl.parallel.DataParallel`: gradients, batch-norm statistics (``axis_name`` in the
model) and metrics are averaged with ``lax.pmean``.
"""

from __future__ import annotations

import jax
import optax
from flax import nnx

from mvssl.parallel import AXIS


def make_train_step(loss_fn):
  """Per-device step(state, batch) -> (state, metrics) for ``loss_fn(model, batch)``.

  ``loss_fn`` returns (loss [], aux dict of [] metrics); the step adds 'loss', 'grad_norm' and
  'param_norm' to the metrics.
  """

  def step(state, batch):
    def wrapped(params):
      model = nnx.merge(state.graphdef, params, state.batch_stats, copy=True)
      loss, aux = loss_fn(model, batch)
      return loss, (aux, nnx.state(model, nnx.BatchStat))

    (loss, (aux, batch_stats)), grads = jax.value_and_grad(wrapped, has_aux=True)(state.params)
    grads = jax.lax.pmean(grads, AXIS)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = dict(loss=loss, **aux)
    metrics = jax.lax.pmean(metrics, AXIS)
    metrics['grad_norm'] = optax.global_norm(grads)
    metrics['param_norm'] = optax.global_norm(params)
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    return new_state, metrics

  return step
