"""RootNet's k, MeTRAbs' metric volume and least-squares root solve, the absolute codecs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from mvssl.geometry import absolute
from mvssl.geometry import camera as camlib
from mvssl.ops import soft_argmax


def _pose_cam(seed=0, root=(300.0, -200.0, 5000.0)):
  """A camera-frame pose [17, 3] mm: a person-sized cloud around ``root`` (joint 0)."""
  rng = np.random.default_rng(seed)
  off = rng.normal(0.0, 300.0, (17, 3)) * np.array([1.0, 2.0, 1.0])
  off[0] = 0.0
  return (np.asarray(root) + off).astype(np.float32)


def _normalized(pc):
  return pc[..., :2] / pc[..., 2:3]


def test_root_solve_recovers_a_known_translation_exactly():
  pcs = np.stack([_pose_cam(s, root) for s, root in
                  enumerate([(300, -200, 5000), (-800, 100, 3000), (50, 40, 8000)])])
  offsets = pcs - pcs[:, :1]
  prior = 0.8 * pcs[:, 0, 2]                    # a prior 20 % off, as RootNet's k may be
  got = absolute.reconstruct_absolute(jnp.asarray(_normalized(pcs)), jnp.asarray(offsets), None,
                                      jnp.asarray(prior))
  # float32 normal equations: sub-millimetre from noise-free projections
  np.testing.assert_allclose(np.asarray(got), pcs, atol=0.5)


def test_root_solve_degrades_gracefully_with_noise():
  pc = _pose_cam()
  offsets = jnp.asarray(pc - pc[:1])
  rng = np.random.default_rng(1)
  errs = []
  for sigma in (0.0005, 0.002, 0.008):       # ~0.5, 2, 8 px at a focal length of 1000 px
    noise = rng.normal(0.0, sigma, (64, 17, 2)).astype(np.float32)
    got = absolute.reconstruct_absolute(jnp.asarray(_normalized(pc) + noise),
                                        jnp.broadcast_to(offsets, (64, 17, 3)))
    errs.append(float(np.mean(np.linalg.norm(np.asarray(got) - pc, axis=-1))))
  assert np.all(np.isfinite(errs))
  assert errs[0] < errs[1] < errs[2]
  assert errs[0] < 50.0            # half a pixel of noise: a few cm at 5 m


def test_masked_joints_are_left_out_of_the_solve():
  pc = _pose_cam()
  xy = _normalized(pc).copy()
  xy[[3, 6, 9, 13]] += 0.5                   # wild 2D predictions (e.g. truncated joints)
  w = np.ones(17, np.float32)
  w[[3, 6, 9, 13]] = 0.0
  got = absolute.reconstruct_absolute(jnp.asarray(xy), jnp.asarray(pc - pc[:1]), jnp.asarray(w),
                                      4000.0)
  np.testing.assert_allclose(np.asarray(got), pc, atol=0.5)
  unmasked = absolute.reconstruct_absolute(jnp.asarray(xy), jnp.asarray(pc - pc[:1]))
  assert np.max(np.abs(np.asarray(unmasked) - pc)) > 100.0      # the mask matters


@pytest.mark.parametrize('usable', [0, 1])
def test_fewer_than_two_usable_joints_fall_back_to_all_joints(usable):
  pc = _pose_cam()
  w = np.zeros(17, np.float32)
  w[:usable] = 1.0
  got = np.asarray(absolute.reconstruct_absolute(jnp.asarray(_normalized(pc)),
                                                 jnp.asarray(pc - pc[:1]), jnp.asarray(w),
                                                 4000.0))
  assert np.all(np.isfinite(got))
  np.testing.assert_allclose(got, pc, atol=0.5)


def test_all_zero_input_gives_no_nan():
  got = absolute.reconstruct_absolute(jnp.zeros((17, 2)), jnp.zeros((17, 3)))
  assert np.all(np.isfinite(np.asarray(got)))


def test_gradients_through_the_solve():
  pc = _pose_cam().astype(np.float64)
  with jax.enable_x64(True):
    xy, off = jnp.asarray(_normalized(pc)), jnp.asarray(pc - pc[:1])
    w = jnp.asarray(np.linspace(0.2, 1.0, 17))
    check_grads(lambda a, b: absolute.reconstruct_absolute(a, b, w), (xy, off), order=1,
                modes=('rev',), atol=1e-2, rtol=1e-2)


def test_rootnet_k_for_a_known_box_and_focal_length():
  K = jnp.asarray([[1000.0, 0, 128], [0, 1000.0, 128], [0, 0, 1]])
  # a 2000 x 2000 mm box filling a 256-px crop at f = 1000 px lies at 1000 * 2000 / 256 mm
  np.testing.assert_allclose(float(absolute.rootnet_k(K, 256.0)), 1000.0 * 2000.0 / 256.0,
                             rtol=1e-6)
  # the same k from the original image's box and focal lengths as from the crop camera
  full = camlib.Camera.create(np.array([[1145.0, 0, 512], [0, 1143.0, 515], [0, 0, 1]]),
                              np.eye(3), np.zeros(3))
  box = np.array([300.0, 200.0, 480.0, 480.0])
  crop = camlib.crop_and_resize(full, box, (64, 64))
  k_full = np.sqrt(1145.0 * 1143.0 * absolute.ROOTNET_AREA_MM2 / (480.0 * 480.0))
  np.testing.assert_allclose(float(absolute.rootnet_k(crop.K, 64.0)), k_full, rtol=1e-5)


def test_metric_volume_decodes_a_joint_outside_the_image():
  shape = (16, 16, 16)
  offset = jnp.asarray([150.0, 700.0, -80.0])           # an ankle 0.7 m below the root
  cell = absolute.mm_to_metric(offset, shape)
  d, y, x = jnp.meshgrid(*(jnp.arange(n, dtype=jnp.float32) for n in shape), indexing='ij')
  logits = -((x - cell[0]) ** 2 + (y - cell[1]) ** 2 + (d - cell[2]) ** 2) / (2 * 0.7 ** 2)
  got = absolute.metric_to_mm(soft_argmax.soft_argmax_3d(logits[None]), shape)[0]
  np.testing.assert_allclose(np.asarray(got), np.asarray(offset), atol=5.0)
  # a 64-px crop centred on the root at 5 m with f = 250 px (a tight box around the upper body):
  # the ankle projects below the crop, where a 2D heatmap has no cell, but the volume holds it
  K = np.array([[250.0, 0, 32], [0, 250.0, 32], [0, 0, 1]])
  ankle = np.array([0.0, 0.0, 5000.0]) + np.asarray(got)
  v = K[1, 1] * ankle[1] / ankle[2] + K[1, 2]
  assert v > 64.0


def test_metric_volume_round_trip():
  off = jnp.asarray(np.random.default_rng(0).uniform(-1000, 1000, (5, 3)), jnp.float32)
  np.testing.assert_allclose(
      np.asarray(absolute.metric_to_mm(absolute.mm_to_metric(off, (8, 12, 16)), (8, 12, 16))),
      np.asarray(off), atol=1e-3)


def _camera():
  ang = 0.3
  rot = np.array([[np.cos(ang), 0, np.sin(ang)], [0, 1, 0], [-np.sin(ang), 0, np.cos(ang)]])
  return camlib.Camera.create(np.array([[150.0, 0, 32], [0, 150.0, 32], [0, 0, 1]]), rot,
                              np.array([100.0, -50.0, 4500.0]))


def test_camera_codec_round_trip_and_its_pi_needs_no_root_depth():
  cam = _camera()
  pose = jnp.asarray(_pose_cam(3, (0, 0, 0)))
  codec = absolute.CameraCodec(unit=137.5)
  y, root_depth = codec.encode(cam, pose)
  np.testing.assert_allclose(float(root_depth), float(y[0, 2]), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(codec.decode(cam, y, jnp.float32(1e9))), np.asarray(pose),
                             atol=1e-2)


def test_root_codec_round_trip():
  cam = _camera()
  pose = jnp.asarray(_pose_cam(4, (20, 30, 0)))
  codec = absolute.RootCodec(stride=4.0, unit=137.5)
  y, z = codec.encode(cam, pose)
  assert y.shape == (1, 3)
  np.testing.assert_allclose(float(y[0, 2]) * 137.5, float(z), rtol=1e-6)
  np.testing.assert_allclose(np.asarray(codec.decode(cam, y, z)), np.asarray(pose[:1]), atol=1e-2)


def test_inside_mask():
  px = jnp.asarray([[3.0, 30.0], [4.0, 4.0], [60.0, 60.0], [61.0, 10.0], [-5.0, 70.0]])
  np.testing.assert_array_equal(np.asarray(absolute.inside_mask(px, 64.0, 4.0)),
                                [False, True, True, False, False])


def test_undetermined_depth_leans_on_the_prior():
  """Every 2D joint at one point (an untrained 2D head): Z0 is free; the solve returns the prior
  depth, finite, and moves the root along the joint's ray."""
  pc = _pose_cam()
  xy = np.broadcast_to(np.array([0.05, -0.02], np.float32), (17, 2))
  got = np.asarray(absolute.reconstruct_absolute(jnp.asarray(xy), jnp.asarray(pc - pc[:1]),
                                                 prior_depth=4000.0))
  assert np.all(np.isfinite(got))
  np.testing.assert_allclose(got[0, 2], 4000.0, rtol=0.05)
