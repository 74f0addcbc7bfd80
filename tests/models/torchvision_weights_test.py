"""ImageNet initialisation from torchvision state dicts (issue 11, item 1).

The torchvision-layout twin (mvssl.models.torch_reference) stands in for torchvision's ResNet;
when torchvision itself imports, the same comparison runs against it too.
"""

import os

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from mvssl.models import resnet as resnet_lib
from mvssl.models import torchvision_weights as tvw

torch = pytest.importorskip('torch', reason='pip install torch==2.13.0 (weight import tests)')
from mvssl.models import torch_reference  # noqa: E402


def _randomise_bn(model, seed):
  """Random batch-norm statistics and affine terms, so eval-mode features test all four."""
  g = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, torch.nn.BatchNorm2d):
        m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
        m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
        m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
  return model.eval()


def _features_match(torch_trunk, depth, tmp_path, fmt):
  sd = torch_trunk.state_dict()
  if fmt == 'pth':
    path = str(tmp_path / f'resnet{depth}.pth')
    torch.save(sd, path)
  else:
    from safetensors.torch import save_file
    path = str(tmp_path / f'resnet{depth}.safetensors')
    save_file({k: v.contiguous() for k, v in sd.items()}, path)
  ours = resnet_lib.resnet(depth, padding='torchvision', rngs=nnx.Rngs(0))
  tvw.load_trunk(ours, tvw.read_state_dict(path), path)
  img = np.random.default_rng(depth).normal(size=(2, 64, 64, 3)).astype(np.float32)
  with torch.no_grad():
    want = torch_trunk.features(torch.from_numpy(img).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
  got = np.asarray(ours(jnp.asarray(img), train=False))
  assert got.shape == tuple(want.shape)
  np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('depth,fmt', [(18, 'pth'), (50, 'safetensors')])
def test_converted_trunk_gives_torchvision_features(depth, fmt, tmp_path):
  torch.manual_seed(depth)
  _features_match(_randomise_bn(torch_reference.resnet(depth), depth), depth, tmp_path, fmt)


@pytest.mark.parametrize('depth', [18, 50])
def test_against_torchvision_itself(depth, tmp_path):
  try:
    import torchvision
  except Exception as e:   # the PyPI wheel is built for CUDA torch: fails beside the CPU wheel
    pytest.skip(f'torchvision does not import here ({type(e).__name__}); the twin test covers it')
  torch.manual_seed(depth)
  tv = _randomise_bn(getattr(torchvision.models, f'resnet{depth}')(), depth)
  twin = torch_reference.resnet(depth)
  assert sorted(twin.state_dict()) == sorted(tv.state_dict())
  tv.features = lambda x: torch.nn.Sequential(*list(tv.children())[:-2])(x)
  _features_match(tv, depth, tmp_path, 'pth')


def test_twin_has_torchvision_state_dict_layout():
  """The names and shapes torchvision's resnet50 state dict has (its published layout)."""
  sd = torch_reference.resnet(50).state_dict()
  assert sd['conv1.weight'].shape == (64, 3, 7, 7)
  assert sd['layer1.0.downsample.0.weight'].shape == (256, 64, 1, 1)
  assert sd['layer2.0.conv2.weight'].shape == (128, 128, 3, 3)   # V1.5: stride on the 3x3
  assert sd['layer4.2.bn3.running_var'].shape == (2048,)
  assert sd['fc.weight'].shape == (1000, 2048)
  assert len([k for k in sd if k.endswith('.weight')]) == 107   # 53 conv + 53 BN + fc


def test_same_padding_differs_from_torchvision(tmp_path):
  """Why the trunk needs padding='torchvision' for these weights: 'same' gives other features."""
  sd = {k: v.numpy() for k, v in _randomise_bn(torch_reference.resnet(18), 1).state_dict().items()}
  img = jnp.asarray(np.random.default_rng(0).normal(size=(1, 64, 64, 3)), jnp.float32)
  outs = []
  for padding in ('same', 'torchvision'):
    trunk = resnet_lib.resnet(18, padding=padding, rngs=nnx.Rngs(0))
    tvw.load_trunk(trunk, {k: v for k, v in sd.items() if 'num_batches' not in k})
    outs.append(np.asarray(trunk(img)))
  assert np.abs(outs[0] - outs[1]).max() > 1e-2


def test_wrong_file_names_the_tensor(tmp_path):
  sd = {k: v.numpy() for k, v in torch_reference.resnet(18).state_dict().items()
        if 'num_batches' not in k}
  trunk = lambda depth=18, **kw: resnet_lib.resnet(depth, padding='torchvision',
                                                  rngs=nnx.Rngs(0), **kw)
  with pytest.raises(ValueError, match=r'layer1\.0\.conv1\.weight has shape \(64, 64, 3, 3\)'):
    tvw.load_trunk(trunk(50), sd, 'r18.pth')                      # ResNet-18 file, ResNet-50 trunk
  with pytest.raises(ValueError, match=r'tensor conv1\.weight has shape \(64, 3, 7, 7\).*\(16, 3'):
    tvw.load_trunk(trunk(num_filters=16), sd, 'r18.pth')          # narrow trunk
  no_bn = {k: v for k, v in sd.items() if k != 'layer3.1.bn2.running_var'}
  with pytest.raises(ValueError, match=r'tensor layer3\.1\.bn2\.running_var missing'):
    tvw.load_trunk(trunk(), no_bn, 'cut.pth')                     # a tensor left out
  extra = dict(sd, **{'layer4.2.conv1.weight': np.zeros((512, 512, 3, 3), np.float32)})
  with pytest.raises(ValueError, match=r'tensor layer4\.2\.conv1\.weight .*no place'):
    tvw.load_trunk(trunk(), extra, 'r34ish.pth')                  # deeper file
  with pytest.raises(ValueError, match='torchvision:PATH'):
    tvw.parse('imagenet:/x.pth')
  with pytest.raises(FileNotFoundError, match='README'):
    tvw.read_state_dict(str(tmp_path / 'missing.pth'))
  bad = tmp_path / 'bad.safetensors'
  bad.write_bytes(b'not a safetensors file')
  with pytest.raises(ValueError, match='bad.safetensors: not a readable state dict'):
    tvw.read_state_dict(str(bad))
  with pytest.raises(ValueError, match=r'\.npz'):
    open(tmp_path / 'w.npz', 'wb').close()
    tvw.read_state_dict(str(tmp_path / 'w.npz'))
  assert os.path.exists(tmp_path / 'w.npz')


def test_torch_twins_of_the_networks_and_dlt():
  """The PyTorch twins the benchmarks time: output shapes, and the batched DLT equals ours."""
  from mvssl.geometry import triangulation
  net = torch_reference.AlgebraicTriangulationNet(depth=18, width=8, deconv=16).eval()
  with torch.no_grad():
    j2d, conf = net(torch.rand(2, 3, 64, 64))
  assert j2d.shape == (2, 17, 2) and bool((conf > 0).all())
  integral = torch_reference.IntegralPoseNet(depth=18, width=8, depth_bins=8, deconv=16).eval()
  with torch.no_grad():
    assert integral(torch.rand(2, 3, 64, 64)).shape == (2, 17, 3)
  rng = np.random.default_rng(0)
  proj = rng.normal(size=(3, 4, 3, 4)).astype(np.float32)
  pts = rng.normal(size=(3, 4, 17, 2)).astype(np.float32)
  conf = rng.uniform(0.2, 1.0, size=(3, 4, 17)).astype(np.float32)
  got = torch_reference.triangulate(*(torch.from_numpy(a) for a in (proj, pts, conf))).numpy()
  import jax
  want = jax.vmap(jax.vmap(triangulation.dlt_triangulate, in_axes=(1, None, 1)))(
      jnp.asarray(pts), jnp.asarray(proj), jnp.asarray(conf))[0]
  np.testing.assert_allclose(got, np.asarray(want), rtol=1e-3, atol=1e-3)
