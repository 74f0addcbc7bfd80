"""Absolute 3D pose from one view: the geometry of RootNet (3DMPPE, Moon et al. ICCV 2019) and of
MeTRAbs (Sarandi et al., T-BIOM 2021), and the codecs of the absolute model families.

* :func:`rootnet_k`: RootNet's distance prior k = sqrt(alpha_x * alpha_y * A_real / A_img) (mm),
  from the focal lengths (px), the area of the box in the image (px^2) and an assumed real area
  (mm^2; 3DMPPE: 2000 mm x 2000 mm). The network predicts a correction gamma, Z_root = gamma * k.
  For our crops (K already cropped and resized) alpha_x * alpha_y / A_img is the same in the crop
  as in the original image, so k is computed from the crop camera and the crop size.
* :func:`metric_to_mm` / :func:`mm_to_metric`: MeTRAbs' metric-scale volume: a fixed cube of
  ``box_mm`` (2200 mm in the paper) centred on the root joint and aligned with the camera axes
  (not with the image), so a joint outside the crop still has a place in it (truncation-robust).
  Cell i of n covers [i, i + 1) / n of the box: its centre is ((i + 0.5) / n - 0.5) * box_mm.
* :func:`reconstruct_absolute`: MeTRAbs' weighted linear least squares for the root position
  (X0, Y0, Z0) given each joint's root-relative metric offset (dX, dY, dZ) and its normalised image
  coordinates (x~, y~) = K^-1 (u, v, 1) (lens model removed): the projection x~ = (X0 + dX) /
  (Z0 + dZ) is linear in the unknowns,

    X0 - x~_j Z0 = x~_j dZ_j - dX_j,     Y0 - y~_j Z0 = y~_j dZ_j - dY_j,

  two rows per joint; joints whose 2D prediction lies within one stride of the image border are
  left out (``weight`` 0). Solved by the 3x3 normal equations in metres (float32-stable), with a
  tiny ridge on Z0 toward a prior depth (what keeps a degenerate solve finite); with fewer than 2
  usable joints every joint is used (as the MeTRAbs code does), so the result is never NaN. Differentiable (``jax.test_util.check_grads`` in the tests).
* :class:`CameraCodec`: the absolute pose in the view's camera frame (mm) as a family's target;
  its Pi is R^T (X - t), each view's *own* absolute prediction in world coordinates, with no root
  depth borrowed from GT or P-GT (:mod:`mvssl.geometry.codec`).
* :class:`RootCodec`: RootNet's output, the root's heatmap cell (x, y) and its depth Z (in
  ``unit_mm``), as a codec of one joint; its Pi back-projects the cell at the predicted depth.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp

from mvssl.geometry import camera as camlib
from mvssl.geometry.codec import Codec

ROOTNET_AREA_MM2 = 2000.0 * 2000.0     # 3DMPPE's assumed real area of the person's box
METRABS_BOX_MM = 2200.0                # MeTRAbs' metric cube side


def rootnet_k(K: jax.Array, image_size: float, area_mm2: float = ROOTNET_AREA_MM2) -> jax.Array:
  """RootNet's k (3DMPPE eq. 1): sqrt(alpha_x * alpha_y * A_real / A_img).

  Args:
    K: [..., 3, 3] intrinsics of the crop (px).
    image_size: side of the square crop S (px): A_img = S^2.
    area_mm2: assumed real area A_real of the box (mm^2).
  Returns:
    [...] k (mm): the depth at which a box of area A_real would fill the crop.
  """
  return jnp.sqrt(K[..., 0, 0] * K[..., 1, 1] * area_mm2) / image_size


def metric_to_mm(coords: jax.Array, shape, box_mm: float = METRABS_BOX_MM) -> jax.Array:
  """Soft-argmax coordinates of the metric volume -> root-relative camera-aligned mm.

  Args:
    coords: [..., 3] (x, y cells; z bins), cell indices (0 = first cell's centre).
    shape: (D, H, W) of the volume.
    box_mm: side of the metric cube (mm).
  Returns:
    [..., 3] (dX, dY, dZ) mm, the root at the cube's centre.
  """
  n = jnp.asarray([shape[2], shape[1], shape[0]], coords.dtype)
  return ((coords + 0.5) / n - 0.5) * box_mm


def mm_to_metric(offsets: jax.Array, shape, box_mm: float = METRABS_BOX_MM) -> jax.Array:
  """Inverse of :func:`metric_to_mm`: [..., 3] mm -> [..., 3] cell coordinates (unclipped)."""
  n = jnp.asarray([shape[2], shape[1], shape[0]], offsets.dtype)
  return (offsets / box_mm + 0.5) * n - 0.5


def inside_mask(pixels: jax.Array, image_size: float, margin_px: float) -> jax.Array:
  """[..., J, 2] px -> [..., J] bool: the 2D point lies at least ``margin_px`` inside the crop
  [0, image_size) (MeTRAbs: one stride), so its 2D prediction can be trusted."""
  lo, hi = margin_px, image_size - margin_px
  return jnp.all((pixels >= lo) & (pixels <= hi), axis=-1)


def reconstruct_absolute(normalized: jax.Array, offsets: jax.Array,
                         weight: jax.Array | None = None, prior_depth: jax.Array | float = 0.0, *,
                         ridge: float = 1e-7):
  """MeTRAbs' absolute pose from one view (module docstring), batched over leading axes.

  Args:
    normalized: [..., J, 2] normalised image coordinates (x/z, y/z) of the 2D head's joints.
    offsets: [..., J, 3] root-relative camera-frame offsets of the 3D head (mm).
    weight: optional [..., J] >= 0 weight of each joint in the solve (0 = left out, e.g.
      truncated); fewer than 2 joints with weight -> every joint with weight 1.
    prior_depth: [...] or scalar root depth (mm) the solve leans toward where the views leave
      Z0 undetermined (every 2D joint at one point, e.g. an untrained 2D head): a ridge of
      ``ridge`` x trace on Z0 - prior_depth. The families pass RootNet's k (the depth at which
      a 2 m box fills the crop); with well-spread joints its pull is ~1e-7 of the data's.
    ridge: weight of that prior, relative to the normal matrix's trace.
  Returns:
    [..., J, 3] absolute camera-frame joints (mm): the solved root position + offsets.
  """
  chex.assert_axis_dimension(normalized, -1, 2)
  chex.assert_axis_dimension(offsets, -1, 3)
  dtype = offsets.dtype
  w = jnp.ones(offsets.shape[:-1], dtype) if weight is None else weight.astype(dtype)
  w = jnp.where(jnp.sum(w > 0, axis=-1, keepdims=True) >= 2, w, jnp.ones_like(w))
  x, y = normalized[..., 0], normalized[..., 1]
  d = offsets / 1000.0                                                   # metres: O(1) entries
  one, zero = jnp.ones_like(x), jnp.zeros_like(x)
  a = jnp.concatenate([jnp.stack([one, zero, -x], -1), jnp.stack([zero, one, -y], -1)], -2)
  b = jnp.concatenate([x * d[..., 2] - d[..., 0], y * d[..., 2] - d[..., 1]], -1)   # [..., 2J]
  ww = jnp.concatenate([w, w], -1)
  m = jnp.einsum('...r,...ri,...rj->...ij', ww, a, a)                    # [..., 3, 3]
  r = jnp.einsum('...r,...ri,...r->...i', ww, a, b)
  # (x~, y~, 1) is the one direction two rows per joint can leave free: a ridge on Z0 fixes it
  lam = ridge * (jnp.trace(m, axis1=-2, axis2=-1) + 1e-12)                # [...]
  ez = jnp.asarray([0.0, 0.0, 1.0], dtype)
  m = m + lam[..., None, None] * jnp.outer(ez, ez)
  r = r + (lam * jnp.asarray(prior_depth, dtype) / 1000.0)[..., None] * ez
  root = jnp.linalg.solve(m, r[..., None])[..., 0]                       # [..., 3] m
  return (root[..., None, :] + d) * 1000.0


@dataclasses.dataclass(frozen=True)
class CameraCodec(Codec):
  """The absolute pose in the view's camera frame (MeTRAbs' output).

  Attributes:
    unit: mm per loss unit (the L1 and MVC terms of absolute runs are measured in it).
    root: index of the root joint.
  """
  unit: float = 1.0
  root: int = 0

  @property
  def unit_mm(self) -> float:
    return self.unit

  def encode(self, cam: camlib.Camera, pose: jax.Array):
    """World pose [J, 3] mm -> (R p + t [J, 3] camera-frame mm, root depth [] mm)."""
    chex.assert_rank(pose, 2)
    pc = camlib.world_to_camera(cam, pose)
    return pc, pc[self.root, 2]

  def decode(self, cam: camlib.Camera, y: jax.Array, root_depth: jax.Array) -> jax.Array:
    """Pi of an absolute model: R^T (y - t), world [J, 3] mm; ``root_depth`` is not used (the
    prediction carries its own)."""
    del root_depth
    chex.assert_rank(y, 2)
    return camlib.camera_to_world(cam, y)


@dataclasses.dataclass(frozen=True)
class RootCodec(Codec):
  """RootNet's output for one view: [1, 3] = (x, y heatmap cells, Z / unit_mm) of the root.

  Attributes:
    stride: input pixels per heatmap cell (px).
    unit: mm per depth unit (and per loss unit).
    root: index of the root joint in the world pose.
  """
  stride: float
  unit: float = 1.0
  root: int = 0

  @property
  def unit_mm(self) -> float:
    return self.unit

  def encode(self, cam: camlib.Camera, pose: jax.Array):
    """World pose [J, 3] mm -> ([1, 3] root (x, y cells, Z units), root depth [] mm)."""
    chex.assert_rank(pose, 2)
    root = pose[self.root:self.root + 1]
    z = camlib.world_to_camera(cam, root)[:, 2]
    uv = camlib.project(cam, root) / self.stride
    return jnp.concatenate([uv, (z / self.unit)[:, None]], axis=-1), z[0]

  def decode(self, cam: camlib.Camera, y: jax.Array, root_depth: jax.Array) -> jax.Array:
    """[1, 3] root (cells, units) -> world root [1, 3] mm (its own depth; ``root_depth``
    unused)."""
    del root_depth
    chex.assert_rank(y, 2)
    return camlib.unproject(cam, y[:, :2] * self.stride, y[:, 2] * self.unit)
