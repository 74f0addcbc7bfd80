"""ImageNet initialisation: torchvision ResNet weights -> our NNX trunk (mvssl.models.resnet).

``config.model.init_from='torchvision:PATH'`` loads a torchvision ResNet-18/34/50/101/152 state
dict into the trunk of every freshly initialised image network (the paper's ResNet-50 "ImageNet
init"); the deconvolution head and G's confidence head start as before. PATH is a ``.pth``/``.pt``
file (read with torch, ``weights_only=True``) or a ``.safetensors`` file (read without torch).
Nothing is downloaded: the README names the file to fetch, e.g. torchvision's
``resnet50-11ad3fa6.pth`` (IMAGENET1K_V2) or ``resnet50-0676ba61.pth`` (IMAGENET1K_V1).

Mapping (torchvision name -> ours): ``conv1``/``bn1`` -> ``stem``/``stem_bn``;
``layer{s}.{i}.conv{k}``/``bn{k}`` -> the i-th block of stage s; ``downsample.0``/``.1`` ->
``proj``/``proj_bn``; ``fc.*`` and ``num_batches_tracked`` are not used. Convolution weights
[O, I, kh, kw] become kernels [kh, kw, I, O]; batch norm ``weight, bias, running_mean,
running_var`` become ``scale, bias, mean, var`` (epsilon 1e-5 in both). The trunk must be built
with ``padding='torchvision'`` to give torchvision's features (symmetric padding of its stride-2
3x3 convolutions and max-pool). Both networks expect RGB in [0, 1] normalised by ImageNet's mean
(0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225), which :mod:`mvssl.models.pose_net` applies.
"""

from __future__ import annotations

import os

import jax.numpy as jnp
import numpy as np
from flax import nnx

from mvssl.models import resnet as resnet_lib

SCHEME = 'torchvision:'
_UNUSED = ('fc.weight', 'fc.bias')


def parse(spec: str) -> str:
  """'torchvision:PATH' -> PATH.

  Raises:
    ValueError: naming config.model.init_from for another scheme or an empty path.
  """
  if not spec.startswith(SCHEME) or not spec[len(SCHEME):]:
    raise ValueError(f'config.model.init_from must be "" or "torchvision:PATH" (a torchvision '
                     f'ResNet .pth or .safetensors file); got {spec!r}')
  return os.path.expanduser(spec[len(SCHEME):])


def read_state_dict(path: str) -> dict[str, np.ndarray]:
  """A torchvision state dict from ``.pth``/``.pt`` (needs torch) or ``.safetensors`` (does not)
  -> {name: float32 array}.

  Raises:
    FileNotFoundError: no such file.
    ValueError: another extension, or a file that is not a state dict (one line, the remedy).
  """
  if not os.path.isfile(path):
    raise FileNotFoundError(f'{path}: no such file (config.model.init_from); download the '
                            f'torchvision ResNet weights (README "ImageNet initialisation")')
  ext = os.path.splitext(path)[1].lower()
  try:
    if ext == '.safetensors':
      from safetensors.numpy import load_file   # pylint: disable=import-outside-toplevel
      tensors = load_file(path)
    elif ext in ('.pth', '.pt'):
      try:
        import torch   # pylint: disable=import-outside-toplevel
      except ImportError as e:
        raise ValueError(f'{path}: reading a .pth file needs PyTorch (pip install '
                         f'torch==2.13.0), or convert it to .safetensors') from e
      sd = torch.load(path, map_location='cpu', weights_only=True)
      sd = sd.get('state_dict', sd) if isinstance(sd, dict) else sd
      if not isinstance(sd, dict):
        raise ValueError(f'{path}: holds a {type(sd).__name__}, not a state dict; save '
                         f'model.state_dict()')
      tensors = {k: v.detach().float().numpy() for k, v in sd.items()
                 if hasattr(v, 'numpy') and v.is_floating_point()}
    else:
      raise ValueError(f'{path}: config.model.init_from takes a .pth, .pt or .safetensors '
                       f'file; got {ext or "no extension"}')
  except (ValueError, FileNotFoundError):
    raise
  except Exception as e:   # a damaged or foreign file: torch / safetensors say why
    raise ValueError(f'{path}: not a readable state dict ({type(e).__name__}: {e}); download '
                     f'it again') from e
  return {k.removeprefix('module.'): np.asarray(v, np.float32) for k, v in tensors.items()
          if not k.endswith('num_batches_tracked')}


def _layers(trunk: resnet_lib.ResNet):
  """(torchvision name, our conv or batch norm module) for every layer of the trunk."""
  yield 'conv1', trunk.stem
  yield 'bn1', trunk.stem_bn
  blocks = iter(trunk.blocks)
  for s, n in enumerate(trunk.stage_sizes):
    for i in range(n):
      block, prefix = next(blocks), f'layer{s + 1}.{i}.'
      k = 1
      while hasattr(block, f'conv{k}'):
        yield f'{prefix}conv{k}', getattr(block, f'conv{k}')
        yield f'{prefix}bn{k}', getattr(block, f'bn{k}')
        k += 1
      if block.proj is not None:
        yield f'{prefix}downsample.0', block.proj
        yield f'{prefix}downsample.1', block.proj_bn


def _take(sd, name, shape, path, hint):
  if name not in sd:
    raise ValueError(f'{path}: tensor {name} missing; {hint}')
  a = sd.pop(name)
  if a.shape != tuple(shape):
    raise ValueError(f'{path}: tensor {name} has shape {a.shape}, the trunk expects '
                     f'{tuple(shape)}; {hint}')
  return a


def load_trunk(trunk: resnet_lib.ResNet, state_dict: dict[str, np.ndarray], path: str = '<dict>'):
  """Copies a torchvision ResNet state dict into ``trunk`` in place.

  Raises:
    ValueError: one line naming the first missing, mismatched or unexpected tensor and the
      config fields that choose the trunk (resnet_depth, num_filters).
  """
  sd = dict(state_dict)
  hint = ('is it a torchvision ResNet with the trunk of config.model (resnet_depth, '
          'num_filters=64)?')
  for name, layer in _layers(trunk):
    if isinstance(layer, nnx.Conv):
      kh, kw, cin, cout = layer.kernel.value.shape
      w = _take(sd, f'{name}.weight', (cout, cin, kh, kw), path, hint)
      layer.kernel.value = jnp.asarray(w.transpose(2, 3, 1, 0))
    else:
      (c,) = layer.scale.value.shape
      for ours, theirs in (('scale', 'weight'), ('bias', 'bias'), ('mean', 'running_mean'),
                           ('var', 'running_var')):
        getattr(layer, ours).value = jnp.asarray(_take(sd, f'{name}.{theirs}', (c,), path, hint))
  extra = sorted(k for k in sd if k not in _UNUSED)
  if extra:
    raise ValueError(f'{path}: tensor {extra[0]} (and {len(extra) - 1} more) has no place in the '
                     f'trunk; {hint}')


def init_from(model: nnx.Module, spec: str) -> bool:
  """Loads ``spec`` ('torchvision:PATH') into ``model.backbone`` when the model has a ResNet
  trunk. -> whether it did (a lifting network has none). Raises as the functions above."""
  trunk = getattr(model, 'backbone', None)
  if not spec or not isinstance(trunk, resnet_lib.ResNet):
    return False
  path = parse(spec)
  load_trunk(trunk, read_state_dict(path), path)
  return True
