"""The volumetric heatmap codec: paper eq. 4-8 (``encode``, world pose -> heatmap coordinates of a
view) and Pi of eq. 9 (``decode``, heatmap coordinates -> world pose), with the geometry they
share, as one object (MMPose's codecs pair ``encode``/``decode`` the same way).

For view c with camera (K_c, R_c, t_c) of the *cropped and resized* network input:

  (4) p_c = R_c p + t_c                                   camera frame (mm)
  (5) u   = K_c p_c / p_c,z   (plus the lens model)       input-image pixels (px)
  (6) x, y = u / stride                                   heatmap cells
  (7) z    = ((p_c,z - p_c,root,z) / (cube/2) + 1) * 0.5 * D   depth bins, root in the middle
  (8) heatmap target (x, y, z), one per joint

with cube = 2000 mm (so cube/2 = 1000 mm, as in the paper), D depth bins and ``stride`` the input
pixels per heatmap cell (4 for a /32 ResNet trunk with three stride-2 deconvolutions, see
:func:`mvssl.models.pose_net.heatmap_codec`). ``decode`` is the exact inverse given the root
depth: depth un-normalisation, back-projection through K (and the lens model), crop and camera.
Another output representation (a metric-scale head, a lifting model) is another codec with the
same ``encode``/``decode``, so the losses never ask which model family they serve.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp

from mvssl.geometry import camera as camlib
from mvssl.geometry.codec import Codec


@dataclasses.dataclass(frozen=True)
class HeatmapCodec(Codec):
  """Geometry of the volumetric heatmap (hashable: a static argument of jitted functions).

  Attributes:
    stride: input pixels per heatmap cell (px).
    depth_bins: D, depth bins of the volume.
    cube_mm: depth extent of the volume (mm), centred on the root joint.
    root: index of the root joint (pelvis = 0 in Human3.6M-17).
  """
  stride: float
  depth_bins: int
  cube_mm: float = 2000.0
  root: int = 0

  @property
  def unit_mm(self) -> float:
    """Depth of one bin (mm): the unit in which the losses measure heatmap coordinates."""
    return self.cube_mm / self.depth_bins

  def encode(self, cam: camlib.Camera, pose: jax.Array):
    """Paper eq. 4-8: a world pose in one view's heatmap volume.

    Args:
      cam: camera of the network input crop (K already cropped/resized).
      pose: [J, 3] world joints (mm).
    Returns:
      (hm, root_depth): hm [J, 3] heatmap coordinates (x, y in cells; z in bins),
      root_depth [] camera-frame depth of the root joint (mm).
    """
    chex.assert_rank(pose, 2)
    pc = camlib.world_to_camera(cam, pose)
    uv = camlib.project(cam, pose)
    root_depth = pc[self.root, 2]
    z = ((pc[:, 2] - root_depth) / (self.cube_mm / 2) + 1.0) * 0.5 * self.depth_bins
    return jnp.concatenate([uv / self.stride, z[:, None]], axis=-1), root_depth

  def decode(self, cam: camlib.Camera, hm: jax.Array, root_depth: jax.Array) -> jax.Array:
    """Pi of paper eq. 9: the exact inverse of :meth:`encode` given the root depth.

    Args:
      cam: camera of the network input crop.
      hm: [J, 3] heatmap coordinates (x, y cells; z bins).
      root_depth: [] camera-frame depth of the root joint (mm).
    Returns:
      [J, 3] world joints (mm).
    """
    chex.assert_rank(hm, 2)
    depth = (hm[:, 2] / (0.5 * self.depth_bins) - 1.0) * (self.cube_mm / 2) + root_depth
    return camlib.unproject(cam, hm[:, :2] * self.stride, depth)

  def decode_camera(self, cam: camlib.Camera, hm: jax.Array, root_depth: jax.Array):
    """Like :meth:`decode` but returns camera-frame joints [J, 3] (mm)."""
    return camlib.world_to_camera(cam, self.decode(cam, hm, root_depth))
