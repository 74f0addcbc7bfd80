"""Prediction in batches of one shape: the batch sizes, padding, and a padded chunk giving the
same targets as one call (codec.encode_split)."""

import chex
import jax
import numpy as np

from configs import default
from mvssl.geometry import camera as camlib
from mvssl.geometry import codec as codec_lib
from mvssl.train import families
from mvssl.train import heatmap_family
from tests.fixtures import fakes


class BatchesTest(chex.TestCase):

  def test_fixed_batches_have_one_size_and_cover_every_frame(self):
    for n, want in ((1, 1), (5, 8), (32, 32), (70, 32)):
      got = list(heatmap_family.fixed_batches(n, 32))
      self.assertEqual({size for _, _, size in got}, {want})
      self.assertEqual(sum(k for _, k, _ in got), n)
      self.assertEqual(got[-1][0].start + got[-1][1], n)
    x = dict(a=np.arange(6).reshape(3, 2), b=np.arange(3))
    padded = codec_lib.pad_rows(x, 5)
    np.testing.assert_array_equal(padded['b'], [0, 1, 2, 2, 2])
    np.testing.assert_array_equal(padded['a'][3:], [[4, 5], [4, 5]])

  def test_encode_split_in_padded_chunks_equals_one_batch(self):
    codec = families.FAMILIES['integral'].codec(default.get_config().model)
    cams = fakes.rig(0, 4)
    poses = fakes.people(1, 7)
    c = jax.tree.map(lambda a: np.broadcast_to(np.asarray(a, np.float32), (7,) + a.shape),
                     camlib.stack(cams))
    t1, r1 = codec.encode_split(c, poses.astype(np.float32), chunk=3)      # 3 + 3 + 1 padded
    t2, r2 = codec.encode_batch(c, poses.astype(np.float32))
    np.testing.assert_allclose(t1, t2, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(r1, r2, rtol=1e-6)
    self.assertEqual(t1.shape, (7, 4, 17, 3))
