"""The heatmap codec: eq. 4-8 by hand, Pi its exact inverse through a real distorted crop."""

import chex
import jax
import jax.numpy as jnp
import numpy as np

from mvssl.data import h36m
from mvssl.geometry import camera as camlib
from mvssl.geometry import heatmap
from tests.conftest import shared_path


class HeatmapCodecTest(chex.TestCase):

  def test_encode_follows_eq_4_to_8(self):
    codec = heatmap.HeatmapCodec(stride=4.0, depth_bins=16, cube_mm=2000.0)
    cam = camlib.Camera.create(np.array([[500.0, 0, 32], [0, 500, 32], [0, 0, 1]]), np.eye(3),
                               np.array([0.0, 0, 4000]), dtype=np.float32)
    pose = jnp.array([[0.0, 0, 0], [200.0, -100, 500], [0, 0, -1000]])
    hm, root_depth = codec.encode(cam, pose)
    self.assertAlmostEqual(float(root_depth), 4000.0)
    # (5)-(6): pixel / stride; (7): the root in the middle bin, +-cube/2 at the volume's ends.
    np.testing.assert_allclose(hm[0], [8.0, 8.0, 8.0], atol=1e-5)
    np.testing.assert_allclose(hm[1, :2], (np.array([200.0, -100]) * 500 / 4500 + 32) / 4,
                               atol=1e-4)
    self.assertAlmostEqual(float(hm[1, 2]), (0.5 + 1) * 0.5 * 16, places=4)
    self.assertAlmostEqual(float(hm[2, 2]), 0.0, places=4)
    self.assertAlmostEqual(codec.unit_mm, 125.0)
    np.testing.assert_allclose(codec.decode(cam, hm, root_depth), pose, atol=1e-2)
    # Hashable: a static argument of jitted functions.
    self.assertEqual(hash(codec), hash(heatmap.HeatmapCodec(4.0, 16, 2000.0)))

  @chex.variants(with_jit=True, without_jit=True)
  def test_round_trip_through_real_crop(self):
    """Real S9 motion, S9's official distorted cameras, a real GT-box crop and resize."""
    cams = h36m.load_cameras(shared_path('h36m_motion', 'h36m_cameras.json'))['S9']
    motion = h36m.load_motion(shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz'),
                              subjects=('S9',))
    poses = np.concatenate([v[::50] for v in motion.values()])[:40]
    codec = heatmap.HeatmapCodec(stride=4.0, depth_bins=64)
    with jax.enable_x64(True):
      for _, cam in cams:
        def round_trip(pose):
          uv = camlib.project(cam, pose)
          lo, hi = uv.min(0), uv.max(0)
          size = jnp.max(hi - lo) * 1.2
          box = jnp.concatenate([(lo + hi) / 2 - size / 2, jnp.stack([size, size])])
          c = camlib.crop_and_resize(cam, box, (256, 256))
          hm, rd = codec.encode(c, pose)
          return codec.decode(c, hm, rd), hm
        back, hm = self.variant(jax.vmap(round_trip))(jnp.asarray(poses, jnp.float64))
        self.assertLess(float(jnp.max(jnp.abs(back - poses))), 1e-3)
        # The targets lie inside the 64-cell grid and the depth cube.
        self.assertTrue(bool(jnp.all((hm >= 0) & (hm <= 64))))

  def test_batch_forms_agree_with_one_view(self):
    rng = np.random.default_rng(0)
    codec = heatmap.HeatmapCodec(stride=4.0, depth_bins=16)
    cams = camlib.Camera.create(
        np.broadcast_to(np.array([[300.0, 0, 32], [0, 300, 32], [0, 0, 1]]), (2, 3, 3, 3)),
        np.broadcast_to(np.eye(3), (2, 3, 3, 3)), rng.normal(size=(2, 3, 3)) * 50 + [0, 0, 4000],
        dtype=np.float32)
    poses = jnp.asarray(rng.normal(size=(2, 17, 3)) * 300, jnp.float32)
    target, rd = codec.encode_batch(cams, poses)
    self.assertEqual(target.shape, (2, 3, 17, 3))
    one = jax.tree.map(lambda a: a[1, 2], cams)
    hm, r = codec.encode(one, poses[1])
    np.testing.assert_allclose(target[1, 2], hm, rtol=1e-6)
    np.testing.assert_allclose(codec.decode_batch(cams, target, rd),
                               np.broadcast_to(poses[:, None], (2, 3, 17, 3)), atol=0.05)
