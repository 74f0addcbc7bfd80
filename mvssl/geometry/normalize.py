"""Heatmap-space normalisation of a world pose for one view, and its exact inverse Pi.

Paper eq. 4-8 (the P-GT construction): for view c with camera (K_c, R_c, t_c) of the *cropped and
resized* network input,

  (4) p_c = R_c p + t_c                                   camera frame (mm)
  (5) u   = K_c p_c / p_c,z   (plus lens model)           input-image pixels (px)
  (6) x, y = u / stride                                   heatmap grid units
  (7) z    = ((p_c,z - p_c,root,z) / (cube/2) + 1) * 0.5 * D   depth bins, root in the middle
  (8) heatmap target (x, y, z), one per joint

with cube = 2000 mm (so cube/2 = 1000 mm as in the paper) and D the number of depth bins.
``heatmap_to_world`` is Pi of paper eq. 9: depth un-normalisation with the root depth,
back-projection through K (and the lens model), crop and camera.
"""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp

from mvssl.geometry import camera as camlib


def world_to_heatmap(cam: camlib.Camera, pose: jax.Array, *, stride: float, depth_bins: int,
                     cube_mm: float = 2000.0, root: int = 0):
  """Normalises a world pose into one view's heatmap volume (paper eq. 4-8).

  Args:
    cam: camera of the network input crop (K already cropped/resized).
    pose: [J, 3] world joints (mm).
    stride: input pixels per heatmap cell (input size / heatmap size).
    depth_bins: D, number of depth bins of the volume.
    cube_mm: depth extent of the volume (mm), centred on the root joint.
    root: index of the root joint (pelvis = 0 in Human3.6M-17).
  Returns:
    (hm, root_depth): hm [J, 3] heatmap coordinates (x, y in cells; z in bins),
    root_depth [] camera-frame depth of the root joint (mm).
  """
  chex.assert_rank(pose, 2)
  pc = camlib.world_to_camera(cam, pose)
  uv = camlib.project(cam, pose)
  root_depth = pc[root, 2]
  z = ((pc[:, 2] - root_depth) / (cube_mm / 2) + 1.0) * 0.5 * depth_bins
  return jnp.concatenate([uv / stride, z[:, None]], axis=-1), root_depth


def heatmap_to_world(cam: camlib.Camera, hm: jax.Array, root_depth: jax.Array, *, stride: float,
                     depth_bins: int, cube_mm: float = 2000.0) -> jax.Array:
  """Pi of paper eq. 9: exact inverse of :func:`world_to_heatmap` given the root depth.

  Args:
    cam: camera of the network input crop.
    hm: [J, 3] heatmap coordinates (x, y cells; z bins).
    root_depth: [] camera-frame depth of the root joint (mm).
    stride, depth_bins, cube_mm: as in :func:`world_to_heatmap`.
  Returns:
    [J, 3] world joints (mm).
  """
  chex.assert_rank(hm, 2)
  depth = (hm[:, 2] / (0.5 * depth_bins) - 1.0) * (cube_mm / 2) + root_depth
  return camlib.unproject(cam, hm[:, :2] * stride, depth)


def heatmap_to_camera(cam: camlib.Camera, hm, root_depth, *, stride, depth_bins, cube_mm=2000.0):
  """Like :func:`heatmap_to_world` but returns camera-frame joints [J, 3] (mm)."""
  world = heatmap_to_world(cam, hm, root_depth, stride=stride, depth_bins=depth_bins,
                           cube_mm=cube_mm)
  return camlib.world_to_camera(cam, world)


def world_to_heatmap_views(cams: camlib.Camera, pose: jax.Array, **kw):
  """:func:`world_to_heatmap` of one world pose [J, 3] in every view: -> ([V, J, 3], [V])."""
  return jax.vmap(lambda c: world_to_heatmap(c, pose, **kw))(cams)


def heatmap_to_world_views(cams: camlib.Camera, hm: jax.Array, root_depth: jax.Array, **kw):
  """:func:`heatmap_to_world` per view: (Camera[V], [V, J, 3], [V]) -> [V, J, 3] world mm."""
  return jax.vmap(lambda c, h, r: heatmap_to_world(c, h, r, **kw))(cams, hm, root_depth)
