"""3D soft-argmax throughput: mvssl's jitted JAX op, its first form, and the integral-regression
reference formula in PyTorch (softmax over the flattened volume, expectation against coordinate
grids), in one run.

  python benchmarks/soft_argmax.py [--batch 8 32 --joints 17 --size 64 96 --iters 10]

For every batch x size: heatmaps/s (one heatmap = one joint's D x H x W volume) for forward and
forward+backward, JAX/PyTorch ratios, and the fraction of two limits measured in the same run:
the exp + sum limit (one fused exp and sum over the same logits: the least work any soft-argmax
forward does, since every voxel's exponential must be taken) for the forward, and the memory
bandwidth of a copy kernel (the faster of XLA's ``x + 1`` and NumPy's ``copyto``) for effective
bytes: the logits read once (forward), plus the gradient written once (forward+backward).
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


def bench_jax(shape, iters, op=soft_argmax_3d):
  x = jax.random.normal(jax.random.key(0), shape, jnp.float32)
  fwd = jax.jit(op)
  grad = jax.jit(jax.grad(lambda v: jnp.sum(op(v) * jnp.array([1.0, 2.0, 3.0]))))
  return (_time(lambda: fwd(x).block_until_ready(), iters),
          _time(lambda: grad(x).block_until_ready(), iters))


def exp_limit(shape, iters):
  """Seconds of one fused exp + sum over logits of ``shape``: the forward's floor."""
  x = jax.random.normal(jax.random.key(0), shape, jnp.float32)
  f = jax.jit(lambda v: jnp.sum(jnp.exp(v)))
  return _time(lambda: f(x).block_until_ready(), iters)


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
  t_exp = exp_limit(shape, iters)
  rows = [('mvssl JAX', *bench_jax(shape, iters))]
  if torch is not None:
    rows.append(('PyTorch reference', *bench_torch(shape, iters)))
  for name, f, b in rows:
    print(f'B={batch:<3d} {size}^3  {name:18s} {n / f:10.0f} {100 * t_exp / f:5.1f}% '
          f'{100 * nbytes / f / 1e9 / bandwidth:5.1f}% {n / b:12.0f} {100 * t_exp / b:5.1f}% '
          f'{100 * 2 * nbytes / b / 1e9 / bandwidth:5.1f}%')
  if torch is not None:
    print(f'{"":12s}JAX/PyTorch: forward {rows[1][1] / rows[0][1]:.2f}x, forward+backward '
          f'{rows[1][2] / rows[0][2]:.2f}x')


# Other forms of the same forward, measured by --forms (the op keeps the fastest training form).
def _expect(v, total):
  return jnp.sum(v * jnp.arange(v.shape[-1], dtype=v.dtype), -1) / total


def _finish(rows, rows_x):
  total = jnp.sum(rows, (-2, -1))
  return jnp.stack([jnp.sum(rows_x, (-2, -1)) / total, _expect(jnp.sum(rows, -2), total),
                    _expect(jnp.sum(rows, -1), total)], -1)


def _q(x):
  return jnp.exp(x - jax.lax.stop_gradient(jnp.max(x, (-3, -2, -1), keepdims=True)))


def form_rows(x):
  """Each row of W voxels reduced to its sum and its x-weighted sum (two [D, H] tables)."""
  q = _q(x)
  return _finish(jnp.sum(q, -1), jnp.sum(q * jnp.arange(x.shape[-1], dtype=q.dtype), -1))


def form_variadic(x):
  """The same two row sums in one variadic ``lax.reduce``."""
  q = _q(x)
  w = jnp.broadcast_to(jnp.arange(x.shape[-1], dtype=q.dtype), q.shape)
  s, sx = jax.lax.reduce((q, q * w), (0.0, 0.0), lambda a, b: (a[0] + b[0], a[1] + b[1]),
                         (x.ndim - 1,))
  return _finish(s, sx)


def form_contraction(x):
  """The two row sums as one contraction with a [W, 2] matrix of ones and x."""
  q = _q(x)
  w = x.shape[-1]
  r = q @ jnp.stack([jnp.ones(w, q.dtype), jnp.arange(w, dtype=q.dtype)], -1)
  return _finish(r[..., 0], r[..., 1])


def form_row_max(x):
  """Online normalisation: each row's own maximum, rows rescaled to the volume's after."""
  rm = jax.lax.stop_gradient(jnp.max(x, -1, keepdims=True))
  q = jnp.exp(x - rm)
  s, sx = jnp.sum(q, -1), jnp.sum(q * jnp.arange(x.shape[-1], dtype=q.dtype), -1)
  scale = jnp.exp(rm[..., 0] - jnp.max(rm[..., 0], (-2, -1), keepdims=True))
  return _finish(s * scale, sx * scale)


FORMS = (('the op (one reduction per axis)', soft_argmax_3d), ('rows + x-weighted rows', form_rows),
         ('variadic reduce', form_variadic), ('contraction with [1, x]', form_contraction),
         ('row maxima (online)', form_row_max))


def forms(batch, joints, size, iters):
  """Every form's forward (and forward+backward where it has one) against the op, and the
  parts that bound them: the maximum alone, exp + sum, and exp(x - max) written out."""
  shape = (batch, joints, size, size, size)
  x = jax.random.normal(jax.random.key(0), shape, jnp.float32)
  ref = soft_argmax_3d(x)
  parts = dict(
      max=jax.jit(lambda v: jnp.max(v, (-3, -2, -1))),
      exp_sum=jax.jit(lambda v: jnp.sum(jnp.exp(v))),
      exp_minus_max_written=jax.jit(_q))
  t = {k: _time(lambda f=f: f(x).block_until_ready(), iters) for k, f in parts.items()}
  print(f'B={batch} {size}^3: max {t["max"] * 1e3:.1f} ms, exp + sum {t["exp_sum"] * 1e3:.1f} '
        f'ms, exp(x - max) written out {t["exp_minus_max_written"] * 1e3:.1f} ms')
  w3 = jnp.array([1.0, 2.0, 3.0])
  for name, f in FORMS:
    fwd = jax.jit(f)
    err = float(jnp.max(jnp.abs(fwd(x) - ref) / jnp.maximum(jnp.abs(ref), 1.0)))
    tf = _time(lambda: fwd(x).block_until_ready(), iters)
    g = jax.jit(jax.grad(lambda v: jnp.sum(f(v) * w3)))
    tb = f'{_time(lambda: g(x).block_until_ready(), iters) * 1e3:8.1f} ms'
    print(f'  {name:32s} forward {tf * 1e3:7.1f} ms ({100 * t["exp_sum"] / tf:4.1f}% of exp + '
          f'sum), forward+backward {tb}, max rel. difference from the op {err:.1e}')


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--batch', type=int, nargs='+', default=[8, 32])
  ap.add_argument('--joints', type=int, default=17)
  ap.add_argument('--size', type=int, nargs='+', default=[64, 96])
  ap.add_argument('--iters', type=int, default=10)
  ap.add_argument('--forms', action='store_true',
                  help='also time other forms of the forward (why the op is what it is)')
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
  print(f'{"":30s} {"fwd hm/s":>10s} {"of exp":>6s} {"of bw":>6s} {"fwd+bwd hm/s":>12s} '
        f'{"of exp":>6s} {"of bw":>6s}')
  for b in args.batch:
    for size in args.size:
      iters = max(2, args.iters * 8 * 64 ** 3 // (b * size ** 3))   # about equal time each
      one(b, args.joints, size, iters, bandwidth, torch)
  if args.forms:
    for b in args.batch:
      for size in args.size:
        forms(b, args.joints, size, max(2, args.iters * 8 * 64 ** 3 // (b * size ** 3)))


if __name__ == '__main__':
  main()
