"""2D Gaussian heatmap targets with fixed or joint-adaptive sigmas, and their decoding.

Ground-truth heatmaps as in Simple Baselines (Xiao et al. 2018): one unnormalised Gaussian of peak
1 per joint, centred on the joint in heatmap cells (the codec's convention: cell i is pixel
i * stride), trained with a mean squared error. Joint-adaptive sigmas are those of Ong, Cho, Choi
("Study of the Gaussian Mixture Joint-Adaptive Heatmap Regression for Top-Down Human Pose
Estimation"): two sets given for COCO joints in cells of a 64x48 heatmap (256x192 input).

Their values follow an area rule: sigma_j = c * sqrt(k_j), with k_j COCO's per-keypoint OKS
constant (how large a joint's region is), c = 6.8 for Set 1 and 5.3 for Set 2 (least squares over
their twelve values, every one within 0.05 cells). Human3.6M-17 joints COCO lacks get sigmas by
the same rule from the k of the joints they lie between: pelvis = the hips' k; spine = the mean of
hips and shoulders; thorax = the shoulders'; neck = the mean of shoulders and nose; head (top) =
the mean of the five face keypoints (nose, eyes, ears). Sigmas scale with the heatmap: a sigma of
the paper's 64-row heatmap is ``sigma * rows / 64`` cells on a heatmap of ``rows`` rows.

Decoding: :func:`argmax_subpixel` (Simple Baselines: the arg-max cell moved a quarter cell toward
the higher neighbour on each axis) or the soft-argmax (:func:`mvssl.ops.soft_argmax.soft_argmax_2d`
of the heatmap times a multiplier, Iskakov et al.'s 100).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

PAPER_ROWS = 64   # rows of the heatmap their sigmas are given for (64x48 at 256x192)

# COCO per-keypoint OKS constants k.
COCO_K = dict(nose=0.026, eye=0.025, ear=0.035, shoulder=0.079, elbow=0.072, wrist=0.062,
              hip=0.107, knee=0.087, ankle=0.089)
# Ong et al.'s two sets (cells of a 64-row heatmap) for the COCO joint types.
PAPER_SETS = dict(
    set1=dict(nose=1.1, eye=1.1, ear=1.3, shoulder=1.9, elbow=1.8, wrist=1.7, hip=2.2, knee=2.0,
              ankle=2.0),
    set2=dict(nose=0.85, eye=0.84, ear=0.99, shoulder=1.49, elbow=1.42, wrist=1.32, hip=1.73,
              knee=1.56, ankle=1.58))
_FACE_K = np.mean([COCO_K['nose'], COCO_K['eye'], COCO_K['eye'], COCO_K['ear'], COCO_K['ear']])
# Human3.6M-17 (mvssl.data.h36m.JOINT_NAMES) -> the k of the area rule (module docstring).
H36M_K = (COCO_K['hip'],                                      # Pelvis: between the hips
          COCO_K['hip'], COCO_K['knee'], COCO_K['ankle'],     # RHip RKnee RFoot
          COCO_K['hip'], COCO_K['knee'], COCO_K['ankle'],     # LHip LKnee LFoot
          (COCO_K['hip'] + COCO_K['shoulder']) / 2,           # Spine
          COCO_K['shoulder'],                                 # Thorax: between the shoulders
          (COCO_K['shoulder'] + COCO_K['nose']) / 2,          # Neck/Nose
          _FACE_K,                                            # Head (top)
          COCO_K['shoulder'], COCO_K['elbow'], COCO_K['wrist'],   # LShoulder LElbow LWrist
          COCO_K['shoulder'], COCO_K['elbow'], COCO_K['wrist'])   # RShoulder RElbow RWrist
SIGMAS = ('1.5', '2.0', 'set1', 'set2')   # config.model.g.sigma: fixed values or a set (any
                                           # positive number is accepted as a fixed sigma)


def area_rule_constant(name: str) -> float:
  """c of sigma = c * sqrt(k) for Ong et al.'s set ``name`` (least squares over its values)."""
  s = PAPER_SETS[name]
  r = np.sqrt([COCO_K[j] for j in s])
  return float(np.dot(r, [s[j] for j in s]) / np.dot(r, r))


def joint_sigmas(sigma: str, num_joints: int, rows: int) -> np.ndarray:
  """Per-joint sigmas [J] in cells of a heatmap with ``rows`` rows.

  Args:
    sigma: a fixed sigma ('2.0') or 'set1' | 'set2', in cells of the paper's 64-row heatmap.
    num_joints: J (17 for a set: Human3.6M-17 order).
    rows: rows of the heatmap the targets are drawn on.
  Raises:
    ValueError: for an unknown set, a non-positive sigma, or a set with J != 17.
  """
  scale = rows / PAPER_ROWS
  if sigma in PAPER_SETS:
    if num_joints != len(H36M_K):
      raise ValueError(f'sigma set {sigma!r} is defined for the {len(H36M_K)} Human3.6M joints, '
                       f'the model has {num_joints}')
    return (area_rule_constant(sigma) * np.sqrt(np.asarray(H36M_K)) * scale).astype(np.float32)
  try:
    value = float(sigma)
  except ValueError:
    raise ValueError(f'sigma must be a positive number or one of {sorted(PAPER_SETS)}; '
                     f'got {sigma!r}') from None
  if not value > 0:
    raise ValueError(f'sigma must be positive; got {sigma!r}')
  return np.full(num_joints, value * scale, np.float32)


def gaussian_targets(joints: jax.Array, sigmas: jax.Array, shape: tuple[int, int]) -> jax.Array:
  """Gaussian target heatmaps of peak 1 (Simple Baselines).

  Args:
    joints: [..., J, 2] (x, y) in heatmap cells.
    sigmas: [J] cells.
    shape: (H, W) of the heatmap.
  Returns:
    [..., J, H, W] exp(-((x - x_j)^2 + (y - y_j)^2) / (2 sigma_j^2)).
  """
  h, w = shape
  dx = jnp.arange(w, dtype=jnp.float32) - joints[..., 0:1]                # [..., J, W]
  dy = jnp.arange(h, dtype=jnp.float32) - joints[..., 1:2]                # [..., J, H]
  s2 = 2.0 * jnp.asarray(sigmas, jnp.float32)[:, None] ** 2
  return jnp.exp(-dy[..., :, None] ** 2 / s2[:, :, None]) * jnp.exp(-dx[..., None, :] ** 2
                                                                       / s2[:, :, None])


def argmax_subpixel(heatmaps: jax.Array) -> jax.Array:
  """Simple Baselines' decoding: [..., H, W] -> [..., 2] (x, y) cells: the arg-max cell, moved
  0.25 cell toward the higher of its two neighbours on each axis (not at the border)."""
  h, w = heatmaps.shape[-2:]
  flat = jnp.argmax(heatmaps.reshape(heatmaps.shape[:-2] + (h * w,)), axis=-1)
  y, x = flat // w, flat % w

  def at(yy, xx):
    yy, xx = jnp.clip(yy, 0, h - 1), jnp.clip(xx, 0, w - 1)
    return jnp.take_along_axis(heatmaps.reshape(heatmaps.shape[:-2] + (h * w,)),
                               (yy * w + xx)[..., None], axis=-1)[..., 0]

  inner_x = (x > 0) & (x < w - 1)
  inner_y = (y > 0) & (y < h - 1)
  sx = jnp.where(inner_x, jnp.sign(at(y, x + 1) - at(y, x - 1)), 0.0)
  sy = jnp.where(inner_y, jnp.sign(at(y + 1, x) - at(y - 1, x)), 0.0)
  return jnp.stack([x + 0.25 * sx, y + 0.25 * sy], axis=-1).astype(jnp.float32)


def measured_sigma(heatmap: np.ndarray) -> tuple[np.ndarray, float]:
  """The centre (x, y) and sigma of one [H, W] Gaussian heatmap from its moments (tests, plots):
  sigma = sqrt(second central moment per axis, averaged)."""
  hm = np.asarray(heatmap, np.float64)
  ys, xs = np.mgrid[:hm.shape[0], :hm.shape[1]]
  m = hm.sum()
  cx, cy = (hm * xs).sum() / m, (hm * ys).sum() / m
  var = ((hm * (xs - cx) ** 2).sum() + (hm * (ys - cy) ** 2).sum()) / (2 * m)
  return np.array([cx, cy]), float(np.sqrt(var))
