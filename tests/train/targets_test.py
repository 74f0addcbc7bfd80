"""The reproduction study's targets for unlabeled frames: noise with the requested statistics,
fixed per frame; withheld (view, joint) targets get no L1; hidden GT only where labels exist;
the labeled:unlabeled share of draws."""

import types

import chex
import numpy as np

from configs import smoke
from mvssl.models import pose_net
from mvssl.train import families
from mvssl.train import heatmap_family
from mvssl.train import runs
from mvssl.train import stages
from mvssl.data.synthetic import synthetic_batch


def _split(n=3000, v=4, j=17):
  return dict(view_valid=np.ones((n, v), bool)), np.zeros((n, j, 3), np.float32)


class UnlabeledTargetsTest(chex.TestCase):

  def test_view_consistent_noise_has_the_requested_sigma(self):
    d, poses = _split()
    for sigma in (30.0, 100.0):
      noisy, extra = stages.unlabeled_targets(d, poses + 5.0, runs.Targets(noise_mm=sigma))
      err = noisy - (poses + 5.0)
      self.assertEqual(extra, {})                        # one world pose: the same in every view
      self.assertAlmostEqual(float(err.std()) / sigma, 1.0, delta=0.02)
      self.assertLess(abs(float(err.mean())), 3 * sigma / np.sqrt(err.size))
      for axis in range(3):                              # sigma per coordinate
        self.assertAlmostEqual(float(err[..., axis].std()) / sigma, 1.0, delta=0.03)
    clean, _ = stages.unlabeled_targets(d, poses, runs.Targets())
    np.testing.assert_array_equal(clean, poses)

  def test_view_inconsistent_noise_and_withheld_targets(self):
    d, poses = _split()
    t = runs.Targets(view_noise=0.7, withheld=0.3, seed=4)
    same, extra = stages.unlabeled_targets(d, poses, t)
    np.testing.assert_array_equal(same, poses)           # the world pose is untouched
    noise, w = extra['target_noise'], extra['target_w']
    self.assertEqual(noise.shape, (3000, 4, 17, 3))
    self.assertAlmostEqual(float(noise.std()) / 0.7, 1.0, delta=0.02)
    # independent between views: correlation of view 0's and view 1's noise ~ 0
    corr = np.corrcoef(noise[:, 0].ravel(), noise[:, 1].ravel())[0, 1]
    self.assertLess(abs(corr), 0.02)
    self.assertAlmostEqual(1.0 - float(w.mean()), 0.3, delta=0.01)
    self.assertTrue(set(np.unique(w)) <= {0.0, 1.0})
    # fixed per frame: the same seed draws the same, another seed draws otherwise
    _, again = stages.unlabeled_targets(d, poses, t)
    np.testing.assert_array_equal(again['target_w'], w)
    np.testing.assert_array_equal(again['target_noise'], noise)
    _, other = stages.unlabeled_targets(d, poses, runs.Targets(view_noise=0.7, withheld=0.3))
    self.assertFalse(np.array_equal(other['target_w'], w))

  def test_withheld_targets_get_no_l1_and_noise_moves_the_others(self):
    config = smoke.get_config()
    batch, codec = synthetic_batch(config, n=2)
    model = pose_net.build('integral', config.model, seed=0)
    weights = families.LossWeights(l1=1.0, mvc=0.0)
    v, j = batch['view_valid'].shape[1], batch['pose_3d'].shape[1]
    w = np.ones((2, v, j), np.float32)
    w[:, 0, 3] = 0.0                                     # view 0's joint 3 withheld
    base = dict(batch, target_noise=np.zeros((2, v, j, 3), np.float32), target_w=w)
    loss = lambda b: float(heatmap_family.integral_loss(model, b, codec, weights)[0])  # noqa
    ref = loss(base)
    off = base['target_noise'].copy()
    off[:, 0, 3] = 1e3                                   # a wild target where withheld
    self.assertAlmostEqual(loss(dict(base, target_noise=off)), ref, places=4)
    off[:, 1, 3] = 1e3                                   # ... and where not: it counts
    self.assertGreater(loss(dict(base, target_noise=off)), ref + 1.0)

  def test_hidden_gt_needs_labels(self):
    ctx = types.SimpleNamespace(data=types.SimpleNamespace(
        source=lambda split: types.SimpleNamespace(name='recording_x')))
    run = types.SimpleNamespace(name='oracle')
    d = dict(has_pose_3d=np.array([True, False]), pose_3d=np.zeros((2, 17, 3)))
    with self.assertRaisesRegex(ValueError, r'config.runs.oracle.data.pgt_from is hidden_gt but '
                                r'the unlabeled split has 1 frames without 3D labels'):
      stages._hidden_gt(ctx, d, run)
    d['has_pose_3d'][:] = True
    self.assertIs(stages._hidden_gt(ctx, d, run), d['pose_3d'])

  def test_unlabeled_share_of_draws(self):
    arrays = dict(x=np.arange(700))                      # 600 labeled then 100 unlabeled
    for share in (0.5, 0.25, 0.8):
      out = stages._share(arrays, 600, 100, share)['x']
      self.assertAlmostEqual(float(np.mean(out >= 600)), share, delta=0.01)
      self.assertEqual(set(out.tolist()), set(range(700)))   # every frame at least once
