"""3D soft-argmax throughput: mvssl's jitted JAX op vs the integral-regression reference formula
in PyTorch (softmax over the flattened volume, expectation against coordinate grids), in one run.

  python benchmarks/soft_argmax.py [--batch 8 32 --joints 17 --size 64 96 --iters 10]

For every batch x size: heatmaps/s (one heatmap = one joint's D x H x W volume) and effective
GB/s for forward and forward+backward, the JAX/PyTorch ratio, and the fraction of the machine's
memory bandwidth, measured in the same run by a copy kernel (the faster of XLA's ``x + 1`` and
NumPy's ``copyto``, read + write bytes / s). Effective bytes are the least any implementation
must move: the logits read once (forward), plus the gradient written once (forward+backward).
Needs torch for the comparison (pip install torch==2.13.0, CPU wheel).
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


def copy_bandwidth(nbytes, iters):
  """The machine's memory bandwidth (GB/s, read + write) by a copy of ``nbytes``: the faster of
  XLA's fused ``x + 1`` on the default device and NumPy's copyto (host)."""
  x = jnp.zeros(nbytes // 4, jnp.float32)
  add = jax.jit(lambda v: v + 1.0)
  t_xla = _time(lambda: add(x).block_until_ready(), iters)
  a, b = np.zeros(nbytes // 4, np.float32), np.ones(nbytes // 4, np.float32)
  t_np = _time(lambda: np.copyto(a, b), iters) if jax.default_backend() == 'cpu' else np.inf
  return 2 * nbytes / min(t_xla, t_np) / 1e9


def one(batch, joints, size, iters, bandwidth, torch):
  shape = (batch, joints, size, size, size)
  n, nbytes = batch * joints, int(np.prod(shape)) * 4
  jf, jb = bench_jax(shape, iters)
  rows = [('mvssl JAX', jf, jb)]
  if torch is not None:
    tf, tb = bench_torch(shape, iters)
    rows.append(('PyTorch reference', tf, tb))
  for name, f, b in rows:
    print(f'B={batch:<3d} {size}^3  {name:18s} {n / f:10.0f} {nbytes / f / 1e9:7.2f} '
          f'{100 * nbytes / f / 1e9 / bandwidth:5.1f}% {n / b:12.0f} {2 * nbytes / b / 1e9:7.2f} '
          f'{100 * 2 * nbytes / b / 1e9 / bandwidth:5.1f}%')
  if len(rows) == 2:
    print(f'{"":12s}JAX/PyTorch: forward {rows[1][1] / jf:.2f}x, forward+backward '
          f'{rows[1][2] / jb:.2f}x')


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--batch', type=int, nargs='+', default=[8, 32])
  ap.add_argument('--joints', type=int, default=17)
  ap.add_argument('--size', type=int, nargs='+', default=[64, 96])
  ap.add_argument('--iters', type=int, default=10)
  args = ap.parse_args()
  print(f'3D soft-argmax, J={args.joints}, float32; JAX {jax.__version__} on '
        f'{jax.devices()[0].device_kind} ({jax.devices()[0].platform}); host '
        f'{platform.processor() or platform.machine()}')
  try:
    import torch
    print(f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads')
  except ImportError:
    torch = None
    print('PyTorch not installed: pip install torch==2.13.0 for the comparison')
  bandwidth = copy_bandwidth(512 * 2 ** 20, args.iters)
  x = jnp.zeros(128 * 2 ** 20, jnp.float32)
  expf = jax.jit(lambda v: jnp.sum(jnp.exp(v)))
  t_exp = _time(lambda: expf(x).block_until_ready(), args.iters)
  print(f'copy kernel: {bandwidth:.1f} GB/s (read + write); exp + sum kernel: '
        f'{x.size / t_exp / 1e9:.2f} G elements/s = {x.nbytes / t_exp / 1e9:.2f} GB/s of logits '
        f'(the limit where exp, not memory, bounds the soft-argmax)')
  print(f'{"":30s} {"fwd hm/s":>10s} {"GB/s":>7s} {"of bw":>6s} {"fwd+bwd hm/s":>12s} '
        f'{"GB/s":>7s} {"of bw":>6s}')
  for b in args.batch:
    for size in args.size:
      iters = max(2, args.iters * 8 * 64 ** 3 // (b * size ** 3))   # about equal time each
      one(b, args.joints, size, iters, bandwidth, torch)


if __name__ == '__main__':
  main()
