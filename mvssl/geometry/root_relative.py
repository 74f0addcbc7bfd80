"""The codec of lifting models (Martinez et al. 2017): a pose as root-relative joints in the view's
camera frame. Its Pi needs no root depth: the rotation R^T takes a view's root-relative
prediction into world orientation, which is all the multi-view consistency loss compares.
"""

from __future__ import annotations

import dataclasses

import chex
import jax

from mvssl.geometry import camera as camlib
from mvssl.geometry.codec import Codec


@dataclasses.dataclass(frozen=True)
class RootRelativeCodec(Codec):
  """Attributes:
    root: index of the root joint (pelvis = 0 in Human3.6M-17).
    unit: mm per loss unit (L1 and MVC of lifting runs are measured in it).
  """
  root: int = 0
  unit: float = 1.0

  @property
  def unit_mm(self) -> float:
    return self.unit

  def encode(self, cam: camlib.Camera, pose: jax.Array):
    """World pose [J, 3] mm -> (R (p - p_root) [J, 3] camera-frame root-relative mm, root depth
    [] mm: the camera-frame z of the root)."""
    chex.assert_rank(pose, 2)
    pc = camlib.world_to_camera(cam, pose)
    return pc - pc[self.root], pc[self.root, 2]

  def decode(self, cam: camlib.Camera, y: jax.Array, root_depth: jax.Array) -> jax.Array:
    """Pi of a lifting model: R^T y, the root-relative pose [J, 3] mm in world orientation
    (root at the origin); ``root_depth`` is not used."""
    del root_depth
    chex.assert_rank(y, 2)
    return y @ cam.R
