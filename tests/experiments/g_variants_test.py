"""The G-variants experiment on the smoke sizes: every variant trains its G (one with 2D
pre-training, the LT parts and the mixture block), its P-GT and Ours; Base is trained once and
copied; the table is written and a second call trains nothing; bad variants are named."""

import json
import os
from unittest import mock

import chex
import pytest

from configs import g_variants as g_config
from configs import smoke
from mvssl import main
from mvssl.experiments import g_variants
from mvssl.train import stages

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)


def _config():
  c = smoke.get_config()
  full = g_config.get_config()
  c.experiment = 'g_variants'
  c.schedules.pretrain_2d = full.schedules.pretrain_2d
  c.schedules.pretrain_2d.update(steps=2, batch_size=2, warmup=1)
  c.runs.multi_2d = full.runs.multi_2d
  c.g_variants.variants = (
      ('current', 'current G', ()),
      ('everything', 'LT parts + mixture',
       (('model.g.conf_head', 'conv'), ('model.g.target', 'gaussian'),
        ('model.g.multiplier', 100.0), ('model.g.sigma', 'set1'), ('model.g.mixture', True),
        ('model.g.loss_3d', 'soft_mse'), ('runs.multi.init_from', 'multi_2d'))))
  return c


class GVariantsTest(chex.TestCase):

  def test_variants_end_to_end_and_resume(self):
    wd = self.create_tempdir().full_path
    c = _config()
    out = main.train_and_evaluate(c, wd)
    self.assertEqual(set(out['variants']), {'current', 'everything'})
    for name, row in out['variants'].items():
      for k in g_variants.SCORES:
        self.assertEqual(len(row[k]), 2, k)                     # (mean, std)
      self.assertGreater(row['g_mpjpe'][0], 0.0)
      self.assertGreater(row['px_soft'][0], 0.0)
    self.assertIn('ours_vs_reference', out['variants']['everything'])
    for f in ('g_variants.md', 'g_variants.json', 'g_variants.png'):
      self.assertTrue(os.path.exists(os.path.join(wd, f)), f)
    with open(os.path.join(wd, 'g_variants.md')) as f:
      self.assertIn('LT parts + mixture', f.read())
    seed_dir = os.path.join(wd, 'seed_0')
    ckpt = lambda v, r: os.path.join(seed_dir, v, 'checkpoints', r)   # noqa: E731
    self.assertTrue(os.path.isdir(ckpt('everything', 'base')))      # copied
    self.assertTrue(os.path.isdir(ckpt('everything', 'multi_2d')))  # its own 2D stage
    self.assertFalse(os.path.exists(ckpt('current', 'multi_2d')))   # not needed there
    self.assertFalse(os.path.exists(ckpt('current', 'l1_only')))    # dropped rows
    with open(os.path.join(seed_dir, 'everything', 'config.json')) as f:
      self.assertEqual(json.load(f)['model']['g']['conf_head'], 'conv')
    with open(os.path.join(seed_dir, 'everything', 'results.json')) as f:
      r = json.load(f)
    self.assertEqual(set(r['views_2d']['G']), {'soft_argmax', 'argmax'})
    per_joint = r['views_2d']['G']['argmax']                     # per joint, every threshold
    self.assertEqual(len(per_joint['per_joint_px']), c.model.num_joints)
    for f in ('0.05', '0.1', '0.2'):
      self.assertEqual(set(per_joint[f'per_joint_pck@{f}']), set(per_joint['per_joint_px']))
    # resumes: nothing trains again
    with mock.patch.object(stages, 'training_arrays', side_effect=AssertionError('trained again')):
      again = main.train_and_evaluate(_config(), wd)
    self.assertEqual(again['variants']['current']['g_mpjpe'],
                     out['variants']['current']['g_mpjpe'])

  def test_bad_variants_are_named(self):
    c = _config()
    c.g_variants.variants = (('current', 'x', ()), ('typo', 'y', (('model.g.conf_hed', 'conv'),)))
    with self.assertRaisesRegex(ValueError, "'typo' overrides 'model.g.conf_hed'"):
      main.validate(c)
    c.g_variants.variants = (('current', 'x', ()), ('bad', 'y', (('model.g.conf_head', 'rnn'),)))
    with self.assertRaisesRegex(ValueError, 'variant bad: config.model.g.conf_head must be one of'):
      main.validate(c)
    c.g_variants.variants = (('current', 'x', ()), ('wide', 'y', (('model.g.target', 'gaussian'),
                                                                 ('model.g.sigma', 'set3'))))
    with self.assertRaisesRegex(ValueError, 'variant wide: config.model.g.sigma: sigma must be'):
      main.validate(c)
    c.g_variants.variants = (('a', 'x', ()),)
    with self.assertRaisesRegex(ValueError, 'reference must name a variant'):
      main.validate(c)
