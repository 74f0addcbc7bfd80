"""ResNet V1.5 backbones in Flax NNX (He et al. 2016; stride on the 3x3 conv of the bottleneck).

``ResNet18 ... ResNet152`` are the standard depths; ``num_filters`` (64 in the paper) and the
input size are free, so tiny CPU variants are the same code. Batch norm takes ``axis_name`` so
that, inside a ``shard_map``/``pmap`` over that axis, its training statistics are synchronised
across devices. Inputs are NHWC float images; the output is the last stage's feature map
[B, H/32, W/32, C].

``padding`` (a row of :data:`PADDINGS`): 'same' pads a stride-2 3x3 convolution and the stem's
max-pool by (0, 1) on even inputs (XLA's SAME); 'torchvision' pads them by (1, 1) as PyTorch's
``padding=1`` does, which ImageNet weights converted from torchvision
(:mod:`mvssl.models.torchvision_weights`) need to give torchvision's features. Stride-1
convolutions are padded alike by both. ``dtype`` is the computation dtype of the convolutions and
batch norms (parameters and batch-norm statistics stay float32): 'bfloat16' for mixed precision.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple, Sequence

from flax import nnx


# padding name -> kernel size -> the padding of a convolution / pooling window of that size
PADDINGS = {'same': lambda k: 'SAME', 'torchvision': lambda k: ((k // 2, k // 2),) * 2}


class Options(NamedTuple):
  """What every layer of the trunk shares: the batch-norm axis, the padding, the dtype."""
  axis_name: str | None = None
  padding: str = 'same'
  dtype: Any = None


def _bn(features, opts, rngs, zero_init=False):
  return nnx.BatchNorm(features, momentum=0.9, epsilon=1e-5, axis_name=opts.axis_name,
                       scale_init=nnx.initializers.zeros if zero_init else nnx.initializers.ones,
                       dtype=opts.dtype, rngs=rngs)


_conv_init = nnx.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def _conv(cin, cout, k, stride, opts, rngs):
  return nnx.Conv(cin, cout, (k, k), strides=(stride, stride), padding=PADDINGS[opts.padding](k),
                  use_bias=False, kernel_init=_conv_init, dtype=opts.dtype, rngs=rngs)


class BasicBlock(nnx.Module):
  """Two 3x3 convolutions (ResNet-18/34)."""
  expansion = 1

  def __init__(self, cin, filters, stride, *, opts, rngs):
    self.conv1, self.bn1 = _conv(cin, filters, 3, stride, opts, rngs), _bn(filters, opts, rngs)
    self.conv2 = _conv(filters, filters, 3, 1, opts, rngs)
    self.bn2 = _bn(filters, opts, rngs, zero_init=True)
    self.proj = self.proj_bn = nnx.data(None)
    if stride != 1 or cin != filters:
      self.proj = _conv(cin, filters, 1, stride, opts, rngs)
      self.proj_bn = _bn(filters, opts, rngs)

  def __call__(self, x, train):
    ura = not train
    y = nnx.relu(self.bn1(self.conv1(x), use_running_average=ura))
    y = self.bn2(self.conv2(y), use_running_average=ura)
    if self.proj is not None:
      x = self.proj_bn(self.proj(x), use_running_average=ura)
    return nnx.relu(x + y)


class Bottleneck(nnx.Module):
  """1x1 - 3x3 (strided) - 1x1 bottleneck (ResNet-50/101/152)."""
  expansion = 4

  def __init__(self, cin, filters, stride, *, opts, rngs):
    out = filters * 4
    self.conv1, self.bn1 = _conv(cin, filters, 1, 1, opts, rngs), _bn(filters, opts, rngs)
    self.conv2 = _conv(filters, filters, 3, stride, opts, rngs)
    self.bn2 = _bn(filters, opts, rngs)
    self.conv3 = _conv(filters, out, 1, 1, opts, rngs)
    self.bn3 = _bn(out, opts, rngs, zero_init=True)
    self.proj = self.proj_bn = nnx.data(None)
    if stride != 1 or cin != out:
      self.proj = _conv(cin, out, 1, stride, opts, rngs)
      self.proj_bn = _bn(out, opts, rngs)

  def __call__(self, x, train):
    ura = not train
    y = nnx.relu(self.bn1(self.conv1(x), use_running_average=ura))
    y = nnx.relu(self.bn2(self.conv2(y), use_running_average=ura))
    y = self.bn3(self.conv3(y), use_running_average=ura)
    if self.proj is not None:
      x = self.proj_bn(self.proj(x), use_running_average=ura)
    return nnx.relu(x + y)


class ResNet(nnx.Module):
  """ResNet trunk without pooling/FC: [B, H, W, 3] -> [B, H/32, W/32, C_out]."""

  def __init__(self, stage_sizes: Sequence[int], block_cls, *, num_filters: int = 64,
               axis_name: str | None = None, padding: str = 'same', dtype=None,
               rngs: nnx.Rngs):
    if padding not in PADDINGS:
      raise ValueError(f'ResNet padding must be one of {sorted(PADDINGS)}, got {padding!r}')
    opts = Options(axis_name, padding, dtype)
    self.stem = nnx.Conv(3, num_filters, (7, 7), strides=(2, 2), padding=((3, 3), (3, 3)),
                         use_bias=False, kernel_init=_conv_init, dtype=dtype, rngs=rngs)
    self.stem_bn = _bn(num_filters, opts, rngs)
    self.pool_padding = PADDINGS[padding](3)
    blocks = []
    cin = num_filters
    for i, n in enumerate(stage_sizes):
      for j in range(n):
        stride = 2 if i > 0 and j == 0 else 1
        blocks.append(block_cls(cin, num_filters * 2 ** i, stride, opts=opts, rngs=rngs))
        cin = num_filters * 2 ** i * block_cls.expansion
    self.blocks = nnx.List(blocks)
    self.stage_sizes = tuple(stage_sizes)
    self.out_channels = cin

  def __call__(self, x, train: bool = False):
    x = nnx.relu(self.stem_bn(self.stem(x), use_running_average=not train))
    x = nnx.max_pool(x, (3, 3), strides=(2, 2), padding=self.pool_padding)
    for block in self.blocks:
      x = block(x, train)
    return x


STRIDE = 32   # input pixels per output cell of the trunk
STAGES = {18: ((2, 2, 2, 2), BasicBlock), 34: ((3, 4, 6, 3), BasicBlock),
          50: ((3, 4, 6, 3), Bottleneck), 101: ((3, 4, 23, 3), Bottleneck),
          152: ((3, 8, 36, 3), Bottleneck)}


def resnet(depth: int, **kwargs) -> ResNet:
  """ResNet-{18,34,50,101,152} trunk. Raises ValueError for another depth."""
  if depth not in STAGES:
    raise ValueError(f'ResNet depth must be one of {sorted(STAGES)}, got {depth}')
  stages, block = STAGES[depth]
  return ResNet(stages, block, **kwargs)


ResNet18 = functools.partial(resnet, 18)
ResNet34 = functools.partial(resnet, 34)
ResNet50 = functools.partial(resnet, 50)
ResNet101 = functools.partial(resnet, 101)
ResNet152 = functools.partial(resnet, 152)
