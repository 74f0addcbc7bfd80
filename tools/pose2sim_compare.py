"""The P-GT's triangulation against Pose2Sim's own, on the same detections and calibration.

Pose2Sim is never a dependency of mvssl: it runs in a virtual environment of its own, and this
script runs twice, once in each environment.

  # once: Pose2Sim 0.8.4 in its own venv (its full install also pulls TensorFlow <= 2.15; its
  # triangulation needs only these, so --no-deps and the list keep it small)
  python3 -m venv ~/p2s && ~/p2s/bin/pip install --no-deps pose2sim==0.8.4 && \\
      ~/p2s/bin/pip install numpy pandas opencv-python-headless toml tqdm scipy anytree c3d \\
      matplotlib PyQt5 lxml statsmodels filterpy
  # then, from the project root with the project's venv:
  .venv/bin/python tools/pose2sim_compare.py --pose2sim-python ~/p2s/bin/python \\
      [--recording ../shared/data/pose2sim_balancing] [--json docs/results/pose2sim_triangulation.json]

Step 1 (``pose2sim`` subcommand, run by step 2 in Pose2Sim's venv): the recording's calibration
written as a Pose2Sim TOML, then Pose2Sim's ``triangulation_from_best_cameras`` per frame and joint
on the Human3.6M-17 detections of ``keypoints.npz`` (the first person per view), with the demo's
Config.toml settings (15 px, likelihood 0.3, at least 2 cameras, no left/right swap handling)
and ``undistort_points = true`` (mvssl undistorts; the demo's false would ignore the lens).
Step 2: mvssl's P-GT (:func:`mvssl.experiments.pose2sim.pseudo_gt`) on the same detections with
every robust method, and per joint the distance to Pose2Sim's point (mm, where both give one),
each side's reprojection error (px, over the views it used), and how often the two keep the same
views. Prints the tables and writes the JSON (with provenance) that docs/experiments/pose2sim.md
is generated from.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = dict(reproj_error_threshold_triangulation=15.0, likelihood_threshold_triangulation=0.3,
            min_cameras_for_triangulation=2, handle_LR_swap=False, undistort_points=True)
FIRST_PERSON = 'h36m17_2d'


def _pose2sim(recording: str, out: str) -> None:
  """Step 1, in Pose2Sim's venv (imports nothing of mvssl)."""
  import cv2  # noqa: PLC0415
  import toml  # noqa: PLC0415
  from Pose2Sim import common  # noqa: PLC0415
  from Pose2Sim import triangulation as tri  # noqa: PLC0415
  with open(os.path.join(recording, 'calibration.json')) as f:
    cal = json.load(f)['cameras']
  names = sorted(cal)
  doc = {}
  for i, n in enumerate(names):
    c = cal[n]
    rvec = cv2.Rodrigues(np.asarray(c['R_w2c'], float))[0].ravel()
    doc[f'cam_{i + 1:02d}'] = dict(name=n, size=[float(x) for x in c['size_wh']],
                                   matrix=np.asarray(c['K'], float).tolist(),
                                   distortions=[float(x) for x in c['dist_k1k2p1p2']],
                                   rotation=rvec.tolist(),
                                   translation=[float(x) for x in c['t_w2c_m']], fisheye=False)
  det = np.load(os.path.join(recording, 'keypoints.npz'))[FIRST_PERSON]   # [V, T, J, 3]
  v_n, t_n, j_n, _ = det.shape
  with tempfile.TemporaryDirectory() as tmp:
    calib_file = os.path.join(tmp, 'Calib.toml')
    with open(calib_file, 'w') as f:
      toml.dump(doc, f)
    config = dict(triangulation=DEMO)
    proj = common.computeP(calib_file, undistort=DEMO['undistort_points'])
    params = common.retrieve_calib_params(calib_file)
  points = np.full((t_n, j_n, 3), np.nan)
  error = np.full((t_n, j_n), np.nan)
  excluded = np.zeros((t_n, j_n, v_n), bool)
  t0 = time.perf_counter()
  for t in range(t_n):
    for j in range(j_n):
      xy = det[:, t, j, :2].astype(float)
      like = det[:, t, j, 2].astype(float)
      if DEMO['undistort_points']:
        und = [cv2.undistortPoints(xy[v].reshape(1, 1, 2), params['K'][v], params['dist'][v],
                                   None, params['optim_K'][v]).ravel() for v in range(v_n)]
        xy = np.array(und)
      like = np.where(like < DEMO['likelihood_threshold_triangulation'], 0.0, like)
      coords = (xy[:, 0], xy[:, 1], like)
      q, err, _, off = tri.triangulation_from_best_cameras(config, coords, coords, proj, params)
      points[t, j] = np.asarray(q, float)[:3] * 1000.0                     # m -> mm
      error[t, j] = err
      excluded[t, j, np.asarray(off, int)] = True
  np.savez(out, points=points, error=error, excluded=excluded, names=np.array(names),
           seconds=time.perf_counter() - t0, version=np.array(_version()))


def _version() -> str:
  try:
    from importlib import metadata  # noqa: PLC0415
    return metadata.version('pose2sim')
  except Exception:  # noqa: BLE001
    return 'unknown'


def _compare(recording: str, p2s_file: str) -> dict:
  """Step 2, in the project's venv."""
  sys.path.insert(0, ROOT)
  import jax  # noqa: PLC0415
  import jax.numpy as jnp  # noqa: PLC0415
  from configs import pose2sim as pose2sim_config  # noqa: PLC0415
  from mvssl.data import h36m  # noqa: PLC0415
  from mvssl.data import pose2sim as p2s  # noqa: PLC0415
  from mvssl.experiments import pose2sim  # noqa: PLC0415
  ref = np.load(p2s_file)
  _, cams, _ = p2s.load_cameras(os.path.join(recording, 'calibration.json'))
  cams = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), cams)
  det = p2s.load_detections(os.path.join(recording, 'keypoints.npz'), FIRST_PERSON)
  cfg = pose2sim_config.get_config().pseudo_label
  ref_ok = np.all(np.isfinite(ref['points']), -1)
  ref_used = ~ref['excluded'] & (np.moveaxis(det[..., 2], 0, -1) >= cfg.min_score)  # [T, J, V]
  out = dict(recording=os.path.basename(os.path.normpath(recording)),
             frames=int(det.shape[1]), pose2sim_version=str(ref['version']),
             pose2sim_settings=DEMO, pose2sim_seconds=float(ref['seconds']),
             joints=list(h36m.JOINT_NAMES), pose2sim_valid_share=float(ref_ok.mean()),
             pose2sim_reprojection_px=float(np.nanmean(ref['error'])), methods={})
  variants = (('plain DLT (before)', 'none', 'mean'),
              ('pose2sim, mean (Pose2Sim\'s rule; the default)', 'pose2sim', 'mean'),
              ('pose2sim, max', 'pose2sim', 'max'), ('ransac, mean', 'ransac', 'mean'))
  for label, method, reduce in variants:
    cfg.robust.update(method=method, reduce=reduce)
    t0 = time.perf_counter()
    poses, valid, _, tri = pose2sim.pseudo_gt(cams, det, float(cfg.min_score), cfg.robust)
    seconds = time.perf_counter() - t0
    both = valid & ref_ok
    dist = np.linalg.norm(poses - ref['points'], axis=-1)
    used = np.moveaxis(tri['used'], 1, -1)                                    # [T, J, V]
    ours_px = np.where(tri['used'], tri['error'], np.nan)                     # [T, V, J]
    with np.errstate(invalid='ignore'):
      mean_px = np.nanmean(ours_px, axis=1)                                   # [T, J]
    per_joint = []
    for j in range(det.shape[2]):
      d = dist[both[:, j], j]
      per_joint.append(dict(
          mean_mm=float(d.mean()) if d.size else None, max_mm=float(d.max()) if d.size else None,
          ours_valid=float(valid[:, j].mean()), pose2sim_valid=float(ref_ok[:, j].mean()),
          ours_px=float(np.nanmean(np.where(valid[:, j], mean_px[:, j], np.nan))),
          pose2sim_px=float(np.nanmean(ref['error'][:, j])),
          same_views=float(np.mean(np.all(used[both[:, j], j] == ref_used[both[:, j], j], -1)))
          if both[:, j].any() else None))
    d = dist[both]
    same = np.all(used == ref_used, -1)[both]
    out['methods'][label] = dict(
        method=method, reduce=reduce, seconds=seconds, per_joint=per_joint,
        mean_mm=float(d.mean()), median_mm=float(np.median(d)), max_mm=float(d.max()),
        valid_share=float(valid.mean()), both_valid_share=float(both.mean()),
        only_ours=int(np.sum(valid & ~ref_ok)), only_pose2sim=int(np.sum(~valid & ref_ok)),
        same_views_share=float(same.mean()),
        mean_mm_same_views=float(dist[both][same].mean()) if same.any() else None,
        mean_mm_other_views=float(dist[both][~same].mean()) if (~same).any() else None,
        ours_px=float(np.nanmean(np.where(valid, mean_px, np.nan))))
  return out


def markdown(out: dict) -> str:
  lines = [f'Pose2Sim {out["pose2sim_version"]} on {out["frames"]} frames x 17 joints: valid '
           f'{out["pose2sim_valid_share"]:.1%}, reprojection {out["pose2sim_reprojection_px"]:.1f}'
           f' px ({out["pose2sim_seconds"]:.1f} s).', '',
           '| mvssl P-GT | valid | both valid | mean / median / max mm to Pose2Sim | same views '
           '| mm where same views / other views | reprojection px | s (with compiling) |',
           '|---' * 8 + '|']
  for label, m in out['methods'].items():
    other = m['mean_mm_other_views']
    lines.append(f'| {label} | {m["valid_share"]:.1%} | {m["both_valid_share"]:.1%} | '
                 f'{m["mean_mm"]:.1f} / {m["median_mm"]:.2f} / {m["max_mm"]:.0f} | '
                 f'{m["same_views_share"]:.1%} | {m["mean_mm_same_views"]:.2f} / '
                 f'{"-" if other is None else f"{other:.1f}"} | {m["ours_px"]:.1f} | '
                 f'{m["seconds"]:.1f} |')
  return '\n'.join(lines)


def main(argv=None) -> int:
  ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  ap.add_argument('command', nargs='?', default='compare', choices=('compare', 'pose2sim'))
  ap.add_argument('--recording', default=os.path.join(
      os.environ.get('MVSSL_SHARED_DATA', os.path.join(ROOT, '..', 'shared', 'data')),
      'pose2sim_balancing'))
  ap.add_argument('--pose2sim-python', help='the python of Pose2Sim\'s own venv (step 1)')
  ap.add_argument('--pose2sim-out', default='', help='step 1\'s npz (default: a temp file)')
  ap.add_argument('--json', default='', help='write the comparison here (step 2)')
  a = ap.parse_args(argv)
  if a.command == 'pose2sim':
    _pose2sim(a.recording, a.pose2sim_out)
    return 0
  out_npz = a.pose2sim_out or os.path.join(tempfile.mkdtemp(), 'pose2sim.npz')
  if not os.path.exists(out_npz):
    if not a.pose2sim_python:
      sys.exit('error: --pose2sim-python (the python of a venv with pose2sim==0.8.4) is needed '
               'for step 1; see this script\'s docstring')
    subprocess.run([a.pose2sim_python, os.path.abspath(__file__), 'pose2sim', '--recording',
                    a.recording, '--pose2sim-out', out_npz], check=True)
  out = _compare(a.recording, out_npz)
  print(markdown(out))
  if a.json:
    from mvssl import provenance  # noqa: PLC0415
    provenance.write_json(a.json, out)
  return 0


if __name__ == '__main__':
  sys.exit(main())
