"""Single-view networks for absolute 3D pose, on the integral model's trunk and deconvolution head
(:mod:`mvssl.models.pose_net`).

* :class:`MetrabsNet` (Sarandi et al. 2021): one 1x1 conv gives J metric-scale volumes (a cube of
  ``box_mm`` around the root, camera-aligned: :func:`mvssl.geometry.absolute.metric_to_mm`) and,
  for MeTRAbs, J 2D image heatmaps; both decoded by soft-argmax. MeTRo is the 3D head alone
  (root-relative only). The absolute pose is reconstructed outside the network, where the camera
  is known (:func:`mvssl.geometry.absolute.reconstruct_absolute`,
  :mod:`mvssl.train.absolute_family`).
* :class:`RootNet` (Moon et al. 2019, 3DMPPE): a 2D heatmap of the root joint (its image position
  by soft-argmax) and, from the globally pooled trunk features, the correction gamma of the
  distance prior k: Z_root = gamma * k. gamma = exp(linear), zero-initialised, so training starts
  at Z = k and gamma stays positive (3DMPPE uses a plain linear output).
"""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
from flax import nnx

from mvssl.geometry import absolute
from mvssl.models import pose_net
from mvssl.models import resnet as resnet_lib
from mvssl.ops import soft_argmax


class AbsoluteOptions(NamedTuple):
  """config.model.absolute (configs/default.py): box_mm (MeTRAbs' metric cube), warmup (steps
  before the absolute L1 term is switched on), area_mm (RootNet's assumed real box side)."""
  box_mm: float = absolute.METRABS_BOX_MM
  warmup: int = 0
  area_mm: float = 2000.0


def options(cfg) -> AbsoluteOptions:
  """AbsoluteOptions from ``config.model.absolute``."""
  return AbsoluteOptions(box_mm=float(cfg.box_mm), warmup=int(cfg.warmup),
                         area_mm=float(cfg.area_mm))


class MetrabsNet(nnx.Module):
  """MeTRAbs (``with_2d``) or MeTRo (3D head alone).

  Call: images [N, S, S, 3] -> (offsets [N, J, 3] root-relative camera-aligned mm, j2d [N, J, 2]
  heatmap cells of the S/4 grid (zeros for MeTRo), aux {'volumes': [N, J, D, S/4, S/4]}).
  """

  def __init__(self, *, num_joints=17, depth_bins=16, with_2d=True, resnet_depth=50,
               num_filters=64, deconv_channels=256, axis_name=None, padding='same', dtype=None,
               options: AbsoluteOptions = AbsoluteOptions(), rngs: nnx.Rngs):
    self.backbone = resnet_lib.resnet(resnet_depth, num_filters=num_filters, axis_name=axis_name,
                                      padding=padding, dtype=dtype, rngs=rngs)
    self.num_joints, self.depth_bins, self.with_2d = num_joints, depth_bins, with_2d
    self.options = options
    self.head = pose_net.DeconvHead(self.backbone.out_channels,
                                    num_joints * (depth_bins + int(with_2d)),
                                    channels=deconv_channels, axis_name=axis_name, dtype=dtype,
                                    rngs=rngs)

  def __call__(self, images, train: bool = False):
    x = self.head(self.backbone(pose_net._normalise(images), train), train)   # [N, h, w, C]
    n, h, w, _ = x.shape
    j, d = self.num_joints, self.depth_bins
    volumes = x[..., :j * d].reshape(n, h, w, j, d).transpose(0, 3, 4, 1, 2)
    offsets = absolute.metric_to_mm(soft_argmax.soft_argmax_3d(volumes), (d, h, w),
                                    self.options.box_mm)
    if self.with_2d:
      j2d = soft_argmax.soft_argmax_2d(x[..., j * d:].transpose(0, 3, 1, 2))
    else:
      j2d = jnp.zeros(offsets.shape[:-1] + (2,), offsets.dtype)
    return offsets, j2d, {'volumes': volumes}


class RootNet(nnx.Module):
  """RootNet: images [N, S, S, 3], k [N] (mm, :func:`mvssl.geometry.absolute.rootnet_k`) ->
  (root [N, 1, 3]: x, y heatmap cells of the S/4 grid and Z mm, aux {'gamma': [N]})."""

  def __init__(self, *, resnet_depth=50, num_filters=64, deconv_channels=256, axis_name=None,
               padding='same', dtype=None, area_mm: float = 2000.0, rngs: nnx.Rngs):
    self.area_mm = float(area_mm)     # side of the assumed real box (mm), A_real = area_mm^2
    self.backbone = resnet_lib.resnet(resnet_depth, num_filters=num_filters, axis_name=axis_name,
                                      padding=padding, dtype=dtype, rngs=rngs)
    self.head = pose_net.DeconvHead(self.backbone.out_channels, 1, channels=deconv_channels,
                                    axis_name=axis_name, dtype=dtype, rngs=rngs)
    self.gamma = nnx.Linear(self.backbone.out_channels, 1, kernel_init=nnx.initializers.zeros,
                            rngs=rngs)

  def __call__(self, images, k, train: bool = False):
    feats = self.backbone(pose_net._normalise(images), train)
    xy = soft_argmax.soft_argmax_2d(self.head(feats, train).transpose(0, 3, 1, 2))   # [N, 1, 2]
    gamma = jnp.exp(self.gamma(jnp.mean(feats.astype(jnp.float32), axis=(1, 2)))[:, 0])
    z = gamma * k
    return jnp.concatenate([xy, z[:, None, None]], axis=-1), {'gamma': gamma}


def build(family: str, model_config, *, axis_name=None, seed=0) -> nnx.Module:
  """The network of an absolute family ('metrabs' | 'metro' | 'rootnet') from ``config.model``
  (trunk and head as :func:`mvssl.models.pose_net.build`; ``config.model.absolute`` for the
  options).

  Raises:
    ValueError: for an unknown family.
  """
  common = dict(resnet_depth=model_config.resnet_depth, num_filters=model_config.num_filters,
                deconv_channels=model_config.deconv_channels, axis_name=axis_name,
                padding=model_config.padding, dtype=pose_net.DTYPES[model_config.dtype],
                rngs=nnx.Rngs(seed))
  if family == 'rootnet':
    return RootNet(area_mm=options(model_config.absolute).area_mm, **common)
  if family not in ('metrabs', 'metro'):
    raise ValueError(f'unknown absolute family {family!r} (expected metrabs, metro or rootnet)')
  return MetrabsNet(num_joints=model_config.num_joints, depth_bins=model_config.depth_bins,
                    with_2d=family == 'metrabs', options=options(model_config.absolute),
                    **common)
