"""Does the lifting network's uncertainty see that depth is its weak axis?

The 'uncertainty' routing of L_MVC (mvssl.losses) weighs each view's camera axes by its
uncertainty; for the lifting network that is the spread of its prediction over Monte-Carlo
dropout draws (mvssl.train.lifting_family.dropout_sigma) or, for a network with a scale head
(configs/lifting.py:b_scale), the standard deviation sqrt(2) b of its learned Laplace scale
(lifting_family.learned_sigma). This measures, on test frames of a finished lifting workdir, per
camera axis (x, y across the image; z along the camera's axis), the mean uncertainty and the
mean absolute error of the root-relative camera-frame prediction, and the correlation of the two
per (frame, view, joint), for the runs named.

  python tools/dropout_spread.py --workdir=runs/lifting_b --seed=0 \
      --json=docs/results/dropout_spread.json
  python tools/dropout_spread.py --config=b_scale --workdir=runs/lifting_b_scale --seed=0 \
      --json=docs/results/learned_scale.json

The workdir must hold the runs l1_only, ours, ours_uncertainty of that config at that seed.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import numpy as np
from flax import nnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from configs import lifting  # noqa: E402
from mvssl import provenance  # noqa: E402
from mvssl.experiments import seeds  # noqa: E402
from mvssl.train import lifting_family  # noqa: E402
from mvssl.train.context import Context  # noqa: E402

RUNS = ('l1_only', 'ours', 'ours_uncertainty')
AXES = ('x', 'y', 'z')


def measure(workdir: str, seed: int, frames: int = 1500, samples: int = 8,
            config: str = 'b_forms') -> dict:
  """{run: {source, sigma_mm, abs_error_mm, corr: {axis: value}}} over ``frames`` random test
  frames of ``configs/lifting.py:<config>``'s workdir."""
  c = seeds.seed_config(lifting.get_config(config), workdir, seed)
  ctx = Context(c, os.path.join(workdir, f'seed_{seed}'))
  d = ctx.split('test')
  rows = np.sort(np.random.default_rng(0).choice(len(d['frame']), frames, replace=False))
  kp = np.asarray(d['keypoints_2d'][rows][..., :2])
  n, v, j = kp.shape[:3]
  cams = jax.tree.map(lambda a: a[rows], d['cams'])
  target, _ = ctx.codec(ctx.runs['ours']).encode_batch(cams, d['pose_3d'][rows])
  out = {}
  for name in RUNS:
    st = ctx.restore(name)
    model = nnx.merge(st.graphdef, st.params, st.batch_stats)
    flat = kp.reshape(-1, j, 2)
    sig = np.asarray(lifting_family.uncertainty_sigma(model, flat, jax.random.key(0), samples))
    sig = sig.reshape(n, v, j, 3)[:, :, 1:]                         # the root: the floor
    err = np.abs(np.asarray(model(flat)).reshape(n, v, j, 3) - np.asarray(target))[:, :, 1:]
    out[ctx.runs[name].label] = dict(
        source='learned scale' if model.error_scale is not None else 'dropout',
        sigma_mm={a: float(sig[..., k].mean()) for k, a in enumerate(AXES)},
        abs_error_mm={a: float(err[..., k].mean()) for k, a in enumerate(AXES)},
        corr={a: float(np.corrcoef(sig[..., k].ravel(), err[..., k].ravel())[0, 1])
              for k, a in enumerate(AXES)})
  return dict(workdir_seed=seed, frames=frames, samples=samples, config=config, runs=out)


def markdown(out: dict) -> str:
  """The table: per run, the uncertainty (dropout spread or learned scale) and the error per
  axis, their ratio z / x."""
  runs = out['runs'].values()
  sources = sorted({r.get('source', 'dropout') for r in runs})
  what = 'dropout spread' if sources == ['dropout'] else ' / '.join(sources)
  lines = [f'| run | {what} x / y / z (mm) | error x / y / z (mm) | uncertainty z/x | '
           'error z/x | correlation x / y / z |', '|---|---|---|---|---|---|']
  for m, r in out['runs'].items():
    s, e, c = r['sigma_mm'], r['abs_error_mm'], r['corr']
    lines.append(f'| {m} | ' + ' / '.join(f'{s[a]:.1f}' for a in AXES) + ' | ' +
                 ' / '.join(f'{e[a]:.1f}' for a in AXES) +
                 f' | {s["z"] / s["x"]:.2f} | {e["z"] / e["x"]:.2f} | ' +
                 ' / '.join(f'{c[a]:.2f}' for a in AXES) + ' |')
  return '\n'.join(lines)


def main(argv=None) -> int:
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument('--workdir', required=True)
  p.add_argument('--seed', type=int, default=0)
  p.add_argument('--config', default='b_forms', help="configs/lifting.py's argument")
  p.add_argument('--json', default='')
  a = p.parse_args(argv)
  out = measure(a.workdir, a.seed, config=a.config)
  print(markdown(out))
  if a.json:
    provenance.write_json(a.json, out)
  return 0


if __name__ == '__main__':
  sys.exit(main())
