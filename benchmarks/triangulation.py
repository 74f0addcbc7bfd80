"""Vectorised confidence-weighted DLT (mvssl.geometry.triangulation) against learnable-
triangulation's per-joint SVD loop and a batched ``torch.linalg.svd``, in one run, with the error
of each against the true points.

  python benchmarks/triangulation.py [--poses 4096 --views 4 --noise 2 --iters 5]

Procedural poses (17 joints) seen by a procedural Human3.6M-like rig (1000 x 1000 px), 2D points
with Gaussian noise (px) and random confidences. Every method solves the same conditioned problem
(normalised camera coordinates, world frame centred on the cameras and scaled, as
``triangulate_views`` builds it); the PyTorch methods get its DLT matrices as input, so their time
is the SVD and the de-homogenisation only. Needs torch for the comparison (pip install
torch==2.13.0).
"""

import argparse
import functools
import time

import jax
import jax.numpy as jnp
import numpy as np

from mvssl.data import poses as poses_lib
from mvssl.geometry import camera as camlib
from mvssl.geometry import triangulation


def _time(fn, iters):
  fn()
  fn()
  t = time.perf_counter()
  for _ in range(iters):
    fn()
  return (time.perf_counter() - t) / iters


def problem(n, num_views, noise, seed=0):
  """-> cams [V], points [n, V, J, 2] px, weights [n, V, J], true poses [n, J, 3] mm."""
  rng = np.random.default_rng(seed)
  cams = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32),
                      camlib.stack(poses_lib.procedural_rig(rng, num_views)))
  poses = jnp.asarray(poses_lib.procedural_poses(n, rng), jnp.float32)
  uv = jax.jit(jax.vmap(lambda p: camlib.project_to_views(cams, p)))(poses)
  uv = uv + jnp.asarray(rng.normal(size=uv.shape) * noise, jnp.float32)
  w = jnp.asarray(rng.uniform(0.5, 1.0, uv.shape[:3]), jnp.float32)
  return cams, uv, w, poses


def conditioned(cams, uv, w):
  """triangulate_views' conditioned problem: normalised points xy [n, V, J, 2], projections
  [V, 3, 4] in the scaled, centred world frame (c, s), DLT matrices A [n*J, 2V, 4] (numpy)."""
  xy = jax.vmap(lambda c, p: camlib.undistort(c, camlib._invert_k(c.K, p)), in_axes=(0, 1),
                out_axes=1)(cams, uv)                                     # [n, V, J, 2]
  centres = cams.center
  c = jnp.mean(centres, 0)
  s = jnp.sqrt(jnp.mean(jnp.sum((centres - c) ** 2, -1))) + 1e-6
  t = (cams.t + jnp.einsum('vij,j->vi', cams.R, c)) / s
  proj = jnp.concatenate([cams.R, t[..., None]], -1)                      # [V, 3, 4]
  rows = jnp.concatenate([xy[..., 0:1] * proj[None, :, None, 2] - proj[None, :, None, 0],
                          xy[..., 1:2] * proj[None, :, None, 2] - proj[None, :, None, 1]], 1)
  a = rows * jnp.concatenate([w, w], 1)[..., None]                         # [n, 2V, J, 4]
  a = a.transpose(0, 2, 1, 3).reshape(-1, a.shape[1], 4)
  return np.array(xy), np.array(proj), np.array(a), np.asarray(c), float(s)


def lt_point(torch, proj, points, confidences):
  """learnable-triangulation-pytorch's triangulate_point_from_multiple_views_linear_torch
  (mvn/utils/multiview.py), as its algebraic model calls it once per (pose, joint)."""
  n_views = len(proj)
  a = proj[:, 2:3].expand(n_views, 2, 4) * points.view(n_views, 2, 1)
  a = (a - proj[:, :2]) * confidences.view(-1, 1, 1)
  _, _, v = torch.svd(a.view(-1, 4))
  xh = -v[:, 3]
  return xh[:-1] / xh[-1]


def main():
  ap = argparse.ArgumentParser()
  ap.add_argument('--poses', type=int, default=4096)
  ap.add_argument('--views', type=int, default=4)
  ap.add_argument('--noise', type=float, default=2.0, help='px')
  ap.add_argument('--iters', type=int, default=5)
  ap.add_argument('--loop-poses', type=int, default=256,
                  help='poses timed for the per-joint loop (scaled to --poses)')
  args = ap.parse_args()
  cams, uv, w, poses = problem(args.poses, args.views, args.noise)
  n, j = poses.shape[:2]
  print(f'DLT: {n} poses x {j} joints x {args.views} views, {args.noise} px noise; JAX '
        f'{jax.__version__} on {jax.devices()[0].device_kind}')
  err = lambda rec: float(jnp.mean(jnp.linalg.norm(jnp.asarray(rec) - poses, axis=-1)))
  rows = []
  for name, nv in (('mvssl triangulate_views (inverse iteration)', None),
                   ('mvssl, SVD solver', triangulation.svd_null_vector)):
    one = functools.partial(triangulation.triangulate_views, null_vector=nv)
    f = jax.jit(lambda u, ww, one=one: jax.vmap(one, in_axes=(None, 0, 0))(cams, u, ww)[0])
    rows.append((name, _time(lambda f=f: f(uv, w).block_until_ready(), args.iters), err(f(uv, w))))
  try:
    import torch
  except ImportError:
    torch = None
    print('PyTorch not installed: pip install torch==2.13.0 for the comparison')
  if torch is not None:
    xy, proj, a, c, s = conditioned(cams, uv, w)
    at, pt = torch.from_numpy(a), torch.from_numpy(proj)
    xyt, wt = torch.from_numpy(xy), torch.from_numpy(np.array(w))

    def batched():
      xh = torch.linalg.svd(at, full_matrices=False)[2][..., -1, :]
      return (xh[..., :3] / xh[..., 3:]).reshape(n, j, 3)

    def loop(m):   # the first m poses, joint by joint
      return torch.stack([torch.stack([lt_point(torch, pt, xyt[i, :, k], wt[i, :, k])
                                       for k in range(j)]) for i in range(m)])

    m = min(args.loop_poses, n)
    t_loop = _time(lambda: loop(m), 1) * n / m
    rows.append((f'PyTorch {torch.__version__} batched torch.linalg.svd',
                 _time(batched, args.iters), err(batched().numpy() * s + c)))
    full = torch.cat([loop(m), batched()[m:]]).numpy() * s + c   # error over all poses
    rows.append(('learnable-triangulation per-joint loop', t_loop, err(full)))
  print(f'{"method":48s} {"ms":>9s} {"mean error mm":>14s} {"time / first row":>17s}')
  for name, t, e in rows:
    print(f'{name:48s} {t * 1e3:9.1f} {e:14.3f} {t / rows[0][1]:16.2f}x')


if __name__ == '__main__':
  main()
