"""Orbax resume equals uninterrupted training; the whole pipeline on the smoke config."""

import functools
import json
import os

import chex
import jax
import numpy as np

from configs import smoke
from mvssl import parallel
from mvssl.data import augment
from mvssl.train import stages
from mvssl.train import step as step_lib
from mvssl.train import trainer
from tests.train.step_test import _batch


class Crash(Exception):
  pass


class TrainerTest(chex.TestCase):

  def _train(self, workdir, crash_at=None):
    config = smoke.get_config()
    config.pretrain_single.steps = 6
    batch, geo = _batch(config, n=8)
    arrays = {k: batch[k] for k in ('images', 'K', 'R', 't', 'dist', 'pose_3d', 'l1_w',
                                    'mvc_w')}
    ctx = stages.Context(config, workdir)
    state = ctx.new_state('single', config.pretrain_single)
    loss = functools.partial(step_lib.single_loss, geo=geo,
                             weights=step_lib.LossWeights(l1=1.0, mvc=0.1))

    def crash(step, metrics):
      del metrics
      if step == crash_at:
        raise Crash(f'simulated crash after step {crash_at}')

    # Geometric augmentation in 2 threads: the resumed order and augmentations must still match.
    return trainer.train_loop('base', state, loss, arrays, config.pretrain_single,
                              workdir=workdir, mesh=parallel.make_mesh(2), save_every=3,
                              log_every=2, callbacks=[crash], num_threads=2,
                              augment_fn=augment.augment_frame)

  def test_save_restore_continue_equals_uninterrupted(self):
    tmp = self.create_tempdir().full_path
    straight = self._train(os.path.join(tmp, 'a'))
    with self.assertRaises(Crash):
      self._train(os.path.join(tmp, 'b'), crash_at=4)    # dies after the step-3 checkpoint
    resumed = self._train(os.path.join(tmp, 'b'))
    self.assertEqual(int(jax.device_get(resumed.step)), 6)
    chex.assert_trees_all_close(jax.device_get(straight.params), jax.device_get(resumed.params),
                                rtol=1e-6, atol=1e-7)
    chex.assert_trees_all_close(jax.device_get(straight.opt_state),
                                jax.device_get(resumed.opt_state), rtol=1e-6, atol=1e-7)
    # The metrics log holds the lines of both attempts, none lost.
    rows = [json.loads(x) for x in open(os.path.join(tmp, 'b', 'base', 'metrics.jsonl'))]
    self.assertEqual([r['step'] for r in rows], [2, 4, 4, 6])

  def test_divergence_raises(self):
    tmp = self.create_tempdir().full_path
    config = smoke.get_config()
    batch, geo = _batch(config, n=4)
    batch['pose_3d'] = batch['pose_3d'] * np.nan
    ctx = stages.Context(config, tmp)
    loss = functools.partial(step_lib.single_loss, geo=geo, weights=step_lib.LossWeights())
    with self.assertRaisesRegex(FloatingPointError, r'\[base\] loss is nan at step 2'):
      trainer.train_loop('base', ctx.new_state('single', config.pretrain_single), loss,
                         {k: batch[k] for k in ('images', 'K', 'R', 't', 'dist', 'pose_3d',
                                                'l1_w', 'mvc_w')},
                         config.pretrain_single, workdir=tmp, mesh=parallel.make_mesh(1),
                         log_every=2)


class PipelineTest(chex.TestCase):

  def test_all_stages_write_the_table(self):
    tmp = self.create_tempdir().full_path
    config = smoke.get_config()
    results = trainer.train_and_evaluate(config, tmp)
    self.assertEqual(set(results['models']), {'Base', 'L1-only', 'Ours',
                                              'Base (pre-training only)'})
    for m in results['models'].values():
      self.assertEqual(set(m), {'cam0', 'cam1', 'cam2', 'cam3', 'mean'})
      self.assertTrue(all(np.isfinite(v['mpjpe']) and v['mpjpe'] > 0 for v in m.values()))
    for f in ('results.md', 'results.json', 'results.png', 'pgt/pgt.npz', 'base/loss.png',
              'base_gt/loss.png', 'l1_only/loss.png', 'ours/loss.png'):
      self.assertTrue(os.path.exists(os.path.join(tmp, f)), f)
    md = open(os.path.join(tmp, 'results.md')).read()
    self.assertIn('| cam0 |', md)
    self.assertIn('Ours PA-MPJPE', md)
    pgt = np.load(os.path.join(tmp, 'pgt', 'pgt.npz'))
    self.assertEqual(pgt['target'].shape, (8, 4, 17, 3))
    # Running again resumes everything: same numbers, nothing retrained.
    again = trainer.train_and_evaluate(config, tmp)
    self.assertEqual(again['models']['Ours']['mean'], results['models']['Ours']['mean'])
