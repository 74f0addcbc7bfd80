"""Model shapes, the deconvolution equivalence and all ResNet depths."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from flax import nnx

from mvssl.models import pose_net
from mvssl.models import resnet


class ModelTest(chex.TestCase):

  def test_deconv_equals_conv_transpose(self):
    deconv = pose_net.Deconv(3, 5, rngs=nnx.Rngs(0))
    x = jax.random.normal(jax.random.key(0), (2, 6, 7, 3))
    k = deconv.conv.kernel.value                                            # [4, 4, 3, 5]
    # lax.conv_transpose (fractionally strided conv, as nnx.ConvTranspose) with k=4, s=2, p=1.
    ref = jax.lax.conv_transpose(x, k, (2, 2), padding=[(2, 2), (2, 2)],
                                 dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
    out = deconv(x)
    self.assertEqual(out.shape, (2, 12, 14, 5))
    np.testing.assert_allclose(out, ref, atol=1e-5)
    # ... and so are its gradients with respect to the input and the kernel.
    g = jax.random.normal(jax.random.key(1), out.shape)

    graphdef, params = nnx.split(deconv)                                   # one leaf: the kernel

    def ours(x, k):
      return jnp.sum(nnx.merge(graphdef, jax.tree.map(lambda _: k, params))(x) * g)
    want = jax.grad(lambda x, k: jnp.sum(jax.lax.conv_transpose(
        x, k, (2, 2), padding=[(2, 2), (2, 2)], dimension_numbers=('NHWC', 'HWIO', 'NHWC')) * g),
                    argnums=(0, 1))(x, k)
    got = jax.grad(ours, argnums=(0, 1))(x, k)
    for a, b in zip(got, want):
      np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)

  def test_integral_pose_net_shapes(self):
    model = pose_net.IntegralPoseNet(num_joints=17, depth_bins=16, resnet_depth=18,
                                     num_filters=8, deconv_channels=16, rngs=nnx.Rngs(0))
    joints, aux = model(jnp.zeros((2, 64, 64, 3), jnp.uint8), train=False)
    self.assertEqual(joints.shape, (2, 17, 3))
    self.assertEqual(aux['logits'].shape, (2, 17, 16, 16, 16))
    self.assertTrue(bool(jnp.all((joints >= 0) & (joints <= 15))))

  def test_algebraic_net_shapes(self):
    model = pose_net.AlgebraicTriangulationNet(num_joints=17, resnet_depth=18, num_filters=8,
                                               deconv_channels=16, rngs=nnx.Rngs(0))
    j2d, conf, aux = model(jnp.zeros((3, 64, 64, 3)), train=True)
    self.assertEqual(j2d.shape, (3, 17, 2))
    self.assertEqual(aux['heatmaps'].shape, (3, 17, 16, 16))
    self.assertTrue(bool(jnp.all(conf > 0)))

  @parameterized.parameters((18, 512), (34, 512), (50, 2048), (101, 2048), (152, 2048))
  def test_resnet_depths(self, depth, channels):
    model = resnet.resnet(depth, rngs=nnx.Rngs(0))
    out = jax.eval_shape(lambda x: model(x), jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32))
    self.assertEqual(out.shape, (1, 2, 2, channels))

  def test_unknown_depth_raises(self):
    with self.assertRaisesRegex(ValueError, 'depth must be one of'):
      resnet.resnet(42, rngs=nnx.Rngs(0))
