"""The lifting baseline end to end on a slice of the real motion: protocol (a) per action, and
protocol (b) over two seeds with paired intervals; normalisation from training subjects only."""

import json
import os

import chex
import jax.numpy as jnp
import numpy as np
import pytest

from configs import lifting as lifting_config
from mvssl import main
from mvssl.geometry import root_relative
from mvssl.train.context import Context
from tests.conftest import shared_path

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)


def _tiny(protocol):
  shared_path('h36m_motion')                       # skip without the real motion
  c = lifting_config.get_config(protocol)
  c.data.max_frames = 60
  c.data.subjects.update(labeled=['S1'], test=['S9', 'S11'])
  if protocol == 'b':
    c.data.subjects.unlabeled = ['S7']
    c.seeds = (0, 1)
  c.model.lifting.hidden = 32
  c.log_every, c.save_every = 2, 3
  for s in c.schedules.values():
    s.update(steps=6, batch_size=4)
  return c


class LiftingExperimentTest(chex.TestCase):

  def test_protocol_a_reports_per_action_and_uses_training_statistics(self):
    tmp = self.create_tempdir().full_path
    config = _tiny('a')
    results = main.train_and_evaluate(config, tmp)
    label = 'Lifting (Martinez et al.)'
    self.assertEqual(results['cameras'], ['54138969', '55011271', '58860488', '60457274'])
    acts = results['actions'][label]
    self.assertIn('mean of actions', acts)
    self.assertGreater(len(acts), 3)
    self.assertAlmostEqual(acts['mean of actions']['mpjpe'],
                           np.mean([v['mpjpe'] for k, v in acts.items()
                                    if k != 'mean of actions']), places=4)
    self.assertIn('| walking |', open(os.path.join(tmp, 'results.md')).read())
    per_subject = results['subjects'][label]
    self.assertEqual(set(per_subject), {'S9', 'S11'})
    self.assertTrue(min(per_subject['S9']['mpjpe'], per_subject['S11']['mpjpe'])
                    <= results['models'][label]['mean']['mpjpe']
                    <= max(per_subject['S9']['mpjpe'], per_subject['S11']['mpjpe']))
    # The normalisation statistics are those of the training subject (S1), not of S9.
    ctx = Context(config, tmp)
    state = ctx.restore('supervised')
    model = state.model()
    lab, test = ctx.split('labeled'), ctx.split('test')
    codec = root_relative.RootRelativeCodec()

    def out_mean(d):
      rel = np.asarray(codec.encode_batch(d['cams'], jnp.asarray(d['pose_3d']))[0])
      return model.targets(jnp.asarray(rel.reshape(-1, 17, 3))).mean(0)
    np.testing.assert_allclose(model.out_mean.value, out_mean(lab), rtol=1e-4, atol=1e-2)
    both = {k: np.concatenate([lab[k], test[k]]) for k in ('pose_3d',)}
    both['cams'] = type(lab['cams'])(*[np.concatenate([getattr(lab['cams'], f),
                                                       getattr(test['cams'], f)])
                                       for f in ('K', 'R', 't', 'dist')])
    self.assertGreater(float(jnp.abs(model.out_mean.value - out_mean(both)).max()), 1.0)

  def test_protocol_b_over_two_seeds(self):
    tmp = self.create_tempdir().full_path
    out = main.train_and_evaluate(_tiny('b'), tmp)
    self.assertEqual(out['seeds'], [0, 1])
    self.assertEqual([(p['a'], p['b']) for p in out['pairs']],
                     [('L1-only', 'Base'), ('Ours', 'L1-only')])
    for p in out['pairs']:
      self.assertLessEqual(p['low'], p['mean'])
      self.assertLessEqual(p['mean'], p['high'])
    for s in (0, 1):
      self.assertTrue(os.path.exists(os.path.join(tmp, f'seed_{s}', 'results.md')))
      self.assertTrue(os.path.exists(os.path.join(tmp, f'seed_{s}', 'checkpoints', 'ours', '6')))
    saved = json.load(open(os.path.join(tmp, 'seeds.json')))
    self.assertGreaterEqual(saved['models']['Ours']['mean']['mpjpe']['std'], 0.0)
    text = open(os.path.join(tmp, 'seeds.md')).read()
    self.assertIn('Ours - L1-only', text)
    self.assertIn('| Ours |', text.split('Where the error lies')[1])
    dis = saved['models']['Ours']['mean']['disagreement']['mean']
    self.assertTrue(np.isfinite(dis) and dis > 0.0)             # 4 views of every test frame
    # P-GT: the DLT of the 4 views' noisy 2D, against the hidden GT of S7.
    self.assertLess(saved['pgt_mpjpe']['mean'], 100.0)
    self.assertEqual(saved['pgt_mpjpe']['std'], 0.0)          # the same P-GT for every seed
