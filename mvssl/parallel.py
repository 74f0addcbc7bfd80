"""Data parallelism with pmap's programming model: per-device code, a named axis 'data', explicit
collectives (``lax.pmean``), compiled either as ``jit(shard_map(...))`` over a 1-D mesh (default)
or under ``jax.pmap`` (``config.parallel='pmap'``).

:class:`DataParallel` holds the compiled step and the layout of its state: callers put the state
on the devices once (:meth:`DataParallel.put_state`), step it, and read it back as a global
replicated pytree (:meth:`DataParallel.get_state`) only to checkpoint or return it; neither mode
copies the state to the host between steps.
"""

from __future__ import annotations

import glob
import logging
import shutil

import jax
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

AXIS = 'data'
MODES = ('shard_map', 'pmap')


def make_mesh(num_devices: int = 0) -> jax.sharding.Mesh:
  """1-D mesh over ``num_devices`` (0: all) devices with axis name 'data'."""
  n = num_devices or jax.device_count()
  return jax.make_mesh((n,), (AXIS,), devices=jax.devices()[:n])


def is_main_process() -> bool:
  """True on process 0, the only one that writes reports, plots, metrics files and P-GT."""
  return jax.process_index() == 0


# accelerator kind -> how its presence shows on a Linux host, and the install that makes JAX use it
ACCELERATORS = dict(
    gpu=(lambda: bool(shutil.which('nvidia-smi') or glob.glob('/dev/nvidia[0-9]*')),
         'pip install -e .[cuda]'),
    tpu=(lambda: bool(glob.glob('/dev/accel[0-9]*')),
         'pip install -e .[tpu]'))


def check_devices(log: logging.Logger | None = None) -> list[str]:
  """Logs the JAX backend, devices and processes; warns for each accelerator the host has that
  JAX does not run on (e.g. a GPU with the CPU-only jaxlib), naming the install that fixes it.

  Returns:
    The warnings given (one line each).
  """
  log = log or logging.getLogger('mvssl')
  devices, backend = jax.devices(), jax.default_backend()
  log.info('JAX %s, backend %s: %d device(s) (%s) in %d process(es)', jax.__version__, backend,
           len(devices), devices[0].device_kind, jax.process_count())
  warnings = [f'this host has a {kind.upper()} but JAX runs on {backend}: {remedy} (then check '
              f'python -c "import jax; print(jax.devices())")'
              for kind, (present, remedy) in ACCELERATORS.items()
              if backend != kind and present()]
  for w in warnings:
    log.warning(w)
  return warnings


def local_size(mesh) -> int:
  """The mesh's devices in this process (all of them in a single-process run)."""
  return mesh.local_mesh.size


def shard_batch(batch, mesh):
  """This process's numpy batch -> global arrays split along the leading axis over 'data' (with
  several processes, each passes its own rows; the global batch is their concatenation)."""
  sharding = NamedSharding(mesh, P(AXIS))
  n = local_size(mesh)
  def put(x):
    x = np.asarray(x)
    if x.shape[0] % n:
      raise ValueError(f'batch dimension {x.shape[0]} is not divisible by {n} devices')
    return jax.make_array_from_process_local_data(sharding, x)
  # An intended transfer (with several processes JAX counts it as implicit, which a caller's
  # transfer_guard('disallow') around the step would refuse).
  with jax.transfer_guard_host_to_device('allow'):
    return jax.tree.map(put, batch)


def replicate(tree, mesh):
  """A copy of a pytree, replicated on every device of the mesh.

  Always a copy (``may_alias=False``): the train step donates its state, and donation must not
  delete arrays the caller still holds (e.g. the Base parameters a fine-tune starts from).
  With several processes, arrays held by this process alone (e.g. restored from a checkpoint)
  go through the host, since every process holds the same values: CPU backends have no
  cross-host device transfer.
  """
  sharding = NamedSharding(mesh, P())
  multi = jax.process_count() > 1

  def put(x):
    if multi and not (isinstance(x, jax.Array) and not x.is_fully_addressable):
      x = np.asarray(x)
    return jax.device_put(x, sharding, may_alias=False)
  return jax.tree.map(put, tree)


class DataParallel:
  """A per-device ``step_fn(state, batch) -> (state, metrics)`` compiled over the mesh.

  Inside ``step_fn`` the axis 'data' is bound: use ``lax.pmean(x, 'data')`` for gradients and
  metrics and ``lax.axis_index('data')`` for per-device randomness.

  Args:
    step_fn: per-device step; state replicated, batch the device's shard.
    mesh: from :func:`make_mesh`.
    parallel: 'shard_map' (jit of shard_map) or 'pmap'.
    donate_state: donate the input state buffers.
  Raises:
    ValueError: for an unknown ``parallel``.
  """

  def __init__(self, step_fn, mesh, *, parallel: str = 'shard_map', donate_state: bool = True):
    if parallel not in MODES:
      raise ValueError(f'config.parallel must be one of {MODES}, got {parallel!r}')
    self.mesh, self.mode = mesh, parallel
    donate = (0,) if donate_state else ()
    if parallel == 'shard_map':
      # check_vma=False gives pmap's semantics: per-device gradients of the replicated state,
      # which step_fn averages itself with lax.pmean. (With varying-axis checking on, JAX would
      # insert an implicit psum into the gradient of every replicated input.)
      mapped = jax.shard_map(step_fn, mesh=mesh, in_specs=(P(), P(AXIS)),
                             out_specs=(P(), P()), check_vma=False)
      self._step = jax.jit(mapped, donate_argnums=donate)
    else:
      self._step = jax.pmap(step_fn, axis_name=AXIS, devices=list(mesh.devices.flat),
                            donate_argnums=donate)
    self._stacked = NamedSharding(mesh, P(AXIS))
    self._replicated = NamedSharding(mesh, P())

  def put_state(self, state):
    """A device copy of ``state`` in this mode's layout (pmap: a leading device axis)."""
    state = replicate(state, self.mesh)
    return state if self.mode == 'shard_map' else jax.tree.map(self._stack, state)

  def get_state(self, state):
    """The global replicated state (for checkpoints and the caller); no host copy."""
    return state if self.mode == 'shard_map' else jax.tree.map(self._unstack, state)

  def put_batch(self, batch):
    """Host numpy batch (leading axis B, divisible by the device count) -> device batch."""
    if self.mode == 'pmap':
      n = local_size(self.mesh)
      for x in jax.tree.leaves(batch):
        if np.shape(x)[0] % n:
          raise ValueError(f'batch dimension {np.shape(x)[0]} is not divisible by {n} devices')
      batch = jax.tree.map(lambda x: np.asarray(x).reshape((n, -1) + np.shape(x)[1:]), batch)
    return shard_batch(batch, self.mesh)

  def __call__(self, state, batch):
    """One step -> (state in this mode's layout, metrics as global replicated scalars)."""
    state, metrics = self._step(state, batch)
    if self.mode == 'pmap':
      metrics = jax.tree.map(self._unstack, metrics)
    return state, metrics

  def _stack(self, x):
    n = len(x.addressable_shards)
    return jax.make_array_from_single_device_arrays(
        (n,) + x.shape, self._stacked,
        [s.data.reshape((1,) + x.shape) for s in x.addressable_shards])

  def _unstack(self, x):
    return jax.make_array_from_single_device_arrays(
        x.shape[1:], self._replicated, [s.data.reshape(x.shape[1:]) for s in x.addressable_shards])
