"""What every output representation (codec) provides: ``encode`` a world pose into one view's
training target, ``decode`` a prediction back to world coordinates (the paper's Pi), and the same
over views and batches (by ``jax.vmap``), so losses such as the multi-view consistency term
(:func:`mvssl.losses.mvc_loss`) never ask which model family they serve.

Codecs: :class:`mvssl.geometry.heatmap.HeatmapCodec` (volumetric heatmaps, paper eq. 4-8) and
:class:`mvssl.geometry.root_relative.RootRelativeCodec` (lifting models).
"""

from __future__ import annotations

import jax
import numpy as np

from mvssl.geometry import camera as camlib


class Codec:
  """Base class: subclasses define ``encode``, ``decode`` and ``unit_mm`` (frozen dataclasses,
  hashable, so a codec can be a static argument of jitted functions)."""

  @property
  def unit_mm(self) -> float:
    """mm per unit in which the losses measure coordinates."""
    raise NotImplementedError

  def encode(self, cam: camlib.Camera, pose: jax.Array):
    """World pose [J, 3] mm in one view -> (target [J, 3], root depth [] mm)."""
    raise NotImplementedError

  def decode(self, cam: camlib.Camera, y: jax.Array, root_depth: jax.Array) -> jax.Array:
    """One view's prediction [J, 3] (and its root depth, mm, where needed) -> world [J, 3] mm."""
    raise NotImplementedError

  def encode_views(self, cams: camlib.Camera, pose: jax.Array):
    """:meth:`encode` of one world pose [J, 3] in every view of Camera[V] -> ([V, J, 3], [V])."""
    return jax.vmap(lambda c: self.encode(c, pose))(cams)

  def decode_views(self, cams: camlib.Camera, y: jax.Array, root_depth: jax.Array):
    """:meth:`decode` per view: (Camera[V], [V, J, 3], [V]) -> [V, J, 3] world mm."""
    return jax.vmap(self.decode)(cams, y, root_depth)

  def encode_batch(self, cams: camlib.Camera, poses: jax.Array):
    """Targets of a batch: (Camera[N, V], world poses [N, J, 3] mm) -> (target [N, V, J, 3],
    root_depth [N, V] mm)."""
    return jax.vmap(self.encode_views)(cams, poses)

  def decode_batch(self, cams: camlib.Camera, y: jax.Array, root_depth: jax.Array):
    """(Camera[N, V], [N, V, J, 3], [N, V] mm) -> [N, V, J, 3] world mm."""
    return jax.vmap(self.decode_views)(cams, y, root_depth)

  def encode_split(self, cams: camlib.Camera, poses, chunk: int = 512):
    """:meth:`encode_batch` of a whole split, jitted, in chunks of ``chunk`` frames: world poses
    [N, J, 3] mm (numpy or lazily indexed rows) in Camera[N, V] -> (target [N, V, J, 3],
    root_depth [N, V] mm), numpy."""
    enc = jax.jit(self.encode_batch)
    out = [enc(jax.tree.map(lambda a: np.asarray(a[i:i + chunk]), cams),
               np.asarray(poses[i:i + chunk])) for i in range(0, len(poses), chunk)]
    return (np.concatenate([np.asarray(o[0]) for o in out]),
            np.concatenate([np.asarray(o[1]) for o in out]))
