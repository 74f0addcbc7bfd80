"""3D soft-argmax throughput: mvssl's jitted JAX op vs the integral-regression reference formula
in PyTorch (softmax over the flattened volume, expectation against coordinate grids), in one run.

  python benchmarks/soft_argmax.py [--batch 8 --joints 17 --size 64 --iters 20]

Prints heatmaps/s (one heatmap = one joint's D x H x W volume) and effective GB/s (bytes of logits
read, plus gradient written for forward+backward) for forward and forward+backward, and the JAX/
PyTorch ratio. Needs torch for the comparison (pip install torch==2.13.0, CPU wheel).
"""

import argparse
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from mvssl.ops.soft_argmax import soft_argmax_3d


def _time(fn, iters):
  fn()  # warm-up (compilation)
  fn()
  t = time.perf_counter()
  for _ in range(iters):
    fn()
  return (time.perf_counter() - t) / iters


def bench_jax(shape, iters):
  x = jax.random.normal(jax.random.key(0), shape, jnp.float32)
  fwd = jax.jit(soft_argmax_3d)
  grad = jax.jit(jax.grad(lambda v: jnp.sum(soft_argmax_3d(v) * jnp.array([1.0, 2.0, 3.0]))))
  return (_time(lambda: fwd(x).block_until_ready(), iters),
          _time(lambda: grad(x).block_until_ready(), iters))


def bench_torch(shape, iters):
  import torch
  b, j, d, h, w = shape
  x = torch.randn(shape, dtype=torch.float32)
  zz, yy, xx = torch.meshgrid(torch.arange(d, dtype=torch.float32),
                              torch.arange(h, dtype=torch.float32),
                              torch.arange(w, dtype=torch.float32), indexing='ij')
  grid = torch.stack([xx, yy, zz], -1).reshape(-1, 3)                  # [DHW, 3]

  def ref(v):  # Sun et al. 2018 eq. 3: J = sum_p p * softmax(H)(p)
    p = torch.softmax(v.reshape(b, j, -1), dim=-1)
    return p @ grid

  w3 = torch.tensor([1.0, 2.0, 3.0])

  def fwd():
    with torch.no_grad():
      ref(x)

  def fwd_bwd():
    v = x.detach().requires_grad_(True)
    (ref(v) * w3).sum().backward()

  return _time(fwd, iters), _time(fwd_bwd, iters)


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--batch', type=int, default=8)
  ap.add_argument('--joints', type=int, default=17)
  ap.add_argument('--size', type=int, default=64)
  ap.add_argument('--iters', type=int, default=20)
  args = ap.parse_args()
  shape = (args.batch, args.joints, args.size, args.size, args.size)
  n = args.batch * args.joints
  nbytes = np.prod(shape) * 4
  print(f'3D soft-argmax, B={args.batch} J={args.joints} {args.size}^3 float32 '
        f'({nbytes / 1e6:.0f} MB of logits)')
  print(f'JAX {jax.__version__} on {jax.devices()[0].device_kind} ({jax.devices()[0].platform}); '
        f'host {platform.processor() or platform.machine()}')
  jf, jb = bench_jax(shape, args.iters)
  rows = [('mvssl JAX', jf, jb)]
  try:
    import torch
    print(f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads')
    tf, tb = bench_torch(shape, args.iters)
    rows.append(('PyTorch reference', tf, tb))
  except ImportError:
    print('PyTorch not installed: pip install torch==2.13.0 for the comparison')
  print(f'{"":20s} {"fwd heatmaps/s":>15s} {"fwd GB/s":>9s} {"fwd+bwd heatmaps/s":>19s} '
        f'{"fwd+bwd GB/s":>13s}')
  for name, f, b in rows:
    print(f'{name:20s} {n / f:15.0f} {nbytes / f / 1e9:9.2f} {n / b:19.0f} '
          f'{2 * nbytes / b / 1e9:13.2f}')
  if len(rows) == 2:
    print(f'ratio JAX/PyTorch (throughput): forward {rows[1][1] / jf:.2f}x, '
          f'forward+backward {rows[1][2] / jb:.2f}x')


if __name__ == '__main__':
  main()
