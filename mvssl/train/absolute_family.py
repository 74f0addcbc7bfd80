"""The absolute families (:mod:`mvssl.train.families`): MeTRAbs, MeTRo and RootNet.

* ``metrabs`` (Sarandi et al. 2021): metric 3D head + 2D image head, the absolute camera-frame pose
  by the weighted least-squares root solve (:func:`mvssl.geometry.absolute.reconstruct_absolute`;
  joints predicted within one stride of the crop border left out). Loss, in the codec's unit
  (the metric volume's bin, box_mm / D) and 2D heatmap cells:
  ``l1 * (L1_3D(root-relative) + L1_2D(joints inside the crop) + [step >= warmup] L1_abs)
  + mvc * L_MVC``, where L_MVC compares every view's *own* absolute pose in world coordinates
  (R^T (X - t), :class:`mvssl.geometry.absolute.CameraCodec`): no root depth is borrowed.
* ``metro``: the metric 3D head alone, root-relative (:class:`RootRelativeCodec`, like lifting).
* ``rootnet`` (Moon et al. 2019): the root's heatmap cell and depth Z = gamma * k; L1 on
  (x, y cells, Z / unit) and L_MVC of the views' world roots. Its predicted depths replace GT's in
  an integral run with ``root_from`` (PoseNet + RootNet, :mod:`mvssl.train.evaluate`).

The step counter reaches the loss as ``batch['step']`` (:mod:`mvssl.train.step`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mvssl import losses
from mvssl.geometry import absolute
from mvssl.geometry import camera as camlib
from mvssl.geometry import root_relative
from mvssl.models import pose_net

_per_view = lambda f: jax.vmap(jax.vmap(f))        # noqa: E731  (Camera[b, V], [b, V, ...])


def _flat(x):
  return x.reshape((-1,) + x.shape[2:])


def _unflat(x, b, v):
  return x.reshape((b, v) + x.shape[1:])


def metrabs_forward(model, images, cams: camlib.Camera, train: bool):
  """MeTRAbs on a batch: images [b, V, S, S, 3], Camera[b, V] (crop cameras).

  Returns:
    (absolute camera-frame joints [b, V, J, 3] mm, aux {'offsets' [b, V, J, 3] mm root-relative,
    'j2d' [b, V, J, 2] cells, 'used' [b, V, J] bool: joints in the root solve}).
  """
  b, v, size = images.shape[0], images.shape[1], images.shape[2]
  offsets, j2d, _ = model(_flat(images), train=train)
  offsets, j2d = _unflat(offsets, b, v), _unflat(j2d, b, v)
  stride = pose_net.output_stride()
  px = j2d * stride
  used = absolute.inside_mask(jax.lax.stop_gradient(px), size, stride)
  normalized = _per_view(camlib.pixels_to_normalized)(cams, px)
  prior = absolute.rootnet_k(cams.K, float(size))         # where a 2 m box fills the crop, mm
  pose = absolute.reconstruct_absolute(normalized, offsets, used, prior)
  return pose, dict(offsets=offsets, j2d=j2d, used=used)


def _weights(batch):
  return batch['l1_w'][:, None] * batch['view_valid']                        # [b, V]


def _mvc(codec, batch, pred, root_depth, mvc_options):
  return losses.mvc_loss(codec, batch['cams'], pred, root_depth,
                         unit_mm=mvc_options.unit_mm(codec), weight=batch['mvc_w'],
                         view_mask=batch['view_valid'], form=mvc_options.form,
                         routing=mvc_options.routing)


def metrabs_loss(model, batch, codec, weights, rng=None, mvc_options=losses.MvcOptions()):
  """MeTRAbs' loss (module docstring) -> (loss, {l3d, l2d, labs, mvc, mpjpe_abs_mm})."""
  del rng
  pose, aux = metrabs_forward(model, batch['images'], batch['cams'], train=True)
  target, root_depth = codec.encode_batch(batch['cams'], batch['pose_3d'])   # camera mm
  rel = target - target[..., codec.root:codec.root + 1, :]
  w = _weights(batch)
  wj = losses.joint_weights(batch)
  u = codec.unit_mm
  l3d = losses.l1_loss(aux['offsets'] / u, rel / u, wj)
  px = _per_view(camlib.project)(batch['cams'], jnp.broadcast_to(
      batch['pose_3d'][:, None], target.shape))
  size = batch['images'].shape[2]
  stride = pose_net.output_stride()
  l2d = losses.l1_loss(aux['j2d'], px / stride, wj * absolute.inside_mask(px, size, 0.0))
  labs = losses.l1_loss(pose / u, target / u, wj)
  on = (batch['step'] >= model.options.warmup).astype(pose.dtype) if 'step' in batch else 1.0
  mvc = _mvc(codec, batch, pose, root_depth, mvc_options) if weights.mvc else jnp.zeros(())
  err = jnp.linalg.norm(pose - target, axis=-1)
  mpjpe = jnp.sum(err * w[..., None]) / jnp.maximum(jnp.sum(w) * err.shape[-1], 1.0)
  loss = weights.l1 * (l3d + l2d + on * labs) + weights.mvc * mvc
  return loss, dict(l3d=l3d, l2d=l2d, labs=labs, mvc=mvc, mpjpe_abs_mm=mpjpe)


def metro_loss(model, batch, codec, weights, rng=None, mvc_options=losses.MvcOptions()):
  """MeTRo: L1 of the root-relative metric pose (codec unit) + mvc * L_MVC of the views' poses in
  world orientation -> (loss, {l1, mvc})."""
  del rng
  b, v = batch['images'].shape[:2]
  offsets, _, _ = model(_flat(batch['images']), train=True)
  pred = _unflat(offsets, b, v)
  target, root_depth = codec.encode_batch(batch['cams'], batch['pose_3d'])
  l1 = losses.l1_loss(pred / codec.unit_mm, target / codec.unit_mm,
                      losses.joint_weights(batch))
  mvc = _mvc(codec, batch, pred, root_depth, mvc_options) if weights.mvc else jnp.zeros(())
  return weights.l1 * l1 + weights.mvc * mvc, dict(l1=l1, mvc=mvc)


def rootnet_forward(model, images, cams: camlib.Camera, train: bool, area_mm: float):
  """RootNet on a batch -> [b, V, 1, 3] (x, y cells, Z mm) of the root."""
  b, v, size = images.shape[0], images.shape[1], images.shape[2]
  k = absolute.rootnet_k(cams.K, float(size), area_mm ** 2)                  # [b, V] mm
  root, _ = model(_flat(images), _flat(k), train=train)
  return _unflat(root, b, v)


def rootnet_loss(model, batch, codec, weights, rng=None, mvc_options=losses.MvcOptions()):
  """RootNet: L1 of (x, y cells, Z / unit) + mvc * L_MVC of the views' world roots ->
  (loss, {l1, mvc, root_z_mm})."""
  del rng
  root = rootnet_forward(model, batch['images'], batch['cams'], True, model.area_mm)
  pred = root.at[..., 2].divide(codec.unit_mm)
  target, root_depth = codec.encode_batch(batch['cams'], batch['pose_3d'])   # [b, V, 1, 3]
  w = _weights(batch)
  l1 = losses.l1_loss(pred, target, w)
  mvc = _mvc(codec, batch, pred, root_depth, mvc_options) if weights.mvc else jnp.zeros(())
  z_err = jnp.sum(jnp.abs(root[..., 0, 2] - root_depth) * w) / jnp.maximum(jnp.sum(w), 1.0)
  return weights.l1 * l1 + weights.mvc * mvc, dict(l1=l1, mvc=mvc, root_z_mm=z_err)


@functools.partial(jax.jit, static_argnums=(0, 4))
def _predict_batch(graphdef, params, batch_stats, batch, family_codec):
  family, codec = family_codec
  model = nnx.merge(graphdef, params, batch_stats)
  images, cams = batch['images'], batch['cams']
  if family == 'metrabs':
    pose, _ = metrabs_forward(model, images, cams, train=False)
    return _per_view(codec.decode)(cams, pose, jnp.zeros(pose.shape[:2]))
  if family == 'metro':
    b, v = images.shape[:2]
    pred = _unflat(model(_flat(images), train=False)[0], b, v)
    return _per_view(codec.decode)(cams, pred, jnp.zeros(pred.shape[:2]))
  root = rootnet_forward(model, images, cams, False, model.area_mm)
  pred = root.at[..., 2].divide(codec.unit_mm)
  return _per_view(codec.decode)(cams, pred, jnp.zeros(pred.shape[:2]))


def predictor(family: str):
  """predict(state, split, codec) of an absolute family: world poses [N, V, J, 3] mm (metrabs:
  absolute; metro: root-relative in world orientation, root at the origin; rootnet: the root
  alone, [N, V, 1, 3])."""

  def predict(state, d: dict, codec, batch_frames: int = 32) -> np.ndarray:
    out = []
    for i in range(0, len(d['images']), batch_frames):
      sl = slice(i, i + batch_frames)
      batch = dict(images=d['images'][sl], cams=jax.tree.map(lambda a: a[sl], d['cams']))
      out.append(np.asarray(_predict_batch(state.graphdef, state.params, state.batch_stats,
                                           batch, (family, codec))))
    return np.concatenate(out)

  return predict


def codec(family: str):
  """codec(config.model) of an absolute family: CameraCodec (metrabs), RootRelativeCodec (metro)
  or RootCodec (rootnet), all in the metric volume's bin (box_mm / D mm) per loss unit."""

  def make(model_cfg):
    unit = float(model_cfg.absolute.box_mm) / int(model_cfg.depth_bins)
    if family == 'metrabs':
      return absolute.CameraCodec(unit=unit)
    if family == 'metro':
      return root_relative.RootRelativeCodec(unit=unit)
    return absolute.RootCodec(stride=float(pose_net.output_stride()), unit=unit)

  return make
