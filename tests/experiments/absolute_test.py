"""The absolute families end to end on the smoke sizes (configs/absolute.py's run table): every
row trains, the integral runs are scored with the GT's and RootNet's root depths, the absolute
metrics and MRPE reach the report, the seeds' aggregate and the configured pairs; an untrained
MeTRAbs (every 2D joint near one point) still gives finite poses."""

import json
import os

import chex
import numpy as np
import pytest

from configs import absolute as absolute_config
from configs import smoke
from mvssl import main
from mvssl.experiments import seeds as seeds_lib
from mvssl.train import evaluate
from mvssl.train.context import Context
from mvssl.train import runs as runs_lib

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)


KEEP = ('multi', 'base', 'rootnet_base', 'rootnet', 'base_gt', 'metro_base', 'metro',
        'metrabs_base', 'metrabs', 'metrabs_ours')


def _config():
  """configs/absolute.py's rows that exercise every path (each family, RootNet's depths, the
  absolute P-GT with MVC), on the smoke sizes."""
  c = smoke.get_config()
  full = absolute_config.get_config()
  c.runs = full.runs
  for r in [r for r in c.runs if r not in KEEP]:
    del c.runs[r]
  c.pairs = (('metrabs_ours', 'metrabs', 'abs_mpjpe'), ('metrabs', 'base_gt+rootnet', 'abs_mpjpe'))
  c.model.absolute.warmup = 2
  c.truncation.modes = ('bottom',)
  c.crowd.update(people=2, every=2)
  return c


class AbsoluteTest(chex.TestCase):

  def test_table_orders_rootnet_before_the_runs_evaluated_at_its_depths(self):
    rows = list(runs_lib.table(absolute_config.get_config()))
    for run, rootnet in (('base_gt', 'rootnet'), ('ours', 'rootnet_ours')):
      self.assertLess(rows.index(rootnet), rows.index(run))

  def test_bad_pairs_are_named(self):
    c = absolute_config.get_config()
    rows = runs_lib.table(c)
    runs_lib.check_pairs(c.pairs, rows)
    with self.assertRaisesRegex(ValueError, 'config.pairs'):
      runs_lib.check_pairs((('ours', 'nothing'),), rows)
    with self.assertRaisesRegex(ValueError, 'config.pairs'):
      runs_lib.check_pairs((('ours', 'l1_only', 'auc'),), rows)

  def test_end_to_end_through_the_seeds_aggregate(self):
    wd = self.create_tempdir().full_path
    c = _config()
    c.seeds = (0,)
    out = main.train_and_evaluate(c, wd)
    with open(os.path.join(wd, 'seed_0', 'results.json')) as f:
      r = json.load(f)
    models = r['models']
    for label in ('Base', 'Base + RootNet', 'MeTRAbs Ours'):
      self.assertIn('abs_mpjpe', models[label]['mean'], label)
      self.assertTrue(np.isfinite(models[label]['mean']['mrpe_z']), label)
    self.assertNotIn('abs_mpjpe', models['MeTRo Base']['mean'])     # root-relative only
    self.assertIn('RootNet', r['roots'])
    # the same network at the GT's and at RootNet's root depth: only the depth-driven numbers move
    self.assertNotEqual(models['Base']['mean']['mrpe_z'], models['Base + RootNet']['mean']['mrpe_z'])
    pair_names = {(p['a'], p['b'], p['metric']) for p in r['pairs']}
    self.assertEqual(pair_names, {('MeTRAbs Ours', 'MeTRAbs Base', 'abs_mpjpe'),
                                  ('MeTRAbs Base', 'Base + RootNet', 'abs_mpjpe')})
    self.assertFalse(np.any(np.isnan([models['MeTRAbs Ours']['mean'][k]
                                       for k in ('mpjpe', 'pa_mpjpe', 'abs_mpjpe')])))
    with open(os.path.join(wd, 'seed_0', 'results.md')) as f:
      md = f.read()
    self.assertIn('absolute MPJPE', md)
    self.assertIn('RootNet (root alone)', md)
    self.assertEqual(out['seeds'], [0])
    self.assertIn('abs_mpjpe', out['models']['MeTRAbs Ours']['mean'])
    self.assertIn('RootNet', out['roots'])
    t = r['truncated']['bottom']
    self.assertGreater(t['joints_outside'], 0.0)
    self.assertIn('abs_mpjpe', t['models']['MeTRAbs Ours'])
    self.assertIn('Truncated crops', md)
    self.assertTrue(os.path.exists(os.path.join(wd, 'seed_0', 'test@bottom_results.json')))
    # every person of every 2-person scene scored from its own box (4 test frames, every 2nd)
    crowd = r['crowd']
    self.assertEqual(crowd['people'], 2)
    self.assertLessEqual(crowd['crops'], 2 * 2 * 4)
    self.assertTrue(np.isfinite(crowd['models']['MeTRAbs Ours']['abs_mpjpe']))
    self.assertTrue(0.0 <= crowd['models']['MeTRAbs Ours']['pck3d_abs'] <= 1.0)
    self.assertNotIn('abs_mpjpe', crowd['models']['MeTRo Base'])
    self.assertIn('Several people per frame', md)
    with open(os.path.join(wd, 'seeds.md')) as f:
      text = f.read()
    self.assertIn('Several people per frame', text)
    self.assertIn('MRPE x / y / z', text)
    self.assertIn('root z bias', text)
    # the root z bias is signed and no larger than the root's depth error
    for label in ('Base + RootNet', 'MeTRAbs Ours'):
      m = models[label]['mean']
      self.assertLessEqual(abs(m['root_dz']), m['mrpe_z'] + 1e-6, label)
    self.assertIn('root_dz', crowd['models']['MeTRAbs Ours'])
    self.assertIn('Truncated crops', text)
    self.assertIn('bottom', out['truncated'])
    for p in out['pairs']:
      self.assertLessEqual(p['low'], p['high'])
    # Stored predictions of a made split are reused only under the same settings: another
    # truncation fraction gives other crops of the same size, and is predicted again.
    sc = seeds_lib.seed_config(c, wd, 0)
    ctx = Context(sc, os.path.join(wd, 'seed_0'))
    run = ctx.runs['metrabs_ours']
    d = ctx.split('test@bottom')
    stored = evaluate.predictions(ctx, run, 'test@bottom', d)
    sc.truncation.fraction = 0.1
    ctx = Context(sc, os.path.join(wd, 'seed_0'))
    d = ctx.split('test@bottom')
    again = evaluate.predictions(ctx, run, 'test@bottom', d)
    self.assertEqual(again.shape, stored.shape)
    self.assertFalse(np.allclose(again, stored))
