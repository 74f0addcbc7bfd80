"""Per-view targets of a lifting run (the 'where MVC should have information' settings): each
view's own noise on its camera-frame target (mm, root excepted) and withheld (view, joint)
targets without L1."""

import chex
import jax.numpy as jnp
import numpy as np

from mvssl import losses
from mvssl.geometry import root_relative
from mvssl.train import families
from mvssl.train import lifting_family
from tests.train.lifting_uncertainty_test import _batch
from tests.train.lifting_uncertainty_test import _model

CODEC = root_relative.RootRelativeCodec()
L1 = families.LossWeights(l1=1.0)


def _l1(model, batch):
  return float(lifting_family.lifting_loss(model, batch, CODEC, L1)[1]['l1'])


class LiftingTargetsTest(chex.TestCase):

  def test_view_noise_is_added_to_each_views_target_but_not_the_root(self):
    model, batch = _model(dropout=0.0), _batch()
    noise = np.random.default_rng(0).normal(0.0, 40.0, (4, 3, 17, 3)).astype(np.float32)
    noisy = dict(batch, target_noise=noise)
    kp = jnp.asarray(batch['keypoints_2d'][..., :2]).reshape(12, 17, 2)
    pred = model(kp, train=True).reshape(4, 3, 17, 3)
    target = CODEC.encode_batch(batch['cams'], jnp.asarray(batch['pose_3d']))[0]
    want = losses.l1_loss(pred, target + _no_root(noise))
    np.testing.assert_allclose(_l1(model, noisy), float(want), rtol=1e-5)
    self.assertNotAlmostEqual(_l1(model, noisy), _l1(model, batch), places=2)
    # Noise on the root alone changes nothing: the root-relative target's root stays 0.
    root_only = np.zeros_like(noise)
    root_only[:, :, 0] = 500.0
    np.testing.assert_allclose(_l1(model, dict(batch, target_noise=root_only)),
                               _l1(model, batch), rtol=1e-6)

  def test_withheld_targets_carry_no_l1(self):
    model, batch = _model(dropout=0.0), _batch()
    w = np.ones((4, 3, 17), np.float32)
    w[:, 1] = 0.0                                     # every target of view 1 withheld
    kp = jnp.asarray(batch['keypoints_2d'][..., :2]).reshape(12, 17, 2)
    pred = model(kp, train=True).reshape(4, 3, 17, 3)
    target = CODEC.encode_batch(batch['cams'], jnp.asarray(batch['pose_3d']))[0]
    keep = [0, 2]
    want = losses.l1_loss(pred[:, keep], target[:, keep])
    np.testing.assert_allclose(_l1(model, dict(batch, target_w=w)), float(want), rtol=1e-5)
    # A withheld view's target may be anything.
    moved = dict(batch, target_w=w, target_noise=np.zeros((4, 3, 17, 3), np.float32))
    moved['target_noise'][:, 1] = 1e4
    np.testing.assert_allclose(_l1(model, moved), float(want), rtol=1e-5)


def _no_root(noise):
  out = np.array(noise)
  out[:, :, 0] = 0.0
  return out

