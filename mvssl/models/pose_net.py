"""Pose networks: the single-view integral model and the algebraic triangulation model G.

* :class:`IntegralPoseNet` (Sun et al. 2018; the paper's single-view model): ResNet trunk, three
  4x4 stride-2 deconvolutions (256 channels in the paper) with BN + ReLU, a 1x1 conv to J*D
  channels, reshaped to J volumes [D, H/4, W/4], and the 3D soft-argmax.
* :class:`AlgebraicTriangulationNet` (Iskakov et al. 2019): the same trunk and deconvolution head
  with a 1x1 conv to J 2D heatmaps, the 2D soft-argmax, and a per-joint confidence head on the
  trunk features; its variants (confidence head, multiplier, Gaussian targets, mixture block)
  are :mod:`mvssl.models.g_heads`; the DLT over views happens in the algebraic family's loss
  (:mod:`mvssl.train.heatmap_family`).

:func:`heatmap_codec` gives the codec of the integral model's output (paper eq. 4-8 and Pi) from
the model config: its stride is the trunk's /32 undone by the stride-2 deconvolutions.

The deconvolution (``Deconv``) computes exactly ConvTranspose(k=4, s=2, p=1) as four 2x2
convolutions, one per output phase (sub-pixel convolution): a quarter of the multiply-adds of
zero insertion + 4x4 convolution, with a plain convolution's weight gradient.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mvssl.geometry import heatmap
from mvssl.models import g_heads
from mvssl.models import resnet as resnet_lib
from mvssl.ops import soft_argmax

_head_init = nnx.initializers.normal(0.001)
NUM_DECONV = 3   # the paper's three 4x4 stride-2 deconvolutions


# Output phase a (row 2m + a) of ConvTranspose(k=4, s=2, p=1) with our kernel K [4, 4, I, O]:
# phase 0 reads inputs m-1, m through taps K[0], K[2]; phase 1 reads m, m+1 through K[1], K[3].
_PHASE = {0: (slice(0, None, 2), (1, 0)), 1: (slice(1, None, 2), (0, 1))}   # taps, padding


class Deconv(nnx.Module):
  """Transposed convolution k=4, s=2, p=1 (output 2H x 2W), as four 2x2 convolutions.

  Each of the four output phases (even/odd rows x even/odd columns) is a 2x2 convolution of the
  input with every other tap of the 4x4 kernel; the phases are interleaved into the 2H x 2W
  output (sub-pixel convolution). Equals ``lax.conv_transpose`` with that kernel (test) at a
  quarter of the multiply-adds of zero insertion + 4x4 convolution, and its weight gradient is
  a plain convolution's (``nnx.ConvTranspose``'s was ~16x slower on CPU). The parameter is the
  4x4 kernel ``conv.kernel`` [4, 4, I, O], as before (checkpoints unchanged).
  """

  def __init__(self, cin, cout, *, dtype=None, rngs):
    self.conv = nnx.Conv(cin, cout, (4, 4), padding=((2, 1), (2, 1)), use_bias=False,
                         kernel_init=_head_init, dtype=dtype, rngs=rngs)

  def __call__(self, x):
    b, h, w, _ = x.shape
    dtype = self.conv.dtype or jnp.result_type(x.dtype, self.conv.kernel.value.dtype)
    x, kernel = x.astype(dtype), self.conv.kernel.value.astype(dtype)
    rows = []
    for a in (0, 1):
      cols = []
      for c in (0, 1):
        (taps_h, pad_h), (taps_w, pad_w) = _PHASE[a], _PHASE[c]
        cols.append(jax.lax.conv_general_dilated(
            x, kernel[taps_h, taps_w], (1, 1), (pad_h, pad_w),
            dimension_numbers=('NHWC', 'HWIO', 'NHWC')))
      rows.append(jnp.stack(cols, axis=3))                                  # [b, h, w, 2, O]
    y = jnp.stack(rows, axis=2)                                             # [b, h, 2, w, 2, O]
    return y.reshape(b, 2 * h, 2 * w, y.shape[-1])


class DeconvHead(nnx.Module):
  """num_layers x (Deconv + BN + ReLU) then a 1x1 conv: [B,h,w,C] -> [B, h*2^n, w*2^n, out]."""

  def __init__(self, cin, out, *, channels=256, num_layers=3, axis_name=None, dtype=None, rngs):
    layers, bns = [], []
    for _ in range(num_layers):
      layers.append(Deconv(cin, channels, dtype=dtype, rngs=rngs))
      bns.append(nnx.BatchNorm(channels, momentum=0.9, axis_name=axis_name, dtype=dtype,
                               rngs=rngs))
      cin = channels
    self.layers, self.bns = nnx.List(layers), nnx.List(bns)
    self.final = nnx.Conv(cin, out, (1, 1), kernel_init=_head_init, dtype=dtype, rngs=rngs)

  def __call__(self, x, train):
    """-> float32 outputs (the soft-argmax, DLT and losses run in float32 whatever the dtype)."""
    for layer, bn in zip(self.layers, self.bns):
      x = nnx.relu(bn(layer(x), use_running_average=not train))
    return self.final(x).astype(jnp.float32)


def _normalise(images):
  """uint8 or [0, 1] float images -> ImageNet-normalised float32."""
  x = images.astype(jnp.float32)
  if images.dtype == jnp.uint8:
    x = x / 255.0
  mean = jnp.array([0.485, 0.456, 0.406])
  std = jnp.array([0.229, 0.224, 0.225])
  return (x - mean) / std


class IntegralPoseNet(nnx.Module):
  """Single-view volumetric integral-regression model.

  Call: images [B, H, W, 3] (uint8, or float in [0, 1]) -> (joints [B, J, 3] heatmap coordinates
  (x, y cells of the H/4 x W/4 grid; z in D bins), aux {'logits': [B, J, D, H/4, W/4]}).
  """

  def __init__(self, *, num_joints=17, depth_bins=64, resnet_depth=50, num_filters=64,
               deconv_channels=256, num_deconv=NUM_DECONV, axis_name=None, padding='same',
               dtype=None, rngs: nnx.Rngs):
    self.backbone = resnet_lib.resnet(resnet_depth, num_filters=num_filters, axis_name=axis_name,
                                      padding=padding, dtype=dtype, rngs=rngs)
    self.num_joints, self.depth_bins = num_joints, depth_bins
    self.head = DeconvHead(self.backbone.out_channels, num_joints * depth_bins,
                           channels=deconv_channels, num_layers=num_deconv, axis_name=axis_name,
                           dtype=dtype, rngs=rngs)

  def __call__(self, images, train: bool = False):
    x = self.head(self.backbone(_normalise(images), train), train)        # [B, h, w, J*D]
    b, h, w, _ = x.shape
    logits = x.reshape(b, h, w, self.num_joints, self.depth_bins).transpose(0, 3, 4, 1, 2)
    return soft_argmax.soft_argmax_3d(logits), {'logits': logits}


class AlgebraicTriangulationNet(nnx.Module):
  """Per-view 2D joints and per-joint confidences for the algebraic triangulation model G.

  Call: images [N, H, W, 3] (N = B*V views) -> (joints_2d [N, J, 2] heatmap cells of the H/4 grid,
  confidences [N, J] > 0, aux {'heatmaps': [N, J, H/4, W/4] (logits for the coordinate target,
  heatmap values for the Gaussian one), with the mixture block also 'components'
  [N, J, M, H/4, W/4] and 'weights' [N, J, M]}). The 2D joints are the soft-argmax of
  ``options.multiplier`` x heatmaps; ``options`` (:class:`mvssl.models.g_heads.GOptions`) picks
  the confidence head and the mixture block (``mlp`` keeps the parameter names of mvssl's first
  G, so its checkpoints restore).
  """

  def __init__(self, *, num_joints=17, resnet_depth=50, num_filters=64, deconv_channels=256,
               num_deconv=NUM_DECONV, axis_name=None, padding='same', dtype=None,
               options: g_heads.GOptions = g_heads.GOptions(), rngs: nnx.Rngs):
    g_heads.check(options, num_joints=num_joints)
    self.options = options
    self.backbone = resnet_lib.resnet(resnet_depth, num_filters=num_filters, axis_name=axis_name,
                                      padding=padding, dtype=dtype, rngs=rngs)
    c = self.backbone.out_channels
    self.num_joints = num_joints
    self.head = DeconvHead(c, num_joints * options.components, channels=deconv_channels,
                           num_layers=num_deconv, axis_name=axis_name, dtype=dtype, rngs=rngs)
    if options.conf_head == 'mlp':
      self.conf_hidden = nnx.Linear(c, max(32, c // 4), rngs=rngs)
      self.conf_out = nnx.Linear(max(32, c // 4), num_joints, rngs=rngs)
    else:
      self.conf = g_heads.ConfidenceConv(c, num_joints, axis_name=axis_name, dtype=dtype,
                                         rngs=rngs)
    if options.mixture:
      self.mixture = g_heads.MixtureBlock(c, num_joints, options.components, rngs=rngs)

  def __call__(self, images, train: bool = False):
    feats = self.backbone(_normalise(images), train)
    hm = self.head(feats, train).transpose(0, 3, 1, 2)                # [N, J*M, h, w]
    aux = {}
    if self.options.mixture:
      n, _, h, w = hm.shape
      aux['components'] = hm.reshape(n, self.num_joints, self.options.components, h, w)
      aux['weights'] = self.mixture(feats)
      hm = g_heads.mix(aux['components'], aux['weights'])
    aux['heatmaps'] = hm
    if self.options.conf_head == 'mlp':
      pooled = jnp.mean(feats.astype(jnp.float32), axis=(1, 2))
      conf = nnx.softplus(self.conf_out(nnx.relu(self.conf_hidden(pooled)))) + 1e-3
    else:
      conf = self.conf(feats, train)
    return soft_argmax.soft_argmax_2d(hm * self.options.multiplier), conf, aux


MODELS = dict(integral=IntegralPoseNet, algebraic=AlgebraicTriangulationNet)
# config.model.dtype -> computation dtype of the convolutions, deconvolutions and batch norms
DTYPES = dict(float32=jnp.float32, bfloat16=jnp.bfloat16)


def build(family: str, model_config, *, axis_name=None, seed=0) -> nnx.Module:
  """The network of a model family ('integral' | 'algebraic') from ``config.model``.

  ``model_config.padding`` ('same' | 'torchvision', :mod:`mvssl.models.resnet`) and
  ``model_config.dtype`` ('float32' | 'bfloat16': the convolutions' computation dtype; parameters,
  soft-argmax, DLT and losses stay float32) shape the trunk and head; ``model_config.g`` the
  variant of G (:mod:`mvssl.models.g_heads`).

  Raises:
    ValueError: for an unknown family.
  """
  if family not in MODELS:
    raise ValueError(f'unknown model family {family!r} (expected one of {sorted(MODELS)})')
  rngs = nnx.Rngs(seed)
  common = dict(num_joints=model_config.num_joints, resnet_depth=model_config.resnet_depth,
                num_filters=model_config.num_filters,
                deconv_channels=model_config.deconv_channels, axis_name=axis_name,
                padding=model_config.padding, dtype=DTYPES[model_config.dtype], rngs=rngs)
  if family == 'integral':
    common['depth_bins'] = model_config.depth_bins
  else:
    common['options'] = g_heads.options(model_config.g)
  return MODELS[family](**common)


def output_stride(num_deconv: int = NUM_DECONV) -> float:
  """Input pixels per heatmap cell: the trunk's stride undone by the stride-2 deconvolutions."""
  return resnet_lib.STRIDE / 2 ** num_deconv


def heatmap_codec(model_config) -> heatmap.HeatmapCodec:
  """The codec of both networks' heatmaps (paper eq. 4-8 / Pi) from ``config.model``."""
  return heatmap.HeatmapCodec(stride=float(output_stride()),
                              depth_bins=int(model_config.depth_bins),
                              cube_mm=float(model_config.cube_mm))
