"""The one place that talks to Orbax: a CheckpointManager per training stage under the workdir.

Orbax writes each step into a temporary folder and renames it when complete, so a crash never
corrupts a checkpoint already written; ``LatestN`` keeps the newest few.
"""

from __future__ import annotations

import os

import jax
import orbax.checkpoint as ocp


class Checkpointer:
  """Saves/restores ``TrainState.arrays()`` under ``directory``."""

  def __init__(self, directory: str, *, save_every: int, keep: int = 3):
    os.makedirs(directory, exist_ok=True)
    self.manager = ocp.CheckpointManager(
        os.path.abspath(directory),
        options=ocp.CheckpointManagerOptions(
            save_interval_steps=save_every,
            preservation_policy=ocp.checkpoint_managers.LatestN(keep),
            create=True))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state, *, force: bool = False) -> bool:
    saved = self.manager.save(step, args=ocp.args.StandardSave(state.arrays()), force=force)
    return saved

  def restore(self, state, step: int | None = None):
    """Returns ``state`` with arrays from ``step`` (default latest)."""
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state.arrays())
    restored = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
    return state.with_arrays(restored)

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.close()
