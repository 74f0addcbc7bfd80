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
from mvssl.geometry import codec as codec_lib
from mvssl.geometry import gaussian_heatmap
from mvssl.geometry import triangulation
from mvssl.models import g_heads
from mvssl.ops import soft_argmax


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
  pred, aux = model(_flat(batch['images']), train=True)
  pred = pred.reshape((b, v) + pred.shape[1:])
  spread = None
  if mvc_options.routing == 'uncertainty':     # how sharply each view sees each axis (held fixed)
    _, spread = soft_argmax.soft_argmax_3d_spread(jax.lax.stop_gradient(aux['logits']))
    spread = spread.reshape(pred.shape)
  target, root_depth = codec.encode_batch(batch['cams'], batch['pose_3d'])
  if 'target_noise' in batch:
    target = target + batch['target_noise']
  valid = batch['view_valid']
  l1 = losses.l1_loss(pred, target, losses.joint_weights(batch))
  mvc = losses.mvc_loss(codec, batch['cams'], pred, root_depth,
                        unit_mm=mvc_options.unit_mm(codec), weight=batch['mvc_w'],
                        view_mask=valid, form=mvc_options.form, routing=mvc_options.routing,
                        spread=spread)
  loss = losses.total_loss(l1, mvc, l1_weight=weights.l1, mvc_weight=weights.mvc)
  return loss, dict(l1=l1, mvc=mvc)


def algebraic_forward(model, batch, codec, train: bool):
  """G: per-view 2D joints + confidences -> confidence-weighted DLT (confidences normalised over
  views for the ``conv`` head, as Iskakov et al.; outside training the 2D joints are decoded as
  ``model.options.decode`` says).

  Returns:
    (world pose [b, J, 3] mm, aux {'j2d' [b, V, J, 2] heatmap cells, 'conf' [b, V, J],
    'valid' [b, J], 'heatmaps' [b, V, J, h, w] and, with the mixture block, 'components'
    [b, V, J, M, h, w] and 'weights' [b, V, J, M]}).
  """
  b, v = batch['images'].shape[:2]
  j2d, conf, extra = model(_flat(batch['images']), train=train)
  unflat = lambda x: x.reshape((b, v) + x.shape[1:])                        # noqa: E731
  j2d, conf = unflat(j2d), unflat(conf) * batch['view_valid'][..., None]
  if not train and model.options.decode == 'argmax':     # Simple Baselines' decoding
    j2d = gaussian_heatmap.argmax_subpixel(unflat(extra['heatmaps']))
  if model.options.conf_head == 'conv':
    conf = g_heads.normalise_over_views(conf, batch['view_valid'])
  pose, valid = triangulation.triangulate_batch(batch['cams'], j2d * codec.stride, conf)
  return pose, dict(j2d=j2d, conf=conf, valid=valid, **{k: unflat(x) for k, x in extra.items()})


def _loss_2d(opts: g_heads.GOptions, aux: dict, target_2d, w):
  """G's 2D term: L1 of the soft-argmax coordinates (cells) or the Gaussian heatmap MSE
  (:func:`mvssl.losses.heatmap_mse`; with the mixture block, each component
  toward its own sigma plus the mixture toward the same mixture of the targets, weights held)."""
  if opts.target == 'coordinates':
    return jnp.sum(jnp.abs(aux['j2d'] - target_2d) * w[..., None, None]) / jnp.maximum(
        jnp.sum(w) * target_2d.shape[-2] * 2, 1.0)
  shape = aux['heatmaps'].shape[-2:]
  j = target_2d.shape[-2]
  sigma = gaussian_heatmap.joint_sigmas(opts.sigma, j, shape[0])
  if not opts.mixture:
    return losses.heatmap_mse(
        aux['heatmaps'], gaussian_heatmap.gaussian_targets(target_2d, sigma, shape), w)
  fixed = gaussian_heatmap.joint_sigmas(opts.fixed_sigma, j, shape[0])
  targets = jnp.stack([gaussian_heatmap.gaussian_targets(target_2d, s, shape)
                       for s in (fixed, sigma)], axis=-3)                    # [b, V, J, M, h, w]
  per_component = sum(losses.heatmap_mse(aux['components'][..., m, :, :],
                                                   targets[..., m, :, :], w)
                      for m in range(targets.shape[-3]))
  mixed = g_heads.mix(targets.reshape((-1,) + targets.shape[2:]),
                      jax.lax.stop_gradient(aux['weights']).reshape((-1,) + aux['weights'].shape[2:]))
  return per_component + losses.heatmap_mse(
      aux['heatmaps'], mixed.reshape(aux['heatmaps'].shape), w)


def algebraic_loss(model, batch, codec, weights, rng=None, mvc_options=None):
  """l1 * G's 2D term (:func:`_loss_2d`) + mm_3d * its 3D term on the triangulated pose: L1 (mm)
  or Iskakov et al.'s soft-thresholded MSE (:func:`mvssl.losses.soft_thresholded_mse`), over the
  joints the DLT could triangulate (>= 2 views with weight) only. ``rng`` and ``mvc_options``
  unused (G has one pose per frame: nothing to make consistent). The 2D and 3D terms are
  computed only when their weight is non-zero."""
  del rng, mvc_options
  opts = model.options
  pose, aux = algebraic_forward(model, batch, codec, train=True)
  target_2d = codec.encode_batch(batch['cams'], batch['pose_3d'])[0][..., :2]
  w = batch['view_valid'].astype(pose.dtype)
  l2d = _loss_2d(opts, aux, target_2d, w) if weights.l1 else jnp.zeros(())
  joint_w = aux['valid'].astype(pose.dtype)
  if opts.loss_3d == 'l1':
    l3d = losses.l1_loss(pose, batch['pose_3d'], joint_w)
  else:
    l3d = losses.soft_thresholded_mse(pose, batch['pose_3d'], joint_w)
  err = jnp.linalg.norm(pose - batch['pose_3d'], axis=-1)
  mpjpe = jnp.sum(err * joint_w) / jnp.maximum(jnp.sum(joint_w), 1.0)
  return weights.l1 * l2d + weights.mm_3d * l3d, dict(l2d=l2d, l3d=l3d, mpjpe_mm=mpjpe)


@functools.partial(jax.jit, static_argnums=(0,))
def _heatmaps(graphdef, params, batch_stats, images):
  model = nnx.merge(graphdef, params, batch_stats)
  return model(images, train=False)[0]


@functools.partial(jax.jit, static_argnums=(0, 4))
def _triangulate(graphdef, params, batch_stats, batch, codec):
  model = nnx.merge(graphdef, params, batch_stats)
  return algebraic_forward(model, batch, codec, train=False)


def fixed_batches(n: int, batch_frames: int):
  """(slice, rows, size) of ``n`` frames in batches of one size: min(batch_frames, the power of
  two >= n), the last one padded (:func:`mvssl.geometry.codec.pad_rows`), so that a prediction
  compiles one function whatever ``n`` and a short input is not padded to a long batch."""
  size = min(batch_frames, 1 << max(0, int(np.ceil(np.log2(max(n, 1))))))
  for i in range(0, n, size):
    yield slice(i, i + size), min(size, n - i), size


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
  to_world = codec.decode_batch_jit
  for sl, k, size in fixed_batches(n, batch_frames):
    imgs = codec_lib.pad_rows(d['images'][sl], size)
    hm = _heatmaps(state.graphdef, state.params, state.batch_stats,
                   imgs.reshape((-1,) + imgs.shape[2:]))
    hm = hm.reshape(imgs.shape[:2] + hm.shape[1:])
    cams = codec_lib.pad_rows(jax.tree.map(lambda a: a[sl], d['cams']), size)
    out.append(np.asarray(to_world(cams, hm, codec_lib.pad_rows(root_depth[sl], size)))[:k])
  return np.concatenate(out)


def predict_triangulated(state, d: dict, codec, batch_frames: int = 16, desc: str = 'G',
                         views: bool = False):
  """Algebraic model G over a split -> (world poses [N, J, 3] mm, valid [N, J]), with a bar;
  with ``views`` also G's per-view 2D joints [N, V, J, 2] (crop px) and the confidences
  [N, V, J] its DLT weighted them by (0 for a missing view): what a robust triangulation of G's
  P-GT re-triangulates (:mod:`mvssl.train.pgt`)."""
  poses, valid, points, conf = [], [], [], []
  n = len(d['images'])
  for sl, k, size in tqdm.tqdm(list(fixed_batches(n, batch_frames)), desc=desc, unit='batch',
                               leave=False):
    batch = codec_lib.pad_rows(dict(images=d['images'][sl], view_valid=d['view_valid'][sl],
                                    cams=jax.tree.map(lambda a: a[sl], d['cams'])), size)
    p, aux = _triangulate(state.graphdef, state.params, state.batch_stats, batch, codec)
    poses.append(np.asarray(p)[:k])
    valid.append(np.asarray(aux['valid'])[:k])
    if views:
      points.append(np.asarray(aux['j2d'])[:k] * codec.stride)
      conf.append(np.asarray(aux['conf'])[:k])
  out = np.concatenate(poses), np.concatenate(valid)
  return out + (np.concatenate(points), np.concatenate(conf)) if views else out


@functools.partial(jax.jit, static_argnums=(0,))
def _views_2d(graphdef, params, batch_stats, images):
  model = nnx.merge(graphdef, params, batch_stats)
  j2d, _, aux = model(images, train=False)
  return j2d, gaussian_heatmap.argmax_subpixel(aux['heatmaps'])


def predict_views_2d(state, d: dict, codec, batch_frames: int = 16) -> dict:
  """G's per-view stage over a split: the 2D joints of every view in crop pixels, decoded both
  ways. -> {'soft_argmax': [N, V, J, 2] px, 'argmax': [N, V, J, 2] px}."""
  out = dict(soft_argmax=[], argmax=[])
  n = len(d['images'])
  for i in range(0, n, batch_frames):
    imgs = d['images'][i:i + batch_frames]
    soft, hard = _views_2d(state.graphdef, state.params, state.batch_stats,
                           imgs.reshape((-1,) + imgs.shape[2:]))
    for k, x in (('soft_argmax', soft), ('argmax', hard)):
      out[k].append(np.asarray(x).reshape(imgs.shape[:2] + x.shape[1:]) * codec.stride)
  return {k: np.concatenate(v) for k, v in out.items()}
