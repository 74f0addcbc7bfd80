"""The one compiled train step, written per device.

Batches are dicts of arrays with a leading frame axis b (the device's shard) and a view axis V::

  images      [b, V, S, S, 3] uint8
  cams        Camera with leaves [b, V, ...] (input-crop cameras: K px, R, t mm, dist)
  view_valid  [b, V] bool     missing views get no loss and no DLT weight
  pose_3d     [b, J, 3]       world mm (GT or P-GT): the families' losses make their targets
                              from it and the (possibly augmented) cameras
  l1_w, mvc_w [b]             per-frame weights of the L1 and MVC terms (the run's data mix)
  keypoints_2d [b, V, J, 3]   instead of images, for 2D-input families (lifting): px, score
  step        []              added by the step: the update's index (e.g. MeTRAbs' warm-up)

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


def make_train_step(loss_fn, *, seed: int = 0, project=None):
  """Per-device step(state, batch) -> (state, metrics) for ``loss_fn(model, batch, rng=key)``.

  ``loss_fn`` returns (loss [], aux dict of [] metrics); the step adds 'loss', 'grad_norm' and
  'param_norm' to the metrics. ``key`` is ``fold_in(fold_in(key(seed), step), device index)``
  (e.g. for dropout). ``project``, when given, maps the parameters after every update (e.g. a
  max-norm constraint).
  """

  def step(state, batch):
    key = jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), state.step),
                             jax.lax.axis_index(AXIS))

    def wrapped(params):
      model = nnx.merge(state.graphdef, params, state.batch_stats, copy=True)
      loss, aux = loss_fn(model, dict(batch, step=state.step), rng=key)
      return loss, (aux, nnx.state(model, nnx.BatchStat))

    (loss, (aux, batch_stats)), grads = jax.value_and_grad(wrapped, has_aux=True)(state.params)
    grads = jax.lax.pmean(grads, AXIS)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    if project is not None:
      params = project(params)
    metrics = dict(loss=loss, **aux)
    metrics = jax.lax.pmean(metrics, AXIS)
    metrics['grad_norm'] = optax.global_norm(grads)
    metrics['param_norm'] = optax.global_norm(params)
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    return new_state, metrics

  return step
