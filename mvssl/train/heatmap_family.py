"""The two image families on the volumetric heatmap codec (:mod:`mvssl.train.families`).

* ``integral``: the single-view model (paper section 3.1). Per view: volumetric heatmap
  coordinates; loss ``l1 * L1 + mvc * L_MVC`` (paper eq. 10) against the codec's targets
  (eq. 4-8); predicts one world pose per view (Pi with the root depth of the GT or P-GT).
* ``algebraic``: the multi-view model G (Iskakov et al. 2019, algebraic triangulation): per-view
  2D joints and confidences, confidence-weighted DLT over the views; loss ``l1 * L1_2D + mm_3d *
  L1_3D`` (2D in heatmap cells, 3D in mm); predicts one triangulated world pose per frame.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import tqdm
from flax import nnx

from mvssl import losses
from mvssl.geometry import triangulation


def _flat(x):
  return x.reshape((-1,) + x.shape[2:])


def integral_loss(model, batch, codec, weights, rng=None, mvc_options=losses.MvcOptions()):
  """Paper eq. 10, L = l1 * L1 + mvc * L_MVC, of the single-view model on a batch (step module
  docstring); L1 in depth-bin units (``codec.unit_mm``), L_MVC as ``mvc_options`` says
  (:class:`mvssl.losses.MvcOptions`). The targets are the codec's encoding of ``pose_3d`` plus
  ``target_noise`` and their L1 weight ``l1_w`` x ``view_valid`` x ``target_w`` when the batch
  has them. -> (loss, {l1, mvc}). ``weights``: :class:`mvssl.train.families.LossWeights`;
  ``rng`` unused (no dropout)."""
  del rng
  b, v = batch['images'].shape[:2]
  pred, _ = model(_flat(batch['images']), train=True)
  pred = pred.reshape((b, v) + pred.shape[1:])
  target, root_depth = codec.encode_batch(batch['cams'], batch['pose_3d'])
  if 'target_noise' in batch:
    target = target + batch['target_noise']
  valid = batch['view_valid']
  w = (batch['l1_w'][:, None] * valid)[..., None]                             # [b, V, 1]
  if 'target_w' in batch:
    w = w * batch['target_w']                                                 # [b, V, J]
  l1 = losses.l1_loss(pred, target, w)
  mvc = losses.mvc_loss(codec, batch['cams'], pred, root_depth,
                        unit_mm=mvc_options.unit_mm(codec), weight=batch['mvc_w'],
                        view_mask=valid, form=mvc_options.form, routing=mvc_options.routing)
  loss = losses.total_loss(l1, mvc, l1_weight=weights.l1, mvc_weight=weights.mvc)
  return loss, dict(l1=l1, mvc=mvc)


def algebraic_forward(model, batch, codec, train: bool):
  """G: per-view 2D joints + confidences -> confidence-weighted DLT.

  Returns:
    (world pose [b, J, 3] mm, aux {'j2d' [b, V, J, 2] heatmap cells, 'conf' [b, V, J],
    'valid' [b, J]}).
  """
  b, v = batch['images'].shape[:2]
  j2d, conf = model(_flat(batch['images']), train=train)
  j2d = j2d.reshape((b, v) + j2d.shape[1:])
  conf = conf.reshape((b, v) + conf.shape[1:]) * batch['view_valid'][..., None]
  pose, valid = triangulation.triangulate_batch(batch['cams'], j2d * codec.stride, conf)
  return pose, dict(j2d=j2d, conf=conf, valid=valid)


def algebraic_loss(model, batch, codec, weights, rng=None, mvc_options=None):
  """l1 * 2D L1 (heatmap cells) + mm_3d * 3D L1 of the triangulated pose (mm); ``rng`` and
  ``mvc_options`` unused (G has one pose per frame: nothing to make consistent)."""
  del rng, mvc_options
  pose, aux = algebraic_forward(model, batch, codec, train=True)
  target_2d = codec.encode_batch(batch['cams'], batch['pose_3d'])[0][..., :2]
  w = batch['view_valid'][..., None, None].astype(pose.dtype)
  l2d = jnp.sum(jnp.abs(aux['j2d'] - target_2d) * w) / jnp.maximum(
      jnp.sum(w) * target_2d.shape[-2] * 2, 1.0)
  l3d = jnp.mean(jnp.abs(pose - batch['pose_3d']))
  mpjpe = jnp.mean(jnp.linalg.norm(pose - batch['pose_3d'], axis=-1))
  return weights.l1 * l2d + weights.mm_3d * l3d, dict(l2d=l2d, l3d_mm=l3d, mpjpe_mm=mpjpe)


@functools.partial(jax.jit, static_argnums=(0,))
def _heatmaps(graphdef, params, batch_stats, images):
  model = nnx.merge(graphdef, params, batch_stats)
  return model(images, train=False)[0]


@functools.partial(jax.jit, static_argnums=(0, 4))
def _triangulate(graphdef, params, batch_stats, batch, codec):
  model = nnx.merge(graphdef, params, batch_stats)
  return algebraic_forward(model, batch, codec, train=False)


def predict_views(state, d: dict, codec, batch_frames: int = 32) -> np.ndarray:
  """Integral model: every view's prediction mapped to world with Pi and the root depth of
  ``d['root_depth']`` [N, V] mm when given, else of ``d['pose_3d']`` [N, J, 3] (GT or P-GT).

  Returns:
    [N, V, J, 3] world mm.
  """
  out = []
  n = len(d['images'])
  root_depth = (d['root_depth'] if 'root_depth' in d else
                codec.encode_split(d['cams'], d['pose_3d'])[1])
  to_world = jax.jit(codec.decode_batch)
  for i in range(0, n, batch_frames):
    sl = slice(i, i + batch_frames)
    imgs = d['images'][sl]
    hm = _heatmaps(state.graphdef, state.params, state.batch_stats,
                   imgs.reshape((-1,) + imgs.shape[2:]))
    hm = hm.reshape(imgs.shape[:2] + hm.shape[1:])
    cams = jax.tree.map(lambda a: a[sl], d['cams'])
    out.append(np.asarray(to_world(cams, hm, root_depth[sl])))
  return np.concatenate(out)


def predict_triangulated(state, d: dict, codec, batch_frames: int = 16, desc: str = 'G'):
  """Algebraic model G over a split -> (world poses [N, J, 3] mm, valid [N, J]), with a bar."""
  poses, valid = [], []
  n = len(d['images'])
  for i in tqdm.trange(0, n, batch_frames, desc=desc, unit='batch', leave=False):
    sl = slice(i, i + batch_frames)
    batch = dict(images=d['images'][sl], cams=jax.tree.map(lambda a: a[sl], d['cams']),
                 view_valid=d['view_valid'][sl])
    p, aux = _triangulate(state.graphdef, state.params, state.batch_stats, batch, codec)
    poses.append(np.asarray(p))
    valid.append(np.asarray(aux['valid']))
  return np.concatenate(poses), np.concatenate(valid)
