"""The lifting codec and its Pi on a hand-computed 2-view case; MVC on lifted poses."""

import chex
import jax.numpy as jnp
import numpy as np
from scipy.spatial.transform import Rotation

from mvssl import losses
from mvssl.geometry import camera as camlib
from mvssl.geometry import root_relative


class RootRelativeCodecTest(chex.TestCase):

  def test_encode_decode_and_mvc_by_hand(self):
    codec = root_relative.RootRelativeCodec()
    K = np.diag([1000.0, 1000.0, 1.0])
    r1 = np.eye(3)
    r2 = Rotation.from_euler('z', 90, degrees=True).as_matrix()   # x_cam = -y_world... (by hand)
    cams = camlib.Camera.create(np.stack([K, K]), np.stack([r1, r2]),
                                np.array([[0.0, 0, 5000], [100.0, 0, 4000]]), dtype=np.float32)
    pose = jnp.array([[10.0, 20, 30], [110.0, 20, 30], [10.0, 220, 30]])   # root, +x, +y
    y, depth = codec.encode_views(cams, pose)
    np.testing.assert_allclose(y[0], [[0, 0, 0], [100, 0, 0], [0, 200, 0]], atol=1e-4)
    # r2 maps world x to camera y and world y to camera -x.
    np.testing.assert_allclose(y[1], [[0, 0, 0], [0, 100, 0], [-200, 0, 0]], atol=1e-4)
    np.testing.assert_allclose(depth, [5030.0, 4030.0], atol=1e-3)
    world = codec.decode_views(cams, y, depth)
    np.testing.assert_allclose(world[0], world[1], atol=1e-4)
    np.testing.assert_allclose(world[0], pose - pose[0], atol=1e-4)
    # View 2 predicts its +y joint 30 mm too far along camera x: in world that is -30 mm in y...
    wrong = y.at[1, 1, 0].add(30.0)
    np.testing.assert_allclose(codec.decode(jax_cam(cams, 1), wrong[1], 0.0)[1],
                               [100.0, -30.0, 0.0], atol=1e-4)
    # ... so MVC (one pair, 3 joints, mean over xyz) is 30 / 3 / 3 mm.
    mvc = losses.mvc_loss(codec, jax_cams(cams), wrong[None], depth[None])
    self.assertAlmostEqual(float(mvc), 30.0 / 3 / 3, places=4)
    self.assertEqual(codec.unit_mm, 1.0)


def jax_cam(cams, i):
  return camlib.Camera(K=cams.K[i], R=cams.R[i], t=cams.t[i], dist=cams.dist[i])


def jax_cams(cams):
  return camlib.Camera(K=cams.K[None], R=cams.R[None], t=cams.t[None], dist=cams.dist[None])
