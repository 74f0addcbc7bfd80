"""Losses of the method: L1 on heatmap coordinates, the multi-view consistency loss (paper eq. 9)
and their weighted sum (paper eq. 10).

  (9)  L_MVC = (1/J) sum_j sum_{c != c'} || Pi_c(y_c)_j - Pi_c'(y_c')_j ||_1     (paper, literal)
  (10) L     = l1_weight * L1 + mvc_weight * L_MVC        (paper: 1.0 and 0.1)

L1 is the mean absolute error between predicted and target heatmap coordinates (x, y cells;
z bins). L_MVC maps every view's prediction back to world coordinates with the codec's Pi
(:meth:`mvssl.geometry.heatmap.HeatmapCodec.decode`) and compares the views. ``mvc_loss`` returns
it in ``unit_mm`` units (:class:`MvcOptions`: the codec's unit, the depth-bin size cube/D for
heatmaps, that of the L1 term; or mm) in one of two forms:

* ``normalised`` (default): unordered pairs c < c', |.| the *mean* absolute difference over
  x, y, z, like the L1 term;
* ``literal``: eq. 9 as printed, ordered pairs c != c' and the L1 *norm* (sum over x, y, z): for
  every routing below exactly 6x the normalised value and gradient (2 orderings x 3 coordinates),
  i.e. a weight change.

and one of the gradient routings or targets (:data:`MVC_ROUTINGS`):

* ``both``: every pair's gradient reaches both of its views (eq. 9 as written);
* ``consensus``: each view is pulled toward the mean of the *other* views, held fixed
  (``|X_c - sg(mean_{c' != c} X_c')|``); with two views its gradient equals ``both``'s;
* ``depth_only``: the predicted x, y heatmap coordinates are held fixed (stop-gradient) before Pi,
  so MVC moves only the depths;
* ``root_relative``: each view's world pose minus its own world root joint, so MVC compares the
  poses' shapes and not where Pi put their roots.

Forms that a shrunken or constant pose cannot satisfy for free (the trap named by Rhodin et al.,
"Learning Monocular 3D Human Pose Estimation from Multi-view Images", CVPR 2018, sec. 3; measured
in this project: the paper's form pays for agreement with a smaller pose):

* ``scale_anchored`` (:func:`scale_anchored`): each view's root-relative world pose brought to a
  fixed scale, ``Y_c = (X_c - X_c,root) * S / s_c`` with ``s_c = sqrt(mean_j |X_c,j - X_c,root|^2)``
  and S = 500 mm, then the pairs of ``both``. N-MPJPE-style scale normalisation (Rhodin et al.
  2018): scaling any view's pose about its root leaves the loss unchanged, so shrinking cannot
  lower it; MVC then says nothing about scale (the L1 terms do).
* ``median``: each view pulled toward the geometric median of the *other* present views, per joint,
  held fixed (``|X_c - sg(gmed_{c' != c} X_c')|``, Weiszfeld's iteration, :func:`geometric_median`),
  counted like ``consensus``. One view far off moves the others' target little, unlike the mean.
* ``reprojection``: every view's world pose projected into every other view ``c`` and compared in
  2D with view ``c``'s own predicted x, y held fixed: ``sum_{c != c'} mean_j |xy(K_c (R_c X_c',j +
  t_c)) / stride - sg(xy_c,j)|`` (the camera constraint of multi-view geometry, the 2D reprojection
  consistency of e.g. Iqbal et al., "Weakly-Supervised 3D Human Pose Learning via Multi-view
  Images in the Wild", CVPR 2020, and Wandt et al., CanonPose, CVPR 2021). A view's well-seen 2D
  teaches the other views' depth; the target does not move with the view it corrects. Measured
  in the codec's x, y units (heatmap cells, the L1 term's unit), heatmap codecs only.
* ``uncertainty`` (:func:`uncertainty_l1`): each view's per-joint, per-axis uncertainty, the
  standard deviation of its heatmap's x, y, z marginals (:func:`mvssl.ops.soft_argmax.
  soft_argmax_3d_spread`) in mm along its own camera axes, routes what it gives and takes. It
  gives: its target is the other views' precision-weighted fusion, ``T_c = (sum_{c' != c} P_c')^-1
  sum_{c' != c} P_c' X_c'`` with ``P_c' = R_c'^T diag(sigma_c'^-2) R_c'`` (the Gaussian fusion of
  the views, as the inverse-variance triangulation of e.g. Remelli et al., "Lightweight
  Multi-View 3D Pose Estimation through Camera-Disentangled Representation", CVPR 2020), held
  fixed; it takes: the residual in its own camera axes weighted by its share of its own
  uncertainty, ``mean_a 3 sigma_c,a / sum_a' sigma_c,a' |R_c (X_c - sg(T_c))|_a`` (held fixed).
  A view's sharp lateral coordinates teach a neighbour's unsure depth, not the reverse. With
  equal isotropic spreads it is ``consensus``. A model without heatmaps passes its spreads in mm
  (``sigma_mm``): the lifting network's, the standard deviation of its camera-frame prediction
  over dropout samples (Monte-Carlo dropout, Gal & Ghahramani, ICML 2016).

A symmetric stop-gradient over ordered pairs, ``|X_c - sg(X_c')| + |X_c' - sg(X_c)|``, has exactly
``both``'s gradient: a weight change, not a routing, so it is not offered.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp

from mvssl.geometry import camera as camlib
# the forms' fixed targets and scale normalisation (pose math), re-exported here
from mvssl.geometry.fusion import SCALE_ANCHOR_MM  # noqa: F401
from mvssl.geometry.fusion import fused_targets, geometric_median, scale_anchored
from mvssl.geometry.heatmap import HeatmapCodec


MVC_FORMS = ('normalised', 'literal')
MVC_ROUTINGS = ('both', 'consensus', 'depth_only', 'root_relative', 'scale_anchored', 'median',
                'reprojection', 'uncertainty')
# routings that need the image model's heatmaps (family integral): x, y in image cells; spreads
HEATMAP_ROUTINGS = ('reprojection', 'uncertainty')
MVC_UNITS = ('codec', 'mm')


class MvcOptions(NamedTuple):
  """Which L_MVC a run trains with (module docstring): form (normalised | literal), unit (codec:
  the L1 term's unit, depth bins for the heatmap codec | mm), routing (one of
  :data:`MVC_ROUTINGS`), samples (dropout samples of a lifting network's spread under
  'uncertainty')."""
  form: str = 'normalised'
  unit: str = 'codec'
  routing: str = 'both'
  samples: int = 8

  def unit_mm(self, codec) -> float:
    """mm per loss unit: the codec's (``codec.unit_mm``) or 1."""
    return 1.0 if self.unit == 'mm' else float(codec.unit_mm)


def l1_loss(pred: jax.Array, target: jax.Array, weight: jax.Array | None = None) -> jax.Array:
  """Mean absolute error over the last axis' components and the joints.

  Args:
    pred, target: [..., J, 3] heatmap coordinates.
    weight: optional per-pose [...] or per-joint [..., J] weight (e.g. 0 for padding or for a
      withheld target); the result is the weighted mean over joints.
  Returns:
    [] loss.
  """
  chex.assert_equal_shape([pred, target])
  return _joint_mean(jnp.mean(jnp.abs(pred - target), axis=-1), weight)


def joint_weights(batch: dict) -> jax.Array:
  """The L1 weight of every view's target in a training batch: ``l1_w`` [b] x ``view_valid``
  [b, V] x ``target_w`` [b, V, J] when the batch has it (0 for a withheld target or a P-GT
  joint the robust triangulation rejected, :mod:`mvssl.train.pgt`) -> [b, V, J], or [b, V, 1]
  without ``target_w``."""
  w = (batch['l1_w'][:, None] * batch['view_valid'])[..., None]
  if 'target_w' in batch:
    w = w * batch['target_w']
  return w


def _joint_mean(per_joint: jax.Array, weight: jax.Array | None) -> jax.Array:
  """per_joint [..., J] -> [] its mean, or its weighted mean (weight [...] per pose or [..., J])."""
  if weight is None:
    return jnp.mean(per_joint)
  if weight.ndim == per_joint.ndim - 1:
    weight = weight[..., None]
  weight = jnp.broadcast_to(weight, per_joint.shape).astype(per_joint.dtype)
  return jnp.sum(per_joint * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def heatmap_mse(pred: jax.Array, target: jax.Array, weight: jax.Array | None = None):
  """Gaussian heatmap regression's loss (Simple Baselines; targets:
  :func:`mvssl.geometry.gaussian_heatmap.gaussian_targets`): the squared error summed over each
  heatmap, averaged over the (weighted) joints.

  Args:
    pred, target: [..., J, H, W]; weight: optional [...] or [..., J] (0 = left out).
  Returns:
    [] loss (the per-joint sum keeps it of order sigma^2 whatever the heatmap size).
  """
  chex.assert_equal_shape([pred, target])
  return _joint_mean(jnp.sum((pred - target) ** 2, axis=(-2, -1)), weight)


SOFT_MSE_THRESHOLD = 400.0     # Iskakov et al.'s threshold (cm^2 after x0.1 scaling)
SOFT_MSE_SCALE = 0.1           # mm -> cm


def soft_thresholded_mse(pred: jax.Array, target: jax.Array, weight: jax.Array | None = None, *,
                         threshold: float = SOFT_MSE_THRESHOLD, scale: float = SOFT_MSE_SCALE):
  """Iskakov et al.'s 3D loss of the algebraic model ("KeypointsMSESmoothLoss"): per coordinate
  e = (scale * (pred - target))^2, replaced by e^0.1 * threshold^0.9 where e > threshold (so
  outliers pull with a vanishing force), summed over the weighted (joint, coordinate)s and divided
  by 3 x max(1, sum of the joint weights).

  Args:
    pred, target: [..., J, 3] mm; weight: optional [..., J] (0 = invalid joint, left out).
  Returns:
    [] loss in (cm)^2-like units.
  """
  chex.assert_equal_shape([pred, target])
  e = (scale * (pred - target)) ** 2
  w = jnp.ones(e.shape[:-1], e.dtype) if weight is None else weight.astype(e.dtype)
  e = e * w[..., None]
  soft = jnp.maximum(e, threshold) ** 0.1 * threshold ** 0.9      # finite gradient everywhere
  e = jnp.where(e > threshold, soft, e)
  return jnp.sum(e) / (e.shape[-1] * jnp.maximum(jnp.sum(w), 1.0))


def _abs_xyz(d: jax.Array, form: str) -> jax.Array:
  """|d| over the last axis: the mean (normalised form) or the sum (literal L1 norm)."""
  return jnp.sum(jnp.abs(d), axis=-1) if form == 'literal' else jnp.mean(jnp.abs(d), axis=-1)


def pairwise_l1(world: jax.Array, view_mask: jax.Array | None = None, *,
                form: str = 'normalised') -> jax.Array:
  """sum over view pairs of |X_c - X_c'|, averaged over joints.

  normalised: unordered pairs c < c', mean over xyz; literal: ordered pairs c != c', sum over xyz.
  world [V, J, 3]; view_mask [V] bool (absent views are in no pair) -> [].
  """
  num_views = world.shape[0]
  diff = jnp.mean(_abs_xyz(world[:, None] - world[None, :], form), axis=-1)   # [V, V]
  ones = jnp.ones((num_views, num_views), world.dtype)
  pair = ones - jnp.eye(num_views, dtype=world.dtype) if form == 'literal' else jnp.triu(ones, 1)
  if view_mask is not None:
    m = view_mask.astype(world.dtype)
    pair = pair * m[:, None] * m[None, :]
  return jnp.sum(diff * pair)


def _present(world: jax.Array, view_mask: jax.Array | None) -> jax.Array:
  """[V] 1.0 for present views (all when ``view_mask`` is None), in world's dtype."""
  return (jnp.ones(world.shape[0], world.dtype) if view_mask is None
          else view_mask.astype(world.dtype))


def _toward_fixed(world: jax.Array, target: jax.Array, m: jax.Array, form: str) -> jax.Array:
  """sum_c |X_c - sg(T_c)| averaged over joints, each present view weighted by its number of
  other present views (x 2 in the literal form): world, target [V, J, 3]; m [V] -> []."""
  n_other = jnp.sum(m) - m                                                   # [V]
  per_view = jnp.mean(_abs_xyz(world - jax.lax.stop_gradient(target), form), axis=-1)   # [V]
  # n present views count n (n - 1) one-sided comparisons; the literal form's ordered pairs pull
  # each view twice as hard as the normalised ones.
  scale = 2.0 if form == 'literal' else 1.0
  return scale * jnp.sum(jnp.where(m > 0, per_view, 0.0) * m * n_other)


def consensus_l1(world: jax.Array, view_mask: jax.Array | None = None, *,
                 form: str = 'normalised') -> jax.Array:
  """sum_c |X_c - sg(mean of the other present views)|, averaged over joints.

  The other views' mean is held fixed (stop-gradient), so each view is pulled toward it and does
  not pull it. Each view's term is weighted by its number of other present views (x 2 in the
  literal form), so for two views the gradient equals ``pairwise_l1``'s in either form (the
  value is twice: each comparison is counted from both sides). A view with no other present
  view contributes 0.
  world [V, J, 3]; view_mask [V] bool -> [].
  """
  m = _present(world, view_mask)
  present = jnp.where(m[:, None, None] > 0, world, 0.0)       # an absent view's value is unused
  total = jnp.sum(present, axis=0)                                           # [J, 3]
  n_other = jnp.sum(m) - m                                                   # [V]
  others = (total[None] - present) / jnp.maximum(n_other, 1.0)[:, None, None]
  return _toward_fixed(world, others, m, form)


def median_l1(world: jax.Array, view_mask: jax.Array | None = None, *,
              form: str = 'normalised') -> jax.Array:
  """sum_c |X_c - sg(geometric median of the other present views)|, averaged over joints,
  counted like :func:`consensus_l1` (with two views the median of the other is that view, so
  both equal). world [V, J, 3]; view_mask [V] bool -> []."""
  m = _present(world, view_mask)
  others = 1.0 - jnp.eye(world.shape[0], dtype=world.dtype)                  # [V, V]
  targets = jax.vmap(lambda o: geometric_median(world, o * m))(others)      # [V, J, 3]
  return _toward_fixed(world, targets, m, form)


def uncertainty_l1(world: jax.Array, sigma: jax.Array, rot: jax.Array,
                   view_mask: jax.Array | None = None, *, form: str = 'normalised') -> jax.Array:
  """The ``uncertainty`` routing (module docstring) of one multi-view sample.

  world [V, J, 3] world poses (mm); sigma [V, J, 3] each view's standard deviation along its own
  camera axes x, y, z (mm, > 0); rot [V, 3, 3] the views' R (world -> camera); view_mask [V] bool
  -> [] (mm), counted like :func:`consensus_l1`.
  """
  m = _present(world, view_mask)
  sigma = jax.lax.stop_gradient(sigma)
  target = fused_targets(jax.lax.stop_gradient(world), sigma, rot, m)
  resid = jnp.einsum('vab,vjb->vja', rot, world - jax.lax.stop_gradient(target))   # camera axes
  take = 3.0 * sigma / jnp.sum(sigma, axis=-1, keepdims=True)                # [V, J, 3]
  return _toward_fixed_weighted(take * resid, m, form)


def _toward_fixed_weighted(resid: jax.Array, m: jax.Array, form: str) -> jax.Array:
  """:func:`_toward_fixed` of residuals already taken against a fixed target: resid [V, J, 3]."""
  return _toward_fixed(resid, jnp.zeros_like(resid), m, form)


def mvc_of_world(world: jax.Array, view_mask: jax.Array | None = None, *,
                 form: str = 'normalised', routing: str = 'both', root: int = 0) -> jax.Array:
  """L_MVC of one multi-view sample given its views' world poses (after Pi).

  world [V, J, 3] (mm); view_mask [V] bool; form, routing as in :func:`mvc_loss` ('depth_only'
  acts before Pi, so here it is 'both') -> [] (mm).
  """
  if routing in HEATMAP_ROUTINGS:
    raise ValueError(f"mvc_of_world: {routing!r} needs the cameras and the heatmaps; use mvc_loss")
  if routing == 'root_relative':
    world = world - world[:, root:root + 1, :]
  elif routing == 'scale_anchored':
    world = scale_anchored(world, root=root)
  reduce = {'consensus': consensus_l1, 'median': median_l1}.get(routing, pairwise_l1)
  return reduce(world, view_mask, form=form)


def reprojection_l1(codec, cams: camlib.Camera, pred: jax.Array, world: jax.Array,
                    view_mask: jax.Array | None = None, *, form: str = 'normalised') -> jax.Array:
  """sum over ordered pairs c != c' of |xy of X_c' in view c - sg(xy_c)|, averaged over joints.

  codec: a HeatmapCodec (its ``encode`` gives x, y in cells: K_c (R_c X + t_c) / stride).
  cams: Camera[V] (input-crop cameras); pred [V, J, 3] one sample's predictions (x, y cells
  first); world [V, J, 3] their world poses (mm, after Pi); view_mask [V] bool.
  Returns [] in cells (mean over x, y; the literal form sums them).
  """
  xy = jax.vmap(lambda cam: jax.vmap(lambda w: codec.encode(cam, w)[0][..., :2])(world))(cams)
  target = jax.lax.stop_gradient(pred[:, None, :, :2])                      # [V, 1, J, 2]
  diff = jnp.mean(_abs_xyz(xy - target, form), axis=-1)                      # [V (c), V (c')]
  m = _present(world, view_mask)
  pair = (1.0 - jnp.eye(world.shape[0], dtype=world.dtype)) * m[:, None] * m[None, :]
  return jnp.sum(diff * pair)


def spread_mm(codec, cams: camlib.Camera, world: jax.Array, spread: jax.Array) -> jax.Array:
  """Heatmap marginal spreads in mm along each view's camera axes: x, y cells -> cells x stride x
  Z / f (the joint's camera depth Z, focal lengths f_x, f_y of K); z bins -> bins x cube / D.

  codec: HeatmapCodec; cams Camera[B, V]; world [B, V, J, 3] (mm); spread [B, V, J, 3] -> same.
  """
  z = jax.vmap(jax.vmap(camlib.world_to_camera))(cams, world)[..., 2]      # [B, V, J]
  f = jnp.stack([cams.K[..., 0, 0], cams.K[..., 1, 1]], axis=-1)[:, :, None, :]   # [B, V, 1, 2]
  lateral = spread[..., :2] * codec.stride * z[..., None] / f
  return jnp.concatenate([lateral, spread[..., 2:] * codec.unit_mm], axis=-1)


def mvc_loss(codec, cams: camlib.Camera, pred: jax.Array, root_depth: jax.Array, *,
             unit_mm: float = 1.0, view_mask: jax.Array | None = None,
             weight: jax.Array | None = None, form: str = 'normalised',
             routing: str = 'both', root: int = 0, spread: jax.Array | None = None,
             sigma_mm: jax.Array | None = None) -> jax.Array:
  """Multi-view consistency loss (paper eq. 9) over a batch of multi-view samples.

  Args:
    codec: the predictions' codec; its ``decode_batch`` is Pi (e.g. HeatmapCodec).
    cams: Camera with leading axes [B, V] (input-crop cameras).
    pred: [B, V, J, 3] predicted coordinates in the codec's space (x, y, depth last).
    root_depth: [B, V] camera-frame root depth per view (mm), from the P-GT or GT.
    unit_mm: the loss is divided by this (mm per loss unit).
    view_mask: optional [B, V] bool of views present.
    weight: optional [B] per-sample weight (0 excludes a sample, e.g. labeled-only batches).
    form: 'normalised' | 'literal' (module docstring).
    routing: one of :data:`MVC_ROUTINGS` (module docstring).
    root: the root joint (root_relative, scale_anchored).
    spread: [B, V, J, 3] the standard deviation of each heatmap marginal (x, y cells; z bins),
      for routing 'uncertainty' (:func:`mvssl.ops.soft_argmax.soft_argmax_3d_spread`).
    sigma_mm: [B, V, J, 3] each view's standard deviation along its own camera axes (mm, > 0),
      for routing 'uncertainty' on a codec without heatmaps (the lifting network's spread over
      dropout samples, :func:`mvssl.train.lifting_family.dropout_sigma`); held fixed.
  Returns:
    [] loss; 'reprojection' in the codec's x, y cells (``unit_mm`` must be the codec's).
  Raises:
    ValueError: for an unknown form or routing, 'reprojection' with a codec whose x, y are not
      image cells or a unit other than the codec's, or 'uncertainty' without ``sigma_mm`` and
      without ``spread`` of a heatmap codec.
  """
  chex.assert_rank(pred, 4)
  if form not in MVC_FORMS or routing not in MVC_ROUTINGS:
    raise ValueError(f'mvc_loss: form must be one of {MVC_FORMS} and routing one of '
                     f'{MVC_ROUTINGS}; got {form!r}, {routing!r}')
  if routing == 'depth_only':
    pred = jnp.concatenate([jax.lax.stop_gradient(pred[..., :2]), pred[..., 2:]], axis=-1)
  world = codec.decode_batch(cams, pred, root_depth)                  # [B, V, J, 3] mm
  if view_mask is None:
    view_mask = jnp.ones(pred.shape[:2], bool)
  given_sigma = routing == 'uncertainty' and sigma_mm is not None
  if routing in HEATMAP_ROUTINGS and not isinstance(codec, HeatmapCodec) and not given_sigma:
    raise ValueError(f'mvc_loss: routing {routing!r} needs a heatmap codec (image x, y in cells), '
                     f'got {type(codec).__name__}')
  if routing == 'reprojection':
    if float(unit_mm) != float(codec.unit_mm):
      raise ValueError("mvc_loss: routing 'reprojection' compares image x, y in heatmap cells: "
                       f"it needs unit 'codec' (got unit_mm {unit_mm})")
    per = jax.vmap(lambda c, p, w, m: reprojection_l1(codec, c, p, w, m, form=form))(
        cams, pred, world, view_mask)
  elif routing == 'uncertainty':
    if spread is None and sigma_mm is None:
      raise ValueError("mvc_loss: routing 'uncertainty' needs spread, the heatmaps' marginal "
                       'standard deviations (soft_argmax_3d_spread), or sigma_mm')
    sigma = jax.lax.stop_gradient(sigma_mm) if given_sigma else spread_mm(
        codec, cams, jax.lax.stop_gradient(world), spread)
    per = jax.vmap(lambda w, s, r, m: uncertainty_l1(w, s, r, m, form=form))(
        world, sigma, cams.R, view_mask) / unit_mm
  else:
    per = jax.vmap(lambda w, m: mvc_of_world(w, m, form=form, routing=routing, root=root))(
        world, view_mask) / unit_mm
  if weight is None:
    return jnp.mean(per)
  return jnp.sum(per * weight) / jnp.maximum(jnp.sum(weight), 1.0)


def total_loss(l1: jax.Array, mvc: jax.Array, *, l1_weight: float, mvc_weight: float):
  """Paper eq. 10: L = l1_weight * L1 + mvc_weight * L_MVC (the paper: 1.0 and 0.1)."""
  return l1_weight * l1 + mvc_weight * mvc
