"""The one place that talks to Orbax: a CheckpointManager per training stage under the workdir.

Orbax writes each step into a temporary folder and renames it when complete, so a crash never
corrupts a checkpoint already written; ``LatestN`` keeps the newest few.
"""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Saves/restores ``TrainState.arrays()`` (item ``default``) and the input iterator state
  (item ``data_iterator``, JSON) under ``directory``."""

  def __init__(self, directory: str, *, save_every: int, keep: int = 3):
    os.makedirs(directory, exist_ok=True)
    self.manager = ocp.CheckpointManager(
        os.path.abspath(directory), item_names=('default', 'data_iterator'),
        options=ocp.CheckpointManagerOptions(
            save_interval_steps=save_every,
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            create=True))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state, *, force: bool = False, data_state: dict | None = None) -> bool:
    """Saves the state's arrays and, when given, the input iterator's state (JSON)."""
    items = dict(default=ocp.args.StandardSave(state.arrays()))
    if data_state is not None:
      items['data_iterator'] = ocp.args.JsonSave(data_state)
    return self.manager.save(step, args=ocp.args.Composite(**items), force=force)

  def restore(self, state, step: int | None = None):
    """Returns ``state`` with arrays from ``step`` (default latest)."""
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state.arrays())
    restored = self.manager.restore(
        step, args=ocp.args.Composite(default=ocp.args.StandardRestore(abstract)))
    return state.with_arrays(restored['default'])

  def restore_data_state(self, step: int | None = None) -> dict | None:
    """The input iterator state saved with ``step`` (default latest), or None if none was."""
    step = self.latest_step() if step is None else step
    if step is None:
      return None
    path = os.path.join(self.manager.directory, str(step), 'data_iterator')
    if not os.path.exists(path):
      return None
    return self.manager.restore(
        step, args=ocp.args.Composite(data_iterator=ocp.args.JsonRestore()))['data_iterator']

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.close()
