"""The lifting family (Martinez et al. 2017, :mod:`mvssl.models.lifting`) on the root-relative
codec (:mod:`mvssl.geometry.root_relative`): 2D joints in, the root-relative camera-frame pose out.

Loss of a lifting run: ``l1 * L1 (mm) + l2 * MSE (normalised outputs, the paper's loss) + mvc *
L_MVC (mm)``, plus, for a network with a scale head, the Laplace negative log-likelihood that
trains it (:func:`laplace_nll`; it moves the head only). L_MVC compares the views' predictions
rotated into world orientation (R^T), so it needs no root depth. Dropout draws from the step's
``rng``; under the 'uncertainty' routing each view's per-axis uncertainty is the scale head's
(:func:`learned_sigma`) or, without one, the spread of its prediction over dropout samples
(:func:`dropout_sigma`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mvssl import losses
from mvssl.train import state as state_lib


def _flat(x):
  return x.reshape((-1,) + x.shape[2:])


SIGMA_FLOOR_MM = 1.0   # added in quadrature: the root (0 in every draw) and no dropout get it


def dropout_sigma(model, kp: jax.Array, rng, samples: int) -> jax.Array:
  """Per-joint, per-axis uncertainty of the lifting network for L_MVC's 'uncertainty' routing:
  the standard deviation of its camera-frame root-relative prediction over ``samples``
  Monte-Carlo dropout draws (Gal & Ghahramani, ICML 2016; BatchNorm on its running statistics),
  held fixed, ``sqrt(var + SIGMA_FLOOR_MM^2)``.

  model: LiftingNet; kp [N, J, 2] px; rng: PRNG key (None: no draws, every sigma the floor);
  samples >= 2 -> [N, J, 3] mm along the camera's x, y, z.
  """
  if rng is None:
    return jnp.full(kp.shape[:-1] + (3,), SIGMA_FLOOR_MM, jnp.float32)
  draws = jnp.stack([model.from_raw(model.raw(kp, key=k, sample=True))
                     for k in jax.random.split(rng, samples)])                 # [S, N, J, 3]
  return jnp.sqrt(jnp.var(jax.lax.stop_gradient(draws), axis=0) + SIGMA_FLOOR_MM ** 2)


def learned_sigma(model, log_b: jax.Array) -> jax.Array:
  """The 'uncertainty' routing's sigma from the scale head: the standard deviation of the
  Laplace distribution, sqrt(2) b, held fixed, with the root (never wrong) at the floor:
  log_b [N, J-1, 3] (:meth:`LiftingNet.log_scale`) -> [N, J, 3] mm,
  ``sqrt(2 b^2 + SIGMA_FLOOR_MM^2)``."""
  b = jnp.insert(jnp.exp(jax.lax.stop_gradient(log_b)), model.root, 0.0, axis=1)
  return jnp.sqrt(2.0 * b ** 2 + SIGMA_FLOOR_MM ** 2)


def uncertainty_sigma(model, kp: jax.Array, rng, samples: int, log_b=None) -> jax.Array:
  """The per-joint, per-axis uncertainty the 'uncertainty' routing takes from a lifting network:
  its scale head's :func:`learned_sigma` when it has one (from ``log_b`` when given, else from
  its evaluation-mode features), else its :func:`dropout_sigma` over ``samples`` draws from
  ``rng``. kp [N, J, 2] px -> [N, J, 3] mm."""
  if model.error_scale is None:
    return dropout_sigma(model, kp, rng, samples)
  return learned_sigma(model, model.log_scale(model.features(kp)) if log_b is None else log_b)


def laplace_nll(err_mm: jax.Array, log_b: jax.Array, weight: jax.Array) -> jax.Array:
  """Laplace negative log-likelihood of the errors under the predicted scales, per coordinate
  ``|e| / b + log b`` (up to log 2; minimised by b = E|e|; Kendall & Gal 2017, eq. 8 with an
  L1 likelihood), with the errors held fixed so that only the scale head learns from it.

  err_mm, log_b: [N, J-1, 3] (mm, log mm); weight: [N, J-1] -> [] weighted mean over joints of
  the mean over the 3 axes.
  """
  e = jnp.abs(jax.lax.stop_gradient(err_mm))
  per = jnp.mean(e * jnp.exp(-log_b) + log_b, axis=-1)
  return jnp.sum(per * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def lifting_loss(model, batch, codec, weights, rng=None, mvc_options=losses.MvcOptions()):
  """The loss of a lifting run on a batch: keypoints_2d [b, V, J, 3], cams [b, V], view_valid,
  pose_3d [b, J, 3] world mm, l1_w / mvc_w [b], optionally target_w [b, V, J] (0: a withheld
  or rejected target) and target_noise [b, V, J, 3] mm (each view's own noise, added to its
  camera-frame target, root excepted); L_MVC as ``mvc_options`` says ('depth_only'
  moves the lifted depths only; 'uncertainty' weighs by the scale head's :func:`learned_sigma`
  or, without a head, by :func:`dropout_sigma`, drawn with a key folded from ``rng``); with a
  scale head, + :func:`laplace_nll` on the same weights as the L1 term.
  -> (loss, {l1, l2, mvc[, nll]})."""
  b, v, j = batch['keypoints_2d'].shape[:3]
  feats = model.features(_flat(batch['keypoints_2d'][..., :2]), train=True, key=rng)
  raw = model.out(feats)                                                       # [b*v, 3(J-1)]
  pred = model.from_raw(raw).reshape(b, v, j, 3)                               # mm
  target, root_depth = codec.encode_batch(batch['cams'], batch['pose_3d'])    # [b, V, J, 3] mm
  if 'target_noise' in batch:          # per-view noise (codec units: mm); the root stays 0
    noise = jnp.asarray(batch['target_noise']).at[:, :, model.root].set(0.0)
    target = target + noise * codec.unit_mm
  w = losses.joint_weights(batch)                                             # [b, V, J|1]
  l1 = losses.l1_loss(pred / codec.unit_mm, target / codec.unit_mm, w)
  err = (raw - model.normalised(model.targets(_flat(target)))) ** 2           # [b*v, 3(J-1)]
  err = jnp.mean(err.reshape(b * v, j - 1, 3), axis=-1)                       # [b*v, J-1]
  wj = jnp.broadcast_to(w, (b, v, j)).reshape(b * v, j)
  wj = jnp.delete(wj, model.root, axis=1, assume_unique_indices=True)         # non-root joints
  l2 = jnp.sum(err * wj) / jnp.maximum(jnp.sum(wj), 1.0)
  sigma, aux, log_b = None, {}, None
  if model.error_scale is not None:
    log_b = model.log_scale(feats)                                            # [b*v, J-1, 3]
    mm_err = jnp.delete((pred - target).reshape(b * v, j, 3), model.root, axis=1,
                        assume_unique_indices=True)
    aux['nll'] = laplace_nll(mm_err, log_b, wj)
  if mvc_options.routing == 'uncertainty':
    key = None if rng is None else jax.random.fold_in(rng, 1)
    sigma = uncertainty_sigma(model, _flat(batch['keypoints_2d'][..., :2]), key,
                              mvc_options.samples, log_b).reshape(b, v, j, 3)
  mvc = losses.mvc_loss(codec, batch['cams'], pred, root_depth,
                        unit_mm=mvc_options.unit_mm(codec), weight=batch['mvc_w'],
                        view_mask=batch['view_valid'], form=mvc_options.form,
                        routing=mvc_options.routing, sigma_mm=sigma)
  loss = losses.total_loss(l1, mvc, l1_weight=weights.l1, mvc_weight=weights.mvc)
  return loss + weights.l2 * l2 + aux.get('nll', 0.0), dict(l1=l1, l2=l2, mvc=mvc, **aux)


@functools.partial(jax.jit, static_argnums=(0,))
def _lift(graphdef, params, batch_stats, kp):
  model = nnx.merge(graphdef, params, batch_stats)
  return model(kp, train=False)


def predict_views(state, d: dict, codec, batch_frames: int = 1024) -> np.ndarray:
  """Every view's lifted pose in world orientation (Pi = R^T), root at the origin.

  Returns:
    [N, V, J, 3] mm (compare root-aligned).
  """
  n, v, j = d['keypoints_2d'].shape[:3]
  to_world = codec.decode_batch_jit
  out = []
  for i in range(0, n, batch_frames):
    kp = np.asarray(d['keypoints_2d'][i:i + batch_frames, ..., :2])
    pred = _lift(state.graphdef, state.params, state.batch_stats, kp.reshape(-1, j, 2))
    pred = pred.reshape(kp.shape[:2] + (j, 3))
    cams = jax.tree.map(lambda a: a[i:i + batch_frames], d['cams'])
    out.append(np.asarray(to_world(cams, pred, jnp.zeros(kp.shape[:2]))))
  return np.concatenate(out)


def prepare(state: state_lib.TrainState, arrays: dict, codec) -> state_lib.TrainState:
  """Sets a fresh lifting network's normalisation statistics from its training arrays (every
  view of every frame: keypoints_2d and the codec's targets of pose_3d)."""
  kp = np.asarray(arrays['keypoints_2d'][..., :2], np.float32)
  target = codec.encode_split(arrays['cams'], arrays['pose_3d'], chunk=4096)[0]
  model = state.model()
  model.set_statistics(kp.reshape(-1, *kp.shape[2:]), target.reshape(-1, *target.shape[2:]))
  return state.replace(batch_stats=nnx.state(model, nnx.BatchStat))
