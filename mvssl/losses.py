"""Losses of the method: L1 on heatmap coordinates, the multi-view consistency loss (paper eq. 9)
and their weighted sum (paper eq. 10).

  (9)  L_MVC = (1/J) sum_j sum_{c < c'} | Pi_c(y_c)_j - Pi_c'(y_c')_j |
  (10) L     = l1_weight * L1 + mvc_weight * L_MVC        (paper: 1.0 and 0.1)

L1 is the mean absolute error between predicted and target heatmap coordinates (x, y cells;
z bins). L_MVC maps every view's prediction back to world coordinates with the codec's Pi
(:meth:`mvssl.geometry.heatmap.HeatmapCodec.decode`) and compares every pair of views. Like
the L1 term, |.| is the mean absolute difference over the three coordinates, and ``mvc_loss``
returns it in ``unit_mm`` units: the train step passes the depth-bin size cube/D, so both terms
are mean absolute errors per coordinate in voxels and the paper's 1.0 / 0.1 weights balance them.
(Summing instead of averaging the coordinates made the MVC term 3x larger and, on the embedded
default, worse than L1-only.)
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from mvssl.geometry import camera as camlib


def l1_loss(pred: jax.Array, target: jax.Array, weight: jax.Array | None = None) -> jax.Array:
  """Mean absolute error over the last axis' components and the joints.

  Args:
    pred, target: [..., J, 3] heatmap coordinates.
    weight: optional [...] per-pose weight (e.g. 0 for padding); the result is a weighted mean.
  Returns:
    [] loss.
  """
  chex.assert_equal_shape([pred, target])
  per_pose = jnp.mean(jnp.abs(pred - target), axis=(-2, -1))
  if weight is None:
    return jnp.mean(per_pose)
  return jnp.sum(per_pose * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def pairwise_l1(world: jax.Array, view_mask: jax.Array | None = None) -> jax.Array:
  """sum_{c<c'} mean_xyz |X_c - X_c'|, averaged over joints. world [V, J, 3]; mask [V] -> []."""
  num_views = world.shape[0]
  diff = jnp.mean(jnp.abs(world[:, None] - world[None, :]), axis=-1)      # [V, V, J]
  pair = jnp.triu(jnp.ones((num_views, num_views), world.dtype), k=1)
  if view_mask is not None:
    m = view_mask.astype(world.dtype)
    pair = pair * m[:, None] * m[None, :]
  return jnp.sum(jnp.mean(diff, axis=-1) * pair)


def mvc_loss(codec, cams: camlib.Camera, pred: jax.Array, root_depth: jax.Array, *,
             unit_mm: float = 1.0, view_mask: jax.Array | None = None,
             weight: jax.Array | None = None) -> jax.Array:
  """Multi-view consistency loss (paper eq. 9) over a batch of multi-view samples.

  Args:
    codec: the predictions' codec; its ``decode_batch`` is Pi (e.g. HeatmapCodec).
    cams: Camera with leading axes [B, V] (input-crop cameras).
    pred: [B, V, J, 3] predicted coordinates in the codec's space.
    root_depth: [B, V] camera-frame root depth per view (mm), from the P-GT or GT.
    unit_mm: the loss is divided by this (mm per loss unit).
    view_mask: optional [B, V] bool of views present.
    weight: optional [B] per-sample weight (0 excludes a sample, e.g. labeled-only batches).
  Returns:
    [] loss.
  """
  chex.assert_rank(pred, 4)
  world = codec.decode_batch(cams, pred, root_depth)                  # [B, V, J, 3] mm
  per = jax.vmap(pairwise_l1)(world, view_mask) / unit_mm     # view_mask None maps to None
  if weight is None:
    return jnp.mean(per)
  return jnp.sum(per * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def total_loss(l1: jax.Array, mvc: jax.Array, *, l1_weight: float, mvc_weight: float):
  """Paper eq. 10: L = l1_weight * L1 + mvc_weight * L_MVC (the paper: 1.0 and 0.1)."""
  return l1_weight * l1 + mvc_weight * mvc
