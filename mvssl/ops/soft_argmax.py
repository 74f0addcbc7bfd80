"""2D and 3D soft-argmax (integral regression; Sun et al. 2018, "Integral Human Pose Regression",
eq. 3: J_k = sum_p p * softmax(H_k)(p)).

The expectation is taken over marginals: with q = exp(beta * (H - max H)), the x coordinate is
sum_x x * (sum_{z,y} q) / sum q, and likewise for y and z. Only the [J, D, H, W] exponentials and
three small marginals exist; no normalised volume, coordinate grid or [J, D*H*W, 3] product is
materialised. Coordinates are in voxel/cell index units: x in [0, W-1], y in [0, H-1], z in
[0, D-1], voxel i having coordinate i.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _expect(marginal, total):
  n = marginal.shape[-1]
  return jnp.sum(marginal * jnp.arange(n, dtype=marginal.dtype), axis=-1) / total


@functools.partial(jax.jit, static_argnames=('beta',))
def soft_argmax_3d(logits: jax.Array, beta: float = 1.0) -> jax.Array:
  """Expected voxel coordinate of the softmax of each volume.

  Args:
    logits: [..., D, H, W] volumetric heatmap logits (e.g. [B, J, D, H, W]).
    beta: softmax inverse temperature.
  Returns:
    [..., 3] coordinates (x, y, z) in voxel units, float32 for bf16/f16 logits.
  """
  if logits.ndim < 3:
    raise ValueError(f'soft_argmax_3d expects [..., D, H, W] logits, got shape {logits.shape}')
  x = logits.astype(jnp.promote_types(logits.dtype, jnp.float32)) * beta
  x = x - jax.lax.stop_gradient(jnp.max(x, axis=(-3, -2, -1), keepdims=True))
  q = jnp.exp(x)
  qz = jnp.sum(q, axis=(-2, -1))          # [..., D]
  qy = jnp.sum(q, axis=(-3, -1))          # [..., H]
  qx = jnp.sum(q, axis=(-3, -2))          # [..., W]
  total = jnp.sum(qz, axis=-1)
  return jnp.stack([_expect(qx, total), _expect(qy, total), _expect(qz, total)], axis=-1)


@functools.partial(jax.jit, static_argnames=('beta',))
def soft_argmax_2d(logits: jax.Array, beta: float = 1.0):
  """Expected cell coordinate and peak confidence of each 2D heatmap.

  Args:
    logits: [..., H, W] heatmap logits.
    beta: softmax inverse temperature.
  Returns:
    [..., 2] coordinates (x, y) in heatmap cells.
  """
  if logits.ndim < 2:
    raise ValueError(f'soft_argmax_2d expects [..., H, W] logits, got shape {logits.shape}')
  x = logits.astype(jnp.promote_types(logits.dtype, jnp.float32)) * beta
  x = x - jax.lax.stop_gradient(jnp.max(x, axis=(-2, -1), keepdims=True))
  q = jnp.exp(x)
  qy = jnp.sum(q, axis=-1)
  qx = jnp.sum(q, axis=-2)
  total = jnp.sum(qy, axis=-1)
  return jnp.stack([_expect(qx, total), _expect(qy, total)], axis=-1)


def _spread(marginal, total, mean):
  n = marginal.shape[-1]
  i = jnp.arange(n, dtype=marginal.dtype)
  second = jnp.sum(marginal * i * i, axis=-1) / total
  return jnp.sqrt(jnp.maximum(second - mean * mean, 0.0) + 1e-6)


@functools.partial(jax.jit, static_argnames=('beta',))
def soft_argmax_3d_spread(logits: jax.Array, beta: float = 1.0):
  """The expected voxel coordinate (as :func:`soft_argmax_3d`) and the standard deviation of each
  marginal of the softmax: how sharply each axis is seen.

  Args:
    logits: [..., D, H, W] volumetric heatmap logits.
    beta: softmax inverse temperature.
  Returns:
    (mean [..., 3], std [..., 3]): (x, y, z) in voxel units (x, y cells; z bins), float32 for
    bf16/f16 logits; std >= 1e-3.
  Raises:
    ValueError: for logits of rank < 3.
  """
  if logits.ndim < 3:
    raise ValueError(f'soft_argmax_3d_spread expects [..., D, H, W] logits, got shape '
                     f'{logits.shape}')
  x = logits.astype(jnp.promote_types(logits.dtype, jnp.float32)) * beta
  x = x - jax.lax.stop_gradient(jnp.max(x, axis=(-3, -2, -1), keepdims=True))
  q = jnp.exp(x)
  qz = jnp.sum(q, axis=(-2, -1))
  qy = jnp.sum(q, axis=(-3, -1))
  qx = jnp.sum(q, axis=(-3, -2))
  total = jnp.sum(qz, axis=-1)
  mean = [_expect(m, total) for m in (qx, qy, qz)]
  std = [_spread(m, total, mu) for m, mu in zip((qx, qy, qz), mean)]
  return jnp.stack(mean, axis=-1), jnp.stack(std, axis=-1)
