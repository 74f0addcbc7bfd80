"""The parts of the multi-view model G that its variants choose between (``config.model.g``).

* Confidence heads (:data:`CONFIDENCE_HEADS`): ``mlp`` (mvssl's first G: pooled trunk features ->
  Linear -> ReLU -> Linear -> softplus + 1e-3) and ``conv`` (Iskakov et al. 2019, algebraic
  model: two blocks of 3x3 conv + BN + max-pool + ReLU on the last trunk features, global average
  pooling, an MLP and a sigmoid; :func:`normalise_over_views` then divides by the sum over views
  and adds 1e-5, as their code does).
* :class:`MixtureBlock`: the Gaussian Mixture Block for Gaussian heatmap regression (Ong et al.).
  Their text places it between the ResNet features and the transposed convolutions; mvssl's
  design (theirs is not given in enough detail to copy): the block reads the trunk features
  (global average pooling -> Linear -> a softmax over M components per joint) and gives mixture
  weights pi [N, J, M]; the deconvolution head predicts M component heatmaps per joint, component
  0 trained toward the fixed-sigma Gaussian and component 1 toward the joint-adaptive one
  (:mod:`mvssl.train.heatmap_family`); the joint's heatmap is sum_m pi_m H_m, a convex
  combination, which the soft-argmax / DLT and the decoders read. So each image chooses, per
  joint, how wide a peak to trust, while every component keeps a fixed, interpretable target.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from mvssl.geometry import gaussian_heatmap

CONFIDENCE_HEADS = ('mlp', 'conv')
TARGETS = ('coordinates', 'gaussian')   # 2D training target: soft-argmax L1 | heatmap MSE
LOSSES_3D = ('l1', 'soft_mse')
DECODERS = ('soft_argmax', 'argmax')
MIXTURE_COMPONENTS = 2                   # fixed sigma, joint-adaptive sigma


class GOptions(NamedTuple):
  """What a G variant is (``config.model.g``; configs/default.py documents each field).

  conf_head: mlp | conv; multiplier: logits (or heatmap values) x this before the 2D soft-argmax
  (Iskakov et al.: 100); target: coordinates (L1 of the soft-argmax, heatmap cells) | gaussian
  (Gaussian heatmap MSE); sigma: fixed ('2.0') or set1 | set2 (paper-64-row cells,
  :mod:`mvssl.geometry.gaussian_heatmap`); fixed_sigma: the fixed component of a mixture;
  mixture: the Gaussian Mixture Block (target gaussian); loss_3d: l1 (mm, masked) | soft_mse
  (Iskakov et al.'s soft-thresholded MSE on cm); decode: the 2D decoder of predictions
  (soft_argmax | argmax with sub-pixel refinement; training always uses the soft-argmax).
  """
  conf_head: str = 'mlp'
  multiplier: float = 100.0
  target: str = 'coordinates'
  sigma: str = '2.0'
  fixed_sigma: str = '2.0'
  mixture: bool = False
  loss_3d: str = 'l1'
  decode: str = 'soft_argmax'

  @property
  def components(self) -> int:
    """Heatmaps per joint the head predicts."""
    return MIXTURE_COMPONENTS if self.mixture else 1


def options(g_config) -> GOptions:
  """``config.model.g`` -> :class:`GOptions` (values checked by :func:`check`)."""
  return GOptions(conf_head=g_config.conf_head, multiplier=float(g_config.multiplier),
                  target=g_config.target, sigma=str(g_config.sigma),
                  fixed_sigma=str(g_config.fixed_sigma), mixture=bool(g_config.mixture),
                  loss_3d=g_config.loss_3d, decode=g_config.decode)


def check(opts: GOptions, where: str = 'config.model.g', num_joints: int = 17) -> None:
  """Raises ValueError naming the field for a bad choice (with Gaussian targets, also a sigma
  :func:`mvssl.geometry.gaussian_heatmap.joint_sigmas` cannot give ``num_joints`` joints)."""
  for field, allowed in (('conf_head', CONFIDENCE_HEADS), ('target', TARGETS),
                         ('loss_3d', LOSSES_3D), ('decode', DECODERS)):
    if getattr(opts, field) not in allowed:
      raise ValueError(f'{where}.{field} must be one of {", ".join(allowed)}; '
                       f'got {getattr(opts, field)!r}')
  if not opts.multiplier > 0:
    raise ValueError(f'{where}.multiplier must be > 0; got {opts.multiplier!r}')
  if opts.mixture and opts.target != 'gaussian':
    raise ValueError(f'{where}.mixture mixes Gaussian heatmaps: set {where}.target=gaussian')
  if opts.target == 'gaussian':
    for field in ('sigma', 'fixed_sigma'):
      try:
        gaussian_heatmap.joint_sigmas(getattr(opts, field), num_joints,
                                      gaussian_heatmap.PAPER_ROWS)
      except ValueError as e:
        raise ValueError(f'{where}.{field}: {e}') from None


class ConfidenceConv(nnx.Module):
  """Iskakov et al.'s confidence head: 2 x (3x3 conv + BN + max-pool 2 + ReLU), global average
  pooling, Linear -> ReLU -> Linear, sigmoid. features [N, h, w, C] -> [N, J] in (0, 1).
  (Max-pools pad to keep at least one cell on small trunks.)"""

  def __init__(self, cin, num_joints, *, channels=None, axis_name=None, dtype=None, rngs):
    channels = channels or max(32, cin // 2)
    self.convs = nnx.List([nnx.Conv(c, channels, (3, 3), use_bias=False, dtype=dtype, rngs=rngs)
                           for c in (cin, channels)])
    self.bns = nnx.List([nnx.BatchNorm(channels, momentum=0.9, axis_name=axis_name, dtype=dtype,
                                       rngs=rngs) for _ in range(2)])
    self.hidden = nnx.Linear(channels, max(32, channels // 2), rngs=rngs)
    self.out = nnx.Linear(max(32, channels // 2), num_joints, rngs=rngs)

  def __call__(self, feats, train):
    x = feats
    for conv, bn in zip(self.convs, self.bns):
      x = bn(conv(x), use_running_average=not train)
      x = nnx.relu(nnx.max_pool(x, (2, 2), strides=(2, 2), padding='SAME'))
    pooled = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    return jax.nn.sigmoid(self.out(nnx.relu(self.hidden(pooled))))


def normalise_over_views(conf: jax.Array, view_valid: jax.Array) -> jax.Array:
  """Iskakov et al.'s normalisation: conf [B, V, J] / its sum over the recorded views + 1e-5
  (views not recorded stay 0). The DLT's solution is unchanged by a per-joint scale of all
  views' weights; the +1e-5 is theirs (a floor under vanishing confidences)."""
  conf = conf * view_valid[..., None]
  total = jnp.sum(conf, axis=1, keepdims=True)
  return (conf / jnp.maximum(total, 1e-12) + 1e-5) * view_valid[..., None]


class MixtureBlock(nnx.Module):
  """Mixture weights of the Gaussian Mixture Block (module docstring): features [N, h, w, C] ->
  pi [N, J, M] (softmax over M); :func:`mix` combines the component heatmaps."""

  def __init__(self, cin, num_joints, components=MIXTURE_COMPONENTS, *, rngs):
    self.num_joints, self.components = num_joints, components
    self.logits = nnx.Linear(cin, num_joints * components, kernel_init=nnx.initializers.zeros,
                             rngs=rngs)

  def __call__(self, feats):
    pooled = jnp.mean(feats.astype(jnp.float32), axis=(1, 2))
    logits = self.logits(pooled).reshape(-1, self.num_joints, self.components)
    return jax.nn.softmax(logits, axis=-1)


def mix(components: jax.Array, weights: jax.Array) -> jax.Array:
  """components [N, J, M, H, W], weights [N, J, M] (>= 0, sum 1) -> [N, J, H, W] sum_m w_m H_m."""
  return jnp.einsum('njmhw,njm->njhw', components, weights)
