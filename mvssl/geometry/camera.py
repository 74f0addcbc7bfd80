"""Calibrated pinhole camera with lens distortion, as a pytree.

Conventions (the ones Human3.6M's official calibration and OpenCV use):

* extrinsics R, t map world to camera: ``X_cam = R @ X_world + t`` (mm);
* the camera looks down +z, x right, y down in the image;
* intrinsics ``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` map normalised, distorted
  coordinates to pixels (px), pixel (0, 0) being the centre of the top-left pixel;
* ``dist = (k1, k2, k3, p1, p2)``. Two tangential models exist, selected by the static field
  ``dist_model``:

  - ``'h36m'`` (Human3.6M's ``ProjectPointRadialDistortion``, VideoPose3D's ``project_to_2d``)::

      x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6 + p1 y + p2 x) + r^2 p2
      y_d = y (1 + k1 r^2 + k2 r^4 + k3 r^6 + p1 y + p2 x) + r^2 p1

  - ``'opencv'`` (``cv2.projectPoints`` with ``(k1, k2, p1, p2, k3)``)::

      x_d = x (1 + k1 r^2 + k2 r^4 + k3 r^6) + 2 p1 x y + p2 (r^2 + 2 x^2)
      y_d = y (1 + k1 r^2 + k2 r^4 + k3 r^6) + p1 (r^2 + 2 y^2) + 2 p2 x y

  The two radial parts agree; the tangential parts do not (H36M's is not OpenCV's), and the
  0.01 px agreement with the real Human3.6M labels needs the 'h36m' one.

All functions here act on one camera and points with any leading shape; ``*_views`` variants
are ``jax.vmap``-ed over a leading view axis V of both the cameras and the points.
"""

from __future__ import annotations

import chex
import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

UNDISTORT_ITERS = 20  # fixed-point iterations; H36M lenses converge to <1e-9 px in ~8.


@flax.struct.dataclass
class Camera:
  """One calibrated camera (a pytree; stack cameras to get [V, ...] leaves).

  Attributes:
    K: [3, 3] intrinsics (px).
    R: [3, 3] world->camera rotation.
    t: [3] world->camera translation (mm).
    dist: [5] distortion (k1, k2, k3, p1, p2); zeros for an undistorted image.
    dist_model: 'h36m' or 'opencv' (static), see the module docstring.
  """
  K: jax.Array
  R: jax.Array
  t: jax.Array
  dist: jax.Array
  dist_model: str = flax.struct.field(pytree_node=False, default='h36m')

  @classmethod
  def create(cls, K, R, t, dist=None, dist_model='h36m', dtype=jnp.float32, *, name='camera'):
    """Builds a camera from array-likes, validated: the one constructor for cameras read from
    files. ``dist`` defaults to no distortion.

    Host (numpy) inputs are checked for finite values and for ``R`` being a rotation
    (R R^T = I within 1e-3, det +1); traced inputs only for shapes.

    Args:
      K, R, t, dist: [..., 3, 3] px, [..., 3, 3], [..., 3] mm, [..., 5] (k1, k2, k3, p1, p2).
      dist_model: 'h36m' or 'opencv'.
      dtype: of the leaves.
      name: where the camera comes from (file and camera), the start of every error message.
    Raises:
      ValueError: ``'{name}: field F ...'`` on a wrong shape, a non-finite value, a matrix R
        that is not a rotation, or an unknown ``dist_model``.
    """
    if dist_model not in ('h36m', 'opencv'):
      raise ValueError(f'{name}: dist_model must be "h36m" or "opencv", got {dist_model!r}')
    # Host inputs stay numpy (float64 survives until used under jax.enable_x64); traced or
    # device inputs stay jax arrays.
    host = not any(isinstance(a, jax.Array) for a in (K, R, t, dist))
    xp = np if host else jnp
    K, R, t = (xp.asarray(a, dtype) for a in (K, R, t))
    dist = xp.zeros(K.shape[:-2] + (5,), dtype) if dist is None else xp.asarray(dist, dtype)
    for field, a, shape in (('K', K, (3, 3)), ('R', R, (3, 3)), ('t', t, (3,)),
                            ('dist', dist, (5,))):
      if a.shape[a.ndim - len(shape):] != shape:
        raise ValueError(f'{name}: field {field} must end in shape {shape}, got {a.shape}')
      if host and not np.all(np.isfinite(a)):
        raise ValueError(f'{name}: field {field} is not finite')
    if host:
      r64 = np.asarray(R, np.float64)
      gap = np.abs(r64 @ np.swapaxes(r64, -1, -2) - np.eye(3)).max()
      det = np.linalg.det(r64)
      if gap > 1e-3 or np.any(det < 0):
        raise ValueError(f'{name}: field R is not a rotation (|R R^T - I| = {gap:.2g}, '
                         f'det {np.min(det):.4f})')
    return cls(K=K, R=R, t=t, dist=dist, dist_model=dist_model)

  @property
  def center(self) -> jax.Array:
    """[3] camera centre in world coordinates (mm): ``-R^T t``."""
    return -jnp.einsum('...ji,...j->...i', self.R, self.t)

  def projection_matrix(self) -> jax.Array:
    """[3, 4] pinhole projection ``K [R | t]`` (distortion ignored), px per mm."""
    return self.K @ jnp.concatenate([self.R, self.t[..., None]], axis=-1)


def world_to_camera(cam: Camera, points: jax.Array) -> jax.Array:
  """Rigid transform ``X_cam = R X_world + t`` (paper eq. 4). points: [..., 3] mm -> [..., 3] mm."""
  chex.assert_axis_dimension(points, -1, 3)
  return points @ cam.R.T + cam.t


def camera_to_world(cam: Camera, points: jax.Array) -> jax.Array:
  """Inverse rigid transform ``X_world = R^T (X_cam - t)``. [..., 3] mm -> [..., 3] mm."""
  chex.assert_axis_dimension(points, -1, 3)
  return (points - cam.t) @ cam.R


def _xp(*arrays):
  """numpy for host arrays (offline dataset building), jax.numpy otherwise."""
  return np if all(isinstance(a, np.ndarray) for a in arrays) else jnp


def distort(cam: Camera, xy: jax.Array) -> jax.Array:
  """Applies the lens model to normalised image coordinates. xy: [..., 2] -> [..., 2].

  numpy in (camera and points) gives numpy out, so dataset builders need no device.
  """
  k1, k2, k3, p1, p2 = (cam.dist[i] for i in range(5))
  x, y = xy[..., 0], xy[..., 1]
  r2 = x * x + y * y
  radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
  if cam.dist_model == 'h36m':
    tan = p1 * y + p2 * x
    xd = x * (radial + tan) + r2 * p2
    yd = y * (radial + tan) + r2 * p1
  else:
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
  return _xp(cam.dist, xy).stack([xd, yd], axis=-1)


def undistort(cam: Camera, xy_d: jax.Array) -> jax.Array:
  """Inverts :func:`distort` by fixed-point iteration (as ``cv2.undistortPoints``). [..., 2]."""
  def body(_, xy):
    return xy + (xy_d - distort(cam, xy))
  if _xp(cam.dist, xy_d) is np:
    xy = xy_d
    for i in range(UNDISTORT_ITERS):
      xy = body(i, xy)
    return xy
  return jax.lax.fori_loop(0, UNDISTORT_ITERS, body, xy_d)


def _apply_k(K, xy):
  return xy @ K[:2, :2].T + K[:2, 2]


def _invert_k(K, uv):
  # K is upper triangular: solve for (x, y) with 1 in the last component.
  y = (uv[..., 1] - K[1, 2]) / K[1, 1]
  x = (uv[..., 0] - K[0, 2] - K[0, 1] * y) / K[0, 0]
  return _xp(K, uv).stack([x, y], axis=-1)


def project(cam: Camera, points: jax.Array) -> jax.Array:
  """World points to pixels (paper eq. 4-5 plus the lens model).

  Args:
    cam: the camera.
    points: [..., 3] world coordinates (mm).
  Returns:
    [..., 2] pixel coordinates (px) in this camera's image (after any crop/resize in K).
  """
  pc = world_to_camera(cam, points)
  xy = pc[..., :2] / pc[..., 2:3]
  return _apply_k(cam.K, distort(cam, xy))


def unproject(cam: Camera, pixels: jax.Array, depth: jax.Array) -> jax.Array:
  """Back-projects pixels at known camera-frame depth to world points; exact inverse of project.

  Args:
    cam: the camera.
    pixels: [..., 2] pixel coordinates (px).
    depth: [...] camera-frame z of each point (mm).
  Returns:
    [..., 3] world coordinates (mm).
  """
  chex.assert_axis_dimension(pixels, -1, 2)
  xy = undistort(cam, _invert_k(cam.K, pixels))
  pc = jnp.concatenate([xy * depth[..., None], depth[..., None]], axis=-1)
  return camera_to_world(cam, pc)


def crop_and_resize(cam: Camera, box: jax.Array, out_size) -> Camera:
  """Camera of the image cropped to ``box`` then resized to ``out_size``.

  Cropping shifts the principal point; resizing scales the first two rows of K. Distortion and
  extrinsics are unchanged (the lens model acts before K), so projecting with the returned camera
  equals projecting with ``cam`` then mapping pixels with the same crop and resize.

  Args:
    cam: camera of the full image.
    box: [4] (x0, y0, w, h) crop box in full-image pixels (px).
    out_size: (W, H) output size (px).
  Returns:
    The updated Camera.
  """
  xp = np if isinstance(cam.K, np.ndarray) and not isinstance(box, jax.Array) else jnp
  box = xp.asarray(box, cam.K.dtype)
  sx = out_size[0] / box[2]
  sy = out_size[1] / box[3]
  A = xp.stack([xp.stack([sx, 0 * sx, -sx * box[0]]), xp.stack([0 * sy, sy, -sy * box[1]]),
                xp.asarray([0.0, 0.0, 1.0], cam.K.dtype)])
  return cam.replace(K=A @ cam.K)


def scale_image(cam: Camera, factor: float) -> Camera:
  """Camera of the image resized by ``factor`` (e.g. 1/stride for a heatmap grid)."""
  A = jnp.diag(jnp.array([factor, factor, 1.0], cam.K.dtype))
  return cam.replace(K=A @ cam.K)


project_views = jax.vmap(project)            # (Camera[V], [V, ..., 3]) -> [V, ..., 2]
unproject_views = jax.vmap(unproject)        # (Camera[V], [V, ..., 2], [V, ...]) -> [V, ..., 3]
world_to_camera_views = jax.vmap(world_to_camera)


def project_to_views(cams: Camera, points: jax.Array) -> jax.Array:
  """Projects one set of world points [..., 3] into every view: -> [V, ..., 2] px."""
  return jax.vmap(project, in_axes=(0, None))(cams, points)


def stack(cams) -> Camera:
  """Stacks a sequence of cameras (same dist_model) into one Camera with a leading V axis."""
  models = {c.dist_model for c in cams}
  if len(models) != 1:
    raise ValueError(f'cannot stack cameras with different dist_model: {models}')
  return jax.tree.map(lambda *a: jnp.stack(a), *cams)


def pixels_to_normalized(cam: Camera, pixels, *, remove_distortion: bool = True):
  """Pixels [..., 2] (px) -> normalised camera coordinates [..., 2] (x/z, y/z).

  With ``remove_distortion`` the lens model is inverted (undistorted coordinates).
  """
  xy = _invert_k(cam.K, pixels)
  return undistort(cam, xy) if remove_distortion else xy


def normalized_to_pixels(cam: Camera, xy, *, apply_distortion: bool = True):
  """Normalised camera coordinates [..., 2] -> pixels [..., 2] (px), optionally distorted."""
  return _apply_k(cam.K, distort(cam, xy) if apply_distortion else xy)
