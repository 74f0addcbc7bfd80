"""Per-device train steps and the jitted prediction functions.

Batches are dicts of arrays with a leading frame axis b (the device's shard) and a view axis V:

  images [b, V, S, S, 3] uint8; K, R [b, V, 3, 3]; t [b, V, 3] mm; dist [b, V, 5]
  optional view_valid [b, V] bool (missing views get no loss and no DLT weight)
  pose_3d [b, J, 3] world mm (GT or P-GT): the heatmap targets of eq. 4-8 are computed here
                      from it and the (possibly augmented) cameras
  single-view model:  l1_w [b], mvc_w [b] per-frame loss weights

Every step is written for one device with the named axis 'data' bound by
:func:`mvssl.parallel.data_parallel`: gradients, batch-norm statistics (``axis_name`` in the
model) and metrics are averaged with ``lax.pmean``.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from mvssl import losses
from mvssl.geometry import camera as camlib
from mvssl.geometry import normalize
from mvssl.geometry import triangulation
from mvssl.parallel import AXIS


class Geometry(NamedTuple):
  """Heatmap geometry: input px per heatmap cell, depth bins D, depth cube (mm), and the lens
  model of the dataset's cameras ('h36m' | 'opencv')."""
  stride: float
  depth_bins: int
  cube_mm: float
  dist_model: str = 'h36m'


class LossWeights(NamedTuple):
  """l1 and mvc weights of the single-view loss; mm_3d weight of G's 3D term (per mm)."""
  l1: float = 1.0
  mvc: float = 0.0
  mm_3d: float = 0.01


def cameras(batch, dist_model: str = 'h36m') -> camlib.Camera:
  """Camera with leaves [b, V, ...] from a batch."""
  return camlib.Camera(K=batch['K'], R=batch['R'], t=batch['t'], dist=batch['dist'],
                       dist_model=dist_model)


def heatmap_targets(cams: camlib.Camera, poses: jax.Array, geo: Geometry):
  """Heatmap targets of world poses in every view (paper eq. 4-8).

  Args:
    cams: Camera with leaves [N, V, ...] (input-crop cameras).
    poses: [N, J, 3] world joints (mm).
    geo: heatmap geometry.
  Returns:
    (target [N, V, J, 3] heatmap cells / depth bins, root_depth [N, V] mm).
  """
  f = functools.partial(normalize.world_to_heatmap_views, stride=geo.stride,
                        depth_bins=geo.depth_bins, cube_mm=geo.cube_mm)
  return jax.vmap(f)(cams, poses)


def batch_targets(batch, geo):
  """:func:`heatmap_targets` of the batch's ``pose_3d`` in its cameras."""
  return heatmap_targets(cameras(batch, geo.dist_model), batch['pose_3d'], geo)


def _view_valid(batch):
  b, v = batch['images'].shape[:2]
  return batch['view_valid'] if 'view_valid' in batch else jnp.ones((b, v), bool)


def _flat(x):
  return x.reshape((-1,) + x.shape[2:])


def single_loss(model, batch, geo, weights):
  """L = l1_weight * L1 + mvc_weight * L_MVC (paper eq. 10); MVC in depth-bin units."""
  b, v = batch['images'].shape[:2]
  pred, _ = model(_flat(batch['images']), train=True)
  pred = pred.reshape((b, v) + pred.shape[1:])
  target, root_depth = batch_targets(batch, geo)
  valid = _view_valid(batch)
  l1 = losses.l1_loss(pred, target, batch['l1_w'][:, None] * valid)
  mvc = losses.mvc_loss(cameras(batch, geo.dist_model), pred, root_depth, stride=geo.stride,
                        depth_bins=geo.depth_bins, cube_mm=geo.cube_mm,
                        unit_mm=geo.cube_mm / geo.depth_bins, weight=batch['mvc_w'],
                        view_mask=valid)
  loss = weights.l1 * l1 + weights.mvc * mvc
  return loss, dict(l1=l1, mvc=mvc)


def multi_forward(model, batch, geo, train):
  """G: per-view 2D joints + confidences -> confidence-weighted DLT. -> ([b,J,3] mm, aux)."""
  b, v = batch['images'].shape[:2]
  j2d, conf = model(_flat(batch['images']), train=train)
  j2d = j2d.reshape((b, v) + j2d.shape[1:])
  conf = conf.reshape((b, v) + conf.shape[1:]) * _view_valid(batch)[..., None]
  pose, valid = triangulation.triangulate_batch(cameras(batch, geo.dist_model), j2d * geo.stride,
                                                conf)
  return pose, dict(j2d=j2d, conf=conf, valid=valid)


def multi_loss(model, batch, geo, weights):
  """2D L1 (heatmap cells) + weights.mm_3d * 3D L1 of the triangulated pose (mm)."""
  pose, aux = multi_forward(model, batch, geo, train=True)
  target_2d = batch_targets(batch, geo)[0][..., :2]
  w = _view_valid(batch)[..., None, None].astype(pose.dtype)
  l2d = jnp.sum(jnp.abs(aux['j2d'] - target_2d) * w) / jnp.maximum(
      jnp.sum(w) * target_2d.shape[-2] * 2, 1.0)
  l3d = jnp.mean(jnp.abs(pose - batch['pose_3d']))
  mpjpe = jnp.mean(jnp.linalg.norm(pose - batch['pose_3d'], axis=-1))
  return l2d + weights.mm_3d * l3d, dict(l2d=l2d, l3d_mm=l3d, mpjpe_mm=mpjpe)


def make_train_step(loss_fn):
  """Per-device step(state, batch) -> (state, metrics) for ``loss_fn(model, batch)``."""

  def step(state, batch):
    def wrapped(params):
      model = nnx.merge(state.graphdef, params, state.batch_stats, copy=True)
      loss, aux = loss_fn(model, batch)
      return loss, (aux, nnx.state(model, nnx.BatchStat))

    (loss, (aux, batch_stats)), grads = jax.value_and_grad(wrapped, has_aux=True)(state.params)
    grads = jax.lax.pmean(grads, AXIS)
    updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = dict(loss=loss, **aux)
    metrics = jax.lax.pmean(metrics, AXIS)
    metrics['grad_norm'] = optax.global_norm(grads)
    metrics['param_norm'] = optax.global_norm(params)
    new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats,
                              opt_state=opt_state)
    return new_state, metrics

  return step


@functools.partial(jax.jit, static_argnums=(0,))
def predict_single(graphdef, params, batch_stats, images):
  """images [N, S, S, 3] -> heatmap coordinates [N, J, 3] (eval mode)."""
  model = nnx.merge(graphdef, params, batch_stats)
  return model(images, train=False)[0]


@functools.partial(jax.jit, static_argnums=(0, 4))
def predict_multi(graphdef, params, batch_stats, batch, geo):
  """Triangulated world poses [b, J, 3] mm, 2D joints and confidences (eval mode)."""
  model = nnx.merge(graphdef, params, batch_stats)
  return multi_forward(model, batch, geo, train=False)
