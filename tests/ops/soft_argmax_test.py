"""3D/2D soft-argmax: one-hot peaks, the reference formula, gradients."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
from absl.testing import parameterized
from jax.test_util import check_grads

from mvssl.ops import soft_argmax


class SoftArgmaxTest(chex.TestCase):

  @chex.variants(with_jit=True, without_jit=True)
  @parameterized.parameters((8, 16, 12), (5, 7, 9))
  def test_one_hot_volume_returns_peak(self, d, h, w):
    rng = np.random.default_rng(d)
    peaks = np.stack([rng.integers(0, w, 4), rng.integers(0, h, 4), rng.integers(0, d, 4)], -1)
    vol = np.full((4, d, h, w), -1e4, np.float32)
    for j, (x, y, z) in enumerate(peaks):
      vol[j, z, y, x] = 0.0
    out = self.variant(soft_argmax.soft_argmax_3d)(jnp.asarray(vol))
    np.testing.assert_allclose(out, peaks, atol=1e-4)

  @chex.variants(with_jit=True, without_jit=True)
  def test_one_hot_map_returns_peak_2d(self):
    hm = np.full((3, 10, 14), -1e4, np.float32)
    peaks = np.array([[3, 2], [13, 9], [0, 5]])
    for j, (x, y) in enumerate(peaks):
      hm[j, y, x] = 0.0
    np.testing.assert_allclose(self.variant(soft_argmax.soft_argmax_2d)(jnp.asarray(hm)), peaks,
                               atol=1e-4)

  def test_matches_integral_regression_reference(self):
    logits = jax.random.normal(jax.random.key(0), (2, 3, 6, 7, 8)) * 3
    d, h, w = logits.shape[-3:]
    p = jax.nn.softmax(logits.reshape(2, 3, -1), axis=-1).reshape(logits.shape)
    zz, yy, xx = jnp.meshgrid(jnp.arange(d), jnp.arange(h), jnp.arange(w), indexing='ij')
    ref = jnp.stack([jnp.sum(p * g, axis=(-3, -2, -1)) for g in (xx, yy, zz)], -1)
    np.testing.assert_allclose(soft_argmax.soft_argmax_3d(logits), ref, rtol=1e-5, atol=1e-5)

  def test_large_logits_stay_finite(self):
    logits = jnp.full((1, 4, 4, 4), 1e4).at[0, 1, 2, 3].set(1e4 + 50)
    out = soft_argmax.soft_argmax_3d(logits)
    np.testing.assert_allclose(out[0], [3, 2, 1], atol=1e-4)

  def test_bad_rank_raises(self):
    with self.assertRaisesRegex(ValueError, r'\[\.\.\., D, H, W\]'):
      soft_argmax.soft_argmax_3d(jnp.zeros((4, 4)))

  def test_check_grads(self):
    with jax.enable_x64(True):
      logits = jax.random.normal(jax.random.key(1), (2, 3, 4, 5), jnp.float64)
      check_grads(soft_argmax.soft_argmax_3d, (logits,), order=2, modes=('fwd', 'rev'))
      check_grads(soft_argmax.soft_argmax_2d, (logits[0],), order=2, modes=('fwd', 'rev'))
