"""Data parallelism with pmap's programming model: per-device code, a named axis 'data', explicit
collectives (``lax.pmean``), compiled either as ``jit(shard_map(...))`` over a 1-D mesh (default)
or under ``jax.pmap`` (``config.parallel='pmap'``). Both wrappers take and return *global* values
(state replicated, batch split along its leading axis), so callers never see a device axis.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = 'data'


def make_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
  """1-D mesh over ``num_devices`` (default all) devices with axis name 'data'."""
  n = num_devices or jax.device_count()
  return jax.make_mesh((n,), (AXIS,), devices=jax.devices()[:n])


def data_parallel(step_fn, mesh, *, parallel: str = 'shard_map', donate_state: bool = True):
  """Compiles a per-device ``step_fn(state, batch) -> (state, metrics)``.

  Inside ``step_fn`` the axis 'data' is bound: use ``lax.pmean(x, 'data')`` for gradients and
  metrics and ``lax.axis_index('data')`` for per-device randomness.

  Args:
    step_fn: per-device step; state replicated, batch the device's shard.
    mesh: from :func:`make_mesh`.
    parallel: 'shard_map' (jit of shard_map) or 'pmap'.
    donate_state: donate the input state buffers.
  Returns:
    f(state, batch) -> (state, metrics) on global values; the batch's leading axis must be
    divisible by the number of devices.
  Raises:
    ValueError: for an unknown ``parallel``.
  """
  if parallel == 'shard_map':
    # check_vma=False gives pmap's semantics: per-device gradients of the replicated state, which
    # step_fn averages itself with lax.pmean. (With varying-axis checking on, JAX would instead
    # insert an implicit psum into the gradient of every replicated input.)
    mapped = jax.shard_map(step_fn, mesh=mesh, in_specs=(P(), P(AXIS)), out_specs=(P(), P()),
                           check_vma=False)
    return jax.jit(mapped, donate_argnums=(0,) if donate_state else ())
  if parallel == 'pmap':
    devices = list(mesh.devices.flat)
    n = len(devices)
    pmapped = jax.pmap(step_fn, axis_name=AXIS, devices=devices,
                       donate_argnums=(0,) if donate_state else ())

    def run(state, batch):
      # pmap places its inputs itself: hand it host arrays with a leading device axis.
      state, batch = jax.device_get((state, batch))
      rep = jax.tree.map(lambda x: np.broadcast_to(x, (n,) + np.shape(x)), state)
      split = jax.tree.map(lambda x: x.reshape((n, x.shape[0] // n) + x.shape[1:]), batch)
      new_state, metrics = pmapped(rep, split)
      return jax.tree.map(lambda x: x[0], (new_state, metrics))
    return run
  raise ValueError(f'config.parallel must be "shard_map" or "pmap", got {parallel!r}')


def shard_batch(batch, mesh):
  """Host numpy batch -> global arrays split along the leading axis over 'data'."""
  sharding = NamedSharding(mesh, P(AXIS))
  def put(x):
    x = np.asarray(x)
    if x.shape[0] % mesh.size:
      raise ValueError(f'batch dimension {x.shape[0]} is not divisible by {mesh.size} devices')
    return jax.make_array_from_process_local_data(sharding, x)
  return jax.tree.map(put, batch)


def replicate(tree, mesh):
  """A copy of a pytree, replicated on every device of the mesh.

  Always a copy (``may_alias=False``): the train step donates its state, and donation must not
  delete arrays the caller still holds (e.g. the Base parameters a fine-tune starts from).
  """
  return jax.device_put(tree, NamedSharding(mesh, P()), may_alias=False)
