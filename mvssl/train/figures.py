"""Pictures a pose researcher expects: the paper's qualitative figure (Fig. 4/5) for the best,
median and worst test frames, the error per joint, and samples of a built dataset with its labels
drawn on the crops.

``evaluate`` writes ``qualitative.png`` (:func:`qualitative`) and ``per_joint.png``
(:func:`per_joint`, numbers in results.json under ``per_joint``) beside results.md; ``build``
writes ``samples/<split>.png`` and ``pseudo_label`` ``samples/unlabeled_pgt.png``
(:func:`dataset_sample`), the quickest way to see that a calibration is right (process 0).
"""

from __future__ import annotations

import warnings

import cv2
import jax
import jax.numpy as jnp
import numpy as np

from mvssl import metrics as metrics_lib
from mvssl import plots
from mvssl.data import h36m
from mvssl.data import render
from mvssl.geometry import camera as camlib

CHOICES = ('best', 'median', 'worst')


def chosen_frames(errors: np.ndarray) -> list[tuple[str, int]]:
  """The test frames of lowest, median and highest error.

  Args:
    errors: [N, V] MPJPE per frame and view (mm), NaN where a view was not recorded.
  Returns:
    [(name, frame index)] for 'best', 'median', 'worst' by the mean over a frame's views
    (frames without any recorded view are never chosen).
  Raises:
    ValueError: when no frame has a recorded view.
  """
  with warnings.catch_warnings():                # a frame with no recorded view: NaN, skipped
    warnings.simplefilter('ignore', RuntimeWarning)
    per_frame = np.nanmean(np.asarray(errors, np.float64), axis=1)
  ok = np.flatnonzero(np.isfinite(per_frame))
  if not len(ok):
    raise ValueError('no test frame has a recorded view to choose from')
  order = ok[np.argsort(per_frame[ok], kind='stable')]
  return list(zip(CHOICES, (int(order[0]), int(order[len(order) // 2]), int(order[-1]))))


def per_joint_errors(pred: np.ndarray, gt: np.ndarray, seen: np.ndarray) -> np.ndarray:
  """Root-aligned error of each joint (mm) over the recorded (frame, view) pairs.

  Args:
    pred: [N, V, J, 3] world predictions (mm); gt: [N, J, 3] world (mm); seen: [N, V] bool.
  Returns:
    [J] mean joint error (mm; the root joint's is 0 by construction).
  """
  err = np.asarray(metrics_lib.joint_errors(jnp.asarray(pred),
                                            jnp.broadcast_to(jnp.asarray(gt)[:, None],
                                                             pred.shape)))
  return err[np.asarray(seen, bool)].mean(axis=0)


def joint_names(num_joints: int) -> list[str]:
  """Human3.6M-17 names for 17 joints, else 'j<k>'."""
  return list(h36m.JOINT_NAMES) if num_joints == len(h36m.JOINT_NAMES) else \
      [f'j{k}' for k in range(num_joints)]


def _row(d: dict, i: int, preds: dict[str, np.ndarray], title: str) -> dict:
  """One row of :func:`mvssl.plots.skeleton_panels` for test frame ``i``."""
  cams = jax.tree.map(lambda a: jnp.asarray(np.asarray(a[i]), jnp.float32), d['cams'])
  gt = jnp.asarray(d['pose_3d'][i], jnp.float32)
  views = cams.K.shape[0]

  def in_camera(world):                     # [V, J, 3] world -> root-aligned, camera frame
    rel = world - world[:, :1]
    return np.asarray(jnp.einsum('vij,vkj->vki', cams.R, rel))

  gt_v = jnp.broadcast_to(gt, (views,) + gt.shape)
  return dict(title=title, images=np.asarray(d['images'][np.array([i])][0]),
              seen=np.asarray(d['view_valid'][i], bool),
              gt_uv=np.asarray(camlib.project_views(cams, gt_v)),
              uv={m: np.asarray(camlib.project_views(cams, jnp.asarray(p[i], jnp.float32)))
                  for m, p in preds.items()},
              gt_cam=in_camera(gt_v),
              cam={m: in_camera(jnp.asarray(p[i], jnp.float32)) for m, p in preds.items()})


def qualitative(path: str, d: dict, preds: dict[str, np.ndarray], errors: np.ndarray, *,
                reference: str, camera_names, title: str = '') -> list[tuple[str, int]]:
  """The paper's qualitative figure for the best / median / worst test frames of ``reference``.

  Args:
    path: PNG file.
    d: the test split (images, cams [N, V], pose_3d [N, J, 3] mm, view_valid [N, V]).
    preds: {model label: [N, V, J, 3] world predictions (mm)}, drawn in this order.
    errors: [N, V] MPJPE of ``reference`` (mm; NaN where not recorded), which chooses the frames.
    reference: its label (named in the row titles).
    camera_names: [V].
  Returns:
    The chosen frames, [(name, frame index)].
  """
  chosen = chosen_frames(errors)
  rows = [_row(d, i, preds, f'{name} of {reference}: {np.nanmean(errors[i]):.0f} mm\n'
               f'{d["subject"][i]} {d["sequence"][i]} frame {int(d["frame"][i])}')
          for name, i in chosen]
  plots.skeleton_panels(path, rows, list(preds), bones=h36m.BONES, title=title,
                        camera_names=camera_names)
  return chosen


def per_joint(path: str, values: dict[str, np.ndarray], title: str = '') -> None:
  """Bar chart of the error per joint (mm) of each model ({label: [J]}) -> PNG."""
  names = joint_names(len(next(iter(values.values()))))
  plots.grouped_bars(names, {'joint error, root-aligned (mm)': {
      m: [float(x) for x in v] for m, v in values.items()}}, path, title,
      width=max(5.0, 0.45 * len(names) * max(1, len(values)) / 2))


def dataset_sample(path: str, d: dict, *, poses: np.ndarray | None = None, label: str = '3D label',
                   rows: int = 3, title: str = '', camera_names=()) -> list[int]:
  """A few frames of a split (first, middle, last), every view, with their labels drawn on the
  crops: the world pose (``poses`` [N, J, 3] mm, default the split's 3D labels where it has
  them) projected by each view's crop camera as a skeleton, and the 2D detections
  (``keypoints_2d``, where the split has them) as red crosses. Where the calibration or the
  crop is wrong, the skeleton misses the person in some view.

  Returns:
    The frames drawn.
  """
  n = len(d['frame'])
  frames = sorted({int(round(x)) for x in np.linspace(0, n - 1, min(rows, n))})
  idx = np.array(frames)
  if poses is None and np.any(d['has_pose_3d'][idx]):
    poses = d['pose_3d']
  skel = None
  if poses is not None:
    cams = jax.tree.map(lambda a: jnp.asarray(np.asarray(a[idx]), jnp.float32), d['cams'])
    world = jnp.asarray(poses[idx], jnp.float32)
    views = cams.K.shape[1]
    skel = np.asarray(jax.vmap(camlib.project_views)(
        cams, jnp.broadcast_to(world[:, None], (len(idx), views) + world.shape[1:])))
  points = d['keypoints_2d'][idx] if 'keypoints_2d' in d else None
  if points is not None and not np.any(points[..., 2] > 0):
    points = None
  what = ' and '.join(w for w, x in ((f'{label} projected (left yellow, right magenta)', skel),
                                      ('2D detections (red x)', points))
                      if x is not None) or 'no labels'
  plots.labelled_crops(path, np.asarray(d['images'][idx]), bones=h36m.BONES, skeletons=skel,
                       points=points, seen=np.asarray(d['view_valid'][idx], bool),
                       col_titles=list(camera_names),
                       row_titles=[f'{d["subject"][i]} {d["sequence"][i]} frame '
                                   f'{int(d["frame"][i])}' for i in frames],
                       title=f'{title}: {what}' if title else what)
  return frames


def recording_video(path: str, d: dict, views: np.ndarray, g_pose: np.ndarray, seen, side=256):
  """mvssl.predict's recording video: per frame, the views' crops side by side (upscaled to
  ``side`` px) with each view's prediction (coloured) and G's pose (white) projected -> MP4
  (10 fps). d: the recording's split; views [N, V, J, 3], g_pose [N, J, 3] world mm; seen [N, V].

  Raises:
    OSError: when OpenCV cannot write MP4 here.
  """
  n, v = seen.shape
  writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), 10.0, (side * v, side))
  if not writer.isOpened():
    raise OSError(f'{path}: OpenCV cannot write MP4 here')
  try:
    for i in range(n):
      imgs = np.asarray(d['images'][np.array([i])][0])            # [V, S, S, 3] RGB
      cams = jax.tree.map(lambda a: jnp.asarray(np.asarray(a[i]), jnp.float32), d['cams'])
      scale = side / imgs.shape[1]
      uv_g = np.asarray(camlib.project_to_views(cams, jnp.asarray(g_pose[i], jnp.float32)))
      uv_v = np.asarray(camlib.project_views(cams, jnp.asarray(views[i], jnp.float32)))
      tiles = []
      for k in range(v):
        tile = cv2.resize(imgs[k][..., ::-1], (side, side), interpolation=cv2.INTER_LINEAR)
        if seen[i, k]:
          tile = render.draw_skeleton(tile, (uv_g[k] + 0.5) * scale - 0.5,
                                      colour=(255, 255, 255), thickness=3)
          tile = render.draw_skeleton(tile, (uv_v[k] + 0.5) * scale - 0.5)
        cv2.putText(tile, f'frame {int(d["frame"][i])}', (4, 14), cv2.FONT_HERSHEY_SIMPLEX,
                    0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
      writer.write(np.concatenate(tiles, axis=1))
  finally:
    writer.release()
