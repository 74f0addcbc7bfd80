"""The paper-size train steps, JAX against PyTorch in the same run: images/s and peak memory.

  python benchmarks/train_step.py [--sizes 384:96 256:64 --batch 8 --steps 5 --dtype float32]

For each input size S and depth D: the single-view integral model's step (ResNet-50, three
256-channel deconvolutions, J x D volumes, 3D soft-argmax, L1 on the codec's targets, Adam; the
same compiled step as training, :mod:`mvssl.train.step`) and G's step (the algebraic
triangulation model: 2D heatmaps, confidences, the DLT and its loss) on 4-view frames, batch in
frames (images = 4 x batch); then the PyTorch twins of both
(:mod:`mvssl.models.torch_reference`, the same layers; G's DLT by batched ``torch.linalg.svd``
with stand-in cameras; channels_last, and bfloat16 autocast on a GPU) with the same losses and
optimizer. Each framework runs in its own
process so that peak memory is its own: on a GPU the device's peak allocation, on CPU the peak
resident memory of the process. ``--dtype bfloat16`` runs JAX's mixed precision
(config.model.dtype). Needs torch for the comparison (pip install torch==2.13.0).
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')


def _peak_mb(jax_device=None):
  if jax_device is not None and jax_device.platform != 'cpu':
    return jax_device.memory_stats()['peak_bytes_in_use'] / 2 ** 20
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_jax(family, size, depth_bins, batch, steps, dtype):
  import jax
  sys.path.insert(0, ROOT)
  from configs import default
  from mvssl import parallel
  from mvssl.data.synthetic import synthetic_batch
  from mvssl.train import families
  from mvssl.train import state as state_lib
  from mvssl.train import step as step_lib
  config = default.paper_sized(default.get_config())
  config.model.update(image_size=size, depth_bins=depth_bins, dtype=dtype)
  fam = families.FAMILIES[family]
  data, codec = synthetic_batch(config, n=batch)
  model = fam.build(config.model, axis_name=parallel.AXIS, seed=0)
  sch = config.schedules.finetune
  state = state_lib.TrainState.create(model, state_lib.make_optimizer(config.optimizer, sch))
  loss = lambda m, b, rng: fam.loss(m, b, codec=codec, weights=families.LossWeights(
      l1=1.0, mm_3d=0.01 if family == 'algebraic' else 0.0))
  dp = parallel.DataParallel(step_lib.make_train_step(loss), parallel.make_mesh(1))
  state = dp.put_state(state)
  device_batch = dp.put_batch(data)
  t0 = time.perf_counter()
  state, metrics = dp(state, device_batch)
  jax.block_until_ready(metrics)
  compile_s = time.perf_counter() - t0
  t0 = time.perf_counter()
  for _ in range(steps):
    state, metrics = dp(state, device_batch)
  jax.block_until_ready(metrics)
  dt = (time.perf_counter() - t0) / steps
  dev = jax.devices()[0]
  return dict(images_s=batch * 4 / dt, step_ms=dt * 1e3, peak_mb=_peak_mb(dev),
              first_step_s=compile_s, loss=float(metrics['loss']),
              device=f'{dev.device_kind} ({dev.platform})', version=f'JAX {jax.__version__}')


def run_torch(family, size, depth_bins, batch, steps):
  import torch
  sys.path.insert(0, ROOT)
  from mvssl.models import torch_reference
  cuda = torch.cuda.is_available()
  dev = torch.device('cuda' if cuda else 'cpu')
  g = torch.Generator(device='cpu').manual_seed(0)
  n, h = batch * 4, size // 4
  if family == 'integral':
    model = torch_reference.IntegralPoseNet(depth_bins=depth_bins)
    target = (torch.rand(n, 17, 3, generator=g) * torch.tensor([h, h, depth_bins])).to(dev)
  else:
    model = torch_reference.AlgebraicTriangulationNet()
    target = (torch.rand(n, 17, 2, generator=g) * h).to(dev)
    proj = torch.randn(batch, 4, 3, 4, generator=g).to(dev)          # stand-in cameras
    target_3d = torch.randn(batch, 17, 3, generator=g).to(dev)
  model = model.to(dev).to(memory_format=torch.channels_last).train()
  opt = torch.optim.Adam(model.parameters(), lr=5e-4)
  x = torch.rand(n, 3, size, size, generator=g).to(dev).contiguous(
      memory_format=torch.channels_last)

  def step():
    opt.zero_grad(set_to_none=True)
    with torch.autocast('cuda', dtype=torch.bfloat16, enabled=cuda):
      out = model(x)
    if family == 'integral':
      loss = (out.float() - target).abs().mean()
    else:   # G's loss: 2D L1 + 0.01 x 3D L1 of the confidence-weighted DLT
      j2d, conf = out
      pts = (j2d.float() * 4).reshape(batch, 4, 17, 2)
      p3 = torch_reference.triangulate(proj, pts, conf.float().reshape(batch, 4, 17))
      loss = (j2d.float() - target).abs().mean() + 0.01 * (p3 - target_3d).abs().mean()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
    opt.step()
    return loss

  sync = torch.cuda.synchronize if cuda else (lambda: None)
  t0 = time.perf_counter()
  step()
  sync()
  first = time.perf_counter() - t0
  if cuda:
    torch.cuda.reset_peak_memory_stats()
  t0 = time.perf_counter()
  for _ in range(steps):
    loss = step()
  sync()
  dt = (time.perf_counter() - t0) / steps
  peak = torch.cuda.max_memory_allocated() / 2 ** 20 if cuda else _peak_mb()
  return dict(images_s=n / dt, step_ms=dt * 1e3, peak_mb=peak, first_step_s=first,
              loss=float(loss), device=torch.cuda.get_device_name() if cuda else 'cpu',
              version=f'PyTorch {torch.__version__}' + (', bf16 autocast' if cuda else '') +
              f', {torch.get_num_threads()} threads')


def _child(args, what, size, depth_bins):
  cmd = [sys.executable, __file__, '--child', what, '--sizes', f'{size}:{depth_bins}',
         '--batch', str(args.batch), '--steps', str(args.steps), '--dtype', args.dtype]
  out = subprocess.run(cmd, capture_output=True, text=True, check=False)
  if out.returncode:
    return dict(error=(out.stderr.strip().splitlines() or ['failed'])[-1])
  return json.loads(out.stdout.strip().splitlines()[-1])


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--sizes', nargs='+', default=['384:96', '256:64'],
                  help='input size S : depth bins D')
  ap.add_argument('--batch', type=int, default=8, help='4-view frames per step (configs: 8)')
  ap.add_argument('--steps', type=int, default=5, help='timed steps after one warm-up step')
  ap.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'))
  ap.add_argument('--child', default='', help=argparse.SUPPRESS)
  args = ap.parse_args()
  if args.child:
    size, d = map(int, args.sizes[0].split(':'))
    if args.child.startswith('torch_'):
      print(json.dumps(run_torch(args.child[6:], size, d, args.batch, args.steps)))
    else:
      print(json.dumps(run_jax(args.child, size, d, args.batch, args.steps, args.dtype)))
    return
  print(f'train steps, batch {args.batch} frames x 4 views, {args.steps} timed steps; host '
        f'{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs')
  print(f'{"S":>4s} {"D":>3s} {"step":32s} {"images/s":>9s} {"ms/step":>9s} {"peak MB":>9s} '
        f'{"1st step s":>10s}  device, version')
  for spec in args.sizes:
    size, d = map(int, spec.split(':'))
    rows = {}
    for what, label in (('integral', f'single-view, JAX {args.dtype}'),
                        ('torch_integral', 'single-view, PyTorch twin'),
                        ('algebraic', f'G (algebraic), JAX {args.dtype}'),
                        ('torch_algebraic', 'G, PyTorch twin')):
      r = rows[what] = _child(args, what, size, d)
      if 'error' in r:
        print(f'{size:4d} {d:3d} {label:32s} {r["error"]}')
        continue
      print(f'{size:4d} {d:3d} {label:32s} {r["images_s"]:9.2f} {r["step_ms"]:9.0f} '
            f'{r["peak_mb"]:9.0f} {r["first_step_s"]:10.1f}  {r["device"]}, {r["version"]}',
            flush=True)
    for fam in ('integral', 'algebraic'):
      if 'images_s' in rows[fam] and 'images_s' in rows['torch_' + fam]:
        print(f'{"":9s}{fam} JAX / PyTorch images/s: '
              f'{rows[fam]["images_s"] / rows["torch_" + fam]["images_s"]:.2f}x')


if __name__ == '__main__':
  main()
