"""What every output representation (codec) provides: ``encode`` a world pose into one view's
training target, ``decode`` a prediction back to world coordinates (the paper's Pi), and the same
over views and batches (by ``jax.vmap``), so losses such as the multi-view consistency term
(:func:`mvssl.losses.mvc_loss`) never ask which model family they serve.

Codecs: :class:`mvssl.geometry.heatmap.HeatmapCodec` (volumetric heatmaps, paper eq. 4-8) and
:class:`mvssl.geometry.root_relative.RootRelativeCodec` (lifting models).
"""

from __future__ import annotations

import functools

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
    """:meth:`encode_batch` of a whole split, jitted once per codec and chunk size (the last
    chunk padded), in chunks of ``chunk`` frames: world poses [N, J, 3] mm (numpy or lazily
    indexed rows) in Camera[N, V] -> (target [N, V, J, 3], root_depth [N, V] mm), numpy."""
    n = len(poses)
    chunk = max(1, min(chunk, n))
    out = []
    for i in range(0, n, chunk):
      k = min(chunk, n - i)
      c = pad_rows(jax.tree.map(lambda a: a[i:i + chunk], cams), chunk)
      t, r = _encode_batch(self, c, pad_rows(np.asarray(poses[i:i + chunk]), chunk))
      out.append((np.asarray(t)[:k], np.asarray(r)[:k]))
    return (np.concatenate([o[0] for o in out]), np.concatenate([o[1] for o in out]))

  def decode_batch_jit(self, cams: camlib.Camera, y: jax.Array, root_depth: jax.Array):
    """:meth:`decode_batch`, compiled once per codec and shape (a ``jax.jit`` of the bound
    method made at each call compiled it again every call: 0.6 s a prediction on CPU)."""
    return _decode_batch(self, cams, y, root_depth)


def pad_rows(x, size: int):
  """``x`` [k, ...] (an array, or a pytree of them) padded to [size, ...] by repeating its last
  row: a batch of fixed shape, so that a jitted function compiles once."""
  def pad(a):
    a = np.asarray(a)
    return a if len(a) == size else np.concatenate([a, np.repeat(a[-1:], size - len(a), 0)])
  return jax.tree.map(pad, x)


@functools.partial(jax.jit, static_argnums=(0,))
def _encode_batch(codec, cams, poses):
  return codec.encode_batch(cams, poses)


@functools.partial(jax.jit, static_argnums=(0,))
def _decode_batch(codec, cams, y, root_depth):
  return codec.decode_batch(cams, y, root_depth)
