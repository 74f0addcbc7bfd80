"""PyTorch twins of our networks, for the weight-import tests and the PyTorch side of the
benchmarks (needs torch: ``pip install torch==2.13.0``; nothing in training imports this module).

* :func:`resnet` is torchvision's ResNet (``torchvision.models.resnet``, V1.5: the stride on the
  bottleneck's 3x3 convolution) with torchvision's parameter names, written out here because
  torchvision's PyPI wheels are built against CUDA PyTorch and do not import beside the CPU wheel.
  Its state dict has the keys and shapes of torchvision's (``conv1``, ``bn1``, ``layer1.0.conv1``,
  ``layer1.0.downsample.0``, ``fc``), so a test can stand in for a torchvision checkpoint with it.
* :class:`IntegralPoseNet` is the single-view model (:class:`mvssl.models.pose_net.IntegralPoseNet`)
  in PyTorch: trunk, three ConvTranspose2d(k=4, s=2, p=1) + BN + ReLU, a 1x1 convolution to J*D
  channels and the 3D soft-argmax (Sun et al. 2018), NCHW in, joints [B, J, 3] (x, y, z cells) out.
"""

from __future__ import annotations

import torch
from torch import nn

STAGES = {18: ((2, 2, 2, 2), 'basic'), 34: ((3, 4, 6, 3), 'basic'),
          50: ((3, 4, 6, 3), 'bottleneck'), 101: ((3, 4, 23, 3), 'bottleneck'),
          152: ((3, 8, 36, 3), 'bottleneck')}


def _conv(cin, cout, k, stride=1):
  return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)


class BasicBlock(nn.Module):
  expansion = 1

  def __init__(self, cin, planes, stride):
    super().__init__()
    self.conv1, self.bn1 = _conv(cin, planes, 3, stride), nn.BatchNorm2d(planes)
    self.conv2, self.bn2 = _conv(planes, planes, 3), nn.BatchNorm2d(planes)
    self.relu = nn.ReLU(inplace=True)
    self.downsample = None
    if stride != 1 or cin != planes:
      self.downsample = nn.Sequential(_conv(cin, planes, 1, stride), nn.BatchNorm2d(planes))

  def forward(self, x):
    y = self.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
  expansion = 4

  def __init__(self, cin, planes, stride):
    super().__init__()
    out = planes * 4
    self.conv1, self.bn1 = _conv(cin, planes, 1), nn.BatchNorm2d(planes)
    self.conv2, self.bn2 = _conv(planes, planes, 3, stride), nn.BatchNorm2d(planes)
    self.conv3, self.bn3 = _conv(planes, out, 1), nn.BatchNorm2d(out)
    self.relu = nn.ReLU(inplace=True)
    self.downsample = None
    if stride != 1 or cin != out:
      self.downsample = nn.Sequential(_conv(cin, out, 1, stride), nn.BatchNorm2d(out))

  def forward(self, x):
    y = self.relu(self.bn1(self.conv1(x)))
    y = self.relu(self.bn2(self.conv2(y)))
    y = self.bn3(self.conv3(y))
    return self.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
  """torchvision's ResNet; :meth:`features` is the trunk (no pooling / FC): NCHW -> NCHW /32."""

  def __init__(self, depth: int, width: int = 64, num_classes: int = 1000):
    super().__init__()
    stages, kind = STAGES[depth]
    block = BasicBlock if kind == 'basic' else Bottleneck
    self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
    self.bn1, self.relu = nn.BatchNorm2d(width), nn.ReLU(inplace=True)
    self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
    cin = width
    for s, n in enumerate(stages):
      layers = []
      for i in range(n):
        layers.append(block(cin, width * 2 ** s, 2 if s > 0 and i == 0 else 1))
        cin = width * 2 ** s * block.expansion
      setattr(self, f'layer{s + 1}', nn.Sequential(*layers))
    self.out_channels = cin
    self.avgpool = nn.AdaptiveAvgPool2d(1)
    self.fc = nn.Linear(cin, num_classes)

  def features(self, x):
    x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
    return self.layer4(self.layer3(self.layer2(self.layer1(x))))

  def forward(self, x):
    return self.fc(torch.flatten(self.avgpool(self.features(x)), 1))


def resnet(depth: int, width: int = 64) -> ResNet:
  """torchvision's ``resnet{depth}()`` (random initialisation; ``width`` 64 = torchvision's)."""
  return ResNet(depth, width)


def soft_argmax_3d(logits):
  """[B, J, D, H, W] -> [B, J, 3] (x, y, z) expected cell (Sun et al. 2018 eq. 3), as marginals."""
  b, j, d, h, w = logits.shape
  p = torch.softmax(logits.reshape(b, j, -1), dim=-1).reshape(b, j, d, h, w)
  ar = lambda n: torch.arange(n, dtype=p.dtype, device=p.device)
  return torch.stack([(p.sum((2, 3)) * ar(w)).sum(-1), (p.sum((2, 4)) * ar(h)).sum(-1),
                      (p.sum((3, 4)) * ar(d)).sum(-1)], -1)


def deconv_head(cin, out, channels=256, num_layers=3):
  """num_layers x (ConvTranspose2d(k=4, s=2, p=1) + BN + ReLU), then a 1x1 convolution to out."""
  layers = []
  for _ in range(num_layers):
    layers += [nn.ConvTranspose2d(cin, channels, 4, stride=2, padding=1, bias=False),
               nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
    cin = channels
  return nn.Sequential(*layers, nn.Conv2d(cin, out, 1))


class IntegralPoseNet(nn.Module):
  """The paper's single-view model in PyTorch: images [B, 3, S, S] -> joints [B, J, 3]."""

  def __init__(self, depth=50, width=64, joints=17, depth_bins=64, deconv=256, num_deconv=3):
    super().__init__()
    self.backbone = resnet(depth, width)
    self.head = deconv_head(self.backbone.out_channels, joints * depth_bins, deconv, num_deconv)
    self.joints, self.depth_bins = joints, depth_bins

  def forward(self, x):
    y = self.head(self.backbone.features(x))
    b, _, h, w = y.shape
    return soft_argmax_3d(y.reshape(b, self.joints, self.depth_bins, h, w).float())


def soft_argmax_2d(logits):
  """[N, J, H, W] -> [N, J, 2] (x, y) expected cell."""
  n, j, h, w = logits.shape
  p = torch.softmax(logits.reshape(n, j, -1), dim=-1).reshape(n, j, h, w)
  ar = lambda k: torch.arange(k, dtype=p.dtype, device=p.device)
  return torch.stack([(p.sum(2) * ar(w)).sum(-1), (p.sum(3) * ar(h)).sum(-1)], -1)


def triangulate(proj, points, conf):
  """Confidence-weighted DLT (Iskakov et al. 2019), batched: proj [B, V, 3, 4], points
  [B, V, J, 2], conf [B, V, J] -> [B, J, 3]."""
  rows = torch.cat([points[..., 0:1] * proj[:, :, None, 2] - proj[:, :, None, 0],
                    points[..., 1:2] * proj[:, :, None, 2] - proj[:, :, None, 1]], 1)
  a = (rows * torch.cat([conf, conf], 1)[..., None]).transpose(1, 2)     # [B, J, 2V, 4]
  xh = torch.linalg.svd(a, full_matrices=False)[2][..., -1, :]
  return xh[..., :3] / xh[..., 3:]


class AlgebraicTriangulationNet(nn.Module):
  """G in PyTorch (:class:`mvssl.models.pose_net.AlgebraicTriangulationNet`): images [N, 3, S, S]
  -> (joints_2d [N, J, 2] cells of the S/4 grid, confidences [N, J] > 0)."""

  def __init__(self, depth=50, width=64, joints=17, deconv=256, num_deconv=3):
    super().__init__()
    self.backbone = resnet(depth, width)
    self.head = deconv_head(self.backbone.out_channels, joints, deconv, num_deconv)
    c = self.backbone.out_channels
    self.conf = nn.Sequential(nn.Linear(c, max(32, c // 4)), nn.ReLU(),
                              nn.Linear(max(32, c // 4), joints), nn.Softplus())

  def forward(self, x):
    feats = self.backbone.features(x)
    conf = self.conf(feats.float().mean((2, 3))) + 1e-3
    return soft_argmax_2d(self.head(feats).float()), conf
