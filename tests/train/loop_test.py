"""The training loop: Orbax resume equals uninterrupted training; divergence stops it; only
process 0 writes the metrics files."""

import functools
import json
import os
from unittest import mock

import chex
import jax
import numpy as np
import pytest
from absl.testing import parameterized

from configs import smoke
from mvssl import parallel
from mvssl.data import augment
from mvssl.models import pose_net
from mvssl.train import families
from mvssl.train import heatmap_family
from mvssl.train import loop
from mvssl.train import state as state_lib
from mvssl.train import summaries
from mvssl.data.synthetic import synthetic_batch


class Crash(Exception):
  pass


def _setup(n=8, steps=6, **model):
  config = smoke.get_config()
  config.schedules.pretrain_single.steps = steps
  config.model.update(model)
  batch, codec = synthetic_batch(config, n=n)
  sched = config.schedules.pretrain_single
  model = pose_net.build('integral', config.model, axis_name=parallel.AXIS, seed=0)
  state = state_lib.TrainState.create(model, state_lib.make_optimizer(config.optimizer, sched))
  loss = functools.partial(heatmap_family.integral_loss, codec=codec,
                           weights=families.LossWeights(l1=1.0, mvc=0.1))
  return state, loss, batch, sched


class LoopTest(parameterized.TestCase):

  def _train(self, workdir, crash_at=None):
    state, loss, batch, sched = _setup()

    def crash(step, metrics):
      del metrics
      if step == crash_at:
        raise Crash(f'simulated crash after step {crash_at}')

    # Geometric augmentation in 2 threads: the resumed order and augmentations must still match.
    return loop.train_loop('base', state, loss, batch, sched, workdir=workdir,
                           mesh=parallel.make_mesh(2), save_every=3, log_every=2,
                           callbacks=[crash], num_threads=2, augment_fn=augment.augment_frame,
                           lr_fn=state_lib.learning_rate(smoke.get_config().optimizer, sched))

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
    # The metrics log holds every step once: the rows after the checkpoint resumed from (step 3)
    # are logged again by the resumed run, so the first attempt's are dropped.
    rows = [json.loads(x) for x in open(os.path.join(tmp, 'b', 'base', 'metrics.jsonl'))]
    self.assertEqual([r['step'] for r in rows], [2, 4, 6])
    self.assertTrue(os.path.exists(os.path.join(tmp, 'b', 'base', 'loss.png')))
    # TensorBoard shows the same: each step once (the first attempt's step 4 purged), the values
    # of metrics.jsonl, the learning rate of the schedule and steps/s.
    tb = summaries.read_scalars(os.path.join(tmp, 'b', 'base'))
    self.assertContainsSubset({'loss/loss', 'loss/l1', 'loss/mvc', 'train/lr', 'train/steps_per_s',
                               'train/grad_norm', 'train/param_norm'}, set(tb))
    for key, tag in (('loss', 'loss/loss'), ('l1', 'loss/l1'), ('lr', 'train/lr'),
                     ('grad_norm', 'train/grad_norm')):
      self.assertEqual([s for s, _ in tb[tag]], [2, 4, 6], tag)
      np.testing.assert_allclose([v for _, v in tb[tag]], [r[key] for r in rows], rtol=1e-6,
                                 err_msg=tag)
    _, _, _, sched = _setup()
    lr = state_lib.learning_rate(smoke.get_config().optimizer, sched)
    np.testing.assert_allclose([v for _, v in tb['train/lr']], [lr(1), lr(3), lr(5)], rtol=1e-6)
    self.assertTrue(all(v > 0 for _, v in tb['train/steps_per_s']))

  @parameterized.parameters('data', '_METADATA')
  @pytest.mark.slow   # trains, damages and resumes a run: the slow tier
  def test_a_damaged_last_checkpoint_is_set_aside_and_the_previous_one_resumed(self, lost):
    tmp = self.create_tempdir().full_path
    straight = self._train(os.path.join(tmp, 'a'))
    self._train(os.path.join(tmp, 'b'))                        # finished: checkpoints 3 and 6
    ckpts = os.path.join(tmp, 'b', 'checkpoints', 'base')
    damaged = [os.path.join(d, f) for d, _, fs in os.walk(os.path.join(ckpts, '6', 'default'))
               for f in fs if (f == '_METADATA' if lost == '_METADATA' else f[0] != '_')]
    self.assertNotEmpty(damaged)
    for f in damaged:                  # the array data files, or the item's metadata, are gone
      os.remove(f)
    with self.assertLogs('mvssl', 'WARNING') as logs:
      resumed = self._train(os.path.join(tmp, 'b'))
    self.assertRegex(logs.output[0], r'checkpoints/base/6: damaged checkpoint \(.+\); kept as '
                     r'.+checkpoints/base/damaged\.6, resuming from step 3')
    self.assertTrue(os.path.isdir(os.path.join(ckpts, 'damaged.6')))     # kept, not deleted
    self.assertEqual(int(jax.device_get(resumed.step)), 6)
    chex.assert_trees_all_close(jax.device_get(straight.params), jax.device_get(resumed.params),
                                rtol=1e-6, atol=1e-7)

  def test_trim_metrics_keeps_rows_up_to_the_step_and_drops_a_cut_row(self):
    path = os.path.join(self.create_tempdir().full_path, 'metrics.jsonl')
    with open(path, 'w') as f:
      f.write('{"step": 2, "l1": 1.0}\n{"step": 4, "l1": 0.5}\n{"step": 6, "l1"')
    self.assertEqual(loop.trim_metrics(path, 4), 1)
    self.assertEqual([json.loads(x)['step'] for x in open(path)], [2, 4])
    self.assertEqual(loop.trim_metrics(path, 4), 0)
    self.assertEqual(loop.trim_metrics(os.path.join(os.path.dirname(path), 'none.jsonl'), 4), 0)

  def test_wall_minutes_adds_the_segments_between_resumes(self):
    run_dir = self.create_tempdir().full_path
    self.assertTrue(np.isnan(summaries.wall_minutes(run_dir)))            # no metrics.jsonl
    with open(os.path.join(run_dir, 'metrics.jsonl'), 'w') as f:          # resumed twice
      f.write('{"step": 2, "time": 60}\n{"step": 4, "time": 120}\n{"step": 6, "time": 30}\n'
              '{"step": 8, "time": 90}\n{"step": 10, "time": 45}\n{"step": 12, "ti')
    self.assertAlmostEqual(summaries.wall_minutes(run_dir), (120 + 90 + 45) / 60.0)

  def test_a_different_model_in_a_finished_workdir_is_one_line(self):
    tmp = self.create_tempdir().full_path
    state, loss, batch, sched = _setup(n=4, steps=2)
    loop.train_loop('base', state, loss, batch, sched, workdir=tmp, mesh=parallel.make_mesh(1))
    wider, loss, batch, sched = _setup(n=4, steps=4, num_filters=8)
    with self.assertRaisesRegex(ValueError, r'checkpoints/base/2: this checkpoint was written by '
                                r'a different model \(\d+ of \d+ arrays differ, e\.g\. .+: '
                                r'\(.+\) in the checkpoint, \(.+\) now\); train into a new '
                                r'--workdir') as e:
      loop.train_loop('base', wider, loss, batch, sched, workdir=tmp, mesh=parallel.make_mesh(1))
    self.assertNotIn('\n', str(e.exception))

  def test_divergence_raises(self):
    tmp = self.create_tempdir().full_path
    state, loss, batch, sched = _setup(n=4)
    batch['pose_3d'] = batch['pose_3d'] * np.nan
    with self.assertRaisesRegex(FloatingPointError, r'\[base\] loss is nan at step 2'):
      loop.train_loop('base', state, loss, batch, sched, workdir=tmp,
                      mesh=parallel.make_mesh(1), log_every=2)

  def test_only_process_zero_writes_metrics(self):
    tmp = self.create_tempdir().full_path
    state, loss, batch, sched = _setup(n=4, steps=2)
    # As process 1 of a multi-host run (Orbax itself coordinates the checkpoint writes).
    with mock.patch.object(parallel, 'is_main_process', return_value=False):
      out = loop.train_loop('base', state, loss, batch, sched, workdir=tmp,
                            mesh=parallel.make_mesh(1), log_every=1)
    self.assertEqual(int(jax.device_get(out.step)), 2)
    self.assertFalse(os.path.exists(os.path.join(tmp, 'base')))       # no metrics, no plot
