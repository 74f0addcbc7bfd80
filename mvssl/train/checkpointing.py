"""The one place that talks to Orbax: a CheckpointManager per training stage under the workdir.

Orbax writes each step into a temporary folder and renames it when complete, so a crash never
corrupts a checkpoint already written; ``LatestN`` keeps the newest few.
"""

from __future__ import annotations

import logging
import os

import jax
import orbax.checkpoint as ocp


class DamagedCheckpoint(ValueError):
  """A checkpoint step that is there but cannot be read (a missing or corrupt file)."""


class Checkpointer:
  """Saves/restores ``TrainState.arrays()`` (item ``default``) and the input iterator state
  (item ``data_iterator``, JSON) under ``directory``."""

  def __init__(self, directory: str, *, save_every: int, keep: int = 3):
    os.makedirs(directory, exist_ok=True)
    self.manager = ocp.CheckpointManager(
        os.path.abspath(directory),
        item_handlers=dict(default=ocp.StandardCheckpointHandler(),
                           data_iterator=ocp.JsonCheckpointHandler()),
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
    """Returns ``state`` with arrays from ``step`` (default latest).

    Raises:
      ValueError: one line when the checkpoint holds another model's arrays.
      DamagedCheckpoint: (a ValueError) one line when the step cannot be read.
    """
    step = self.latest_step() if step is None else step
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, state.arrays())
    why = self.mismatch(step, abstract)
    if why:
      raise ValueError(why)
    try:
      restored = self.manager.restore(
          step, args=ocp.args.Composite(default=ocp.args.StandardRestore(abstract)))
    except Exception as e:  # noqa: BLE001 (whatever Orbax raises for a damaged step)
      raise DamagedCheckpoint(f'{self.manager.directory}/{step}: damaged checkpoint '
                              f'({_first_line(e)})') from e
    return state.with_arrays(restored['default'])

  def set_aside(self, step: int) -> str:
    """Renames a damaged step's folder to ``damaged.<step>`` (``.<n>`` added if taken), so the
    previous step becomes the latest; nothing is deleted. Returns the new path."""
    src = os.path.join(str(self.manager.directory), str(step))
    dst, n = os.path.join(str(self.manager.directory), f'damaged.{step}'), 1
    while os.path.exists(dst):
      dst, n = os.path.join(str(self.manager.directory), f'damaged.{step}.{n}'), n + 1
    os.replace(src, dst)
    self.manager.reload()
    return dst

  def mismatch(self, step: int, abstract) -> str | None:
    """One line saying how the arrays saved at ``step`` differ from ``abstract`` (another
    model size or family in the same workdir), or None when they match or the checkpoint's
    metadata cannot be read or lists no arrays (the restore then reports what it finds)."""
    try:
      meta = self.manager.item_metadata(step)['default']
      saved = _shapes(getattr(meta, 'tree', meta))
    except Exception:  # noqa: BLE001 (a diagnosis only: never in the way of the restore)
      return None
    if not saved:        # no array metadata (its _METADATA lost): the restore says it is damaged
      return None
    want = _shapes(abstract)
    diff = [k for k in sorted(set(saved) | set(want)) if saved.get(k) != want.get(k)]
    if not diff:
      return None
    k = diff[0]
    return (f'{self.manager.directory}/{step}: this checkpoint was written by a different model '
            f'({len(diff)} of {len(want)} arrays differ, e.g. {k}: {saved.get(k, "absent")} in '
            f'the checkpoint, {want.get(k, "absent")} now); train into a new --workdir, or run '
            f'with the model settings it was trained with (its config.json)')

  def restore_data_state(self, step: int | None = None) -> dict | None:
    """The input iterator state saved with ``step`` (default latest), or None if none was."""
    step = self.latest_step() if step is None else step
    if step is None:
      return None
    path = os.path.join(self.manager.directory, str(step), 'data_iterator')
    if not os.path.exists(path):
      return None
    try:
      return self.manager.restore(
          step, args=ocp.args.Composite(data_iterator=ocp.args.JsonRestore()))['data_iterator']
    except Exception as e:  # noqa: BLE001 (whatever Orbax raises for a damaged step)
      raise DamagedCheckpoint(f'{self.manager.directory}/{step}: damaged input iterator state '
                              f'({_first_line(e)})') from e

  def wait(self):
    self.manager.wait_until_finished()

  def close(self):
    self.manager.close()


def _first_line(e: Exception) -> str:
  lines = str(e).strip().splitlines()
  return f'{type(e).__name__}: {lines[0] if lines else ""}'[:300]


def _shapes(tree) -> dict:
  """{path: shape} of a tree of arrays, shape structs or Orbax array metadata."""
  def name(path) -> str:
    parts = [str(next((getattr(k, a) for a in ('key', 'name', 'idx') if hasattr(k, a)), k))
             for k in path]
    return '/'.join(parts[:-1] if parts and parts[-1] == 'value' else parts)

  leaves = jax.tree_util.tree_flatten_with_path(tree, is_leaf=lambda x: hasattr(x, 'shape'))[0]
  return {name(p): tuple(x.shape) for p, x in leaves if hasattr(x, 'shape')}


def record_config(config, workdir: str) -> str | None:
  """Writes the config to ``workdir/config.json`` when it differs from the one there, keeping
  the earlier one as ``config.<n>.json`` (a re-run with the same config touches nothing; a
  read-only finished workdir can still be evaluated: then only a warning).

  Returns:
    The path the earlier config was moved to, or None.
  """
  path = os.path.join(workdir, 'config.json')
  text = config.to_json_best_effort(indent=2)
  try:
    if os.path.exists(path):
      with open(path) as f:
        if f.read() == text:
          return None
      n = 1
      while os.path.exists(os.path.join(workdir, f'config.{n}.json')):
        n += 1
      kept = os.path.join(workdir, f'config.{n}.json')
      os.replace(path, kept)
    else:
      kept = None
    tmp = path + '.tmp'
    with open(tmp, 'w') as f:
      f.write(text)
    os.replace(tmp, path)
    return kept
  except OSError as e:
    logging.getLogger('mvssl').warning('could not record the config in %s (%s); going on',
                                       path, e.strerror or e)
    return None
