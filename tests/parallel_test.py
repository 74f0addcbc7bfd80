"""DataParallel: no host copy of the state between steps in either mode; clear batch errors."""

from unittest import mock

import chex
import jax
import jax.numpy as jnp
import numpy as np

from mvssl import parallel


def _step(state, batch):
  g = jax.lax.pmean(jnp.sum(batch['x']), parallel.AXIS)
  return dict(w=state['w'] + g), dict(loss=g)


class DataParallelTest(chex.TestCase):

  def test_state_stays_on_the_devices_in_both_modes(self):
    mesh = parallel.make_mesh(2)
    batch = dict(x=np.arange(8, dtype=np.float32).reshape(4, 2))
    results = {}
    for mode in parallel.MODES:
      dp = parallel.DataParallel(_step, mesh, parallel=mode)
      state = dp.put_state(dict(w=jnp.zeros(3)))
      # Any device -> host copy of the state (explicit or implicit) fails inside this block.
      with jax.transfer_guard('disallow'), mock.patch.object(
          jax, 'device_get', side_effect=AssertionError('state copied to the host')):
        for _ in range(3):
          state, metrics = dp(state, dp.put_batch(batch))
        out = dp.get_state(state)
      self.assertEqual(out['w'].shape, (3,))
      self.assertTrue(out['w'].sharding.is_fully_replicated)
      results[mode] = (np.asarray(out['w']), float(metrics['loss']))
    # Every step adds the global batch mean over devices: 3 * mean(per-device sums) = 3 * 14.
    np.testing.assert_allclose(results['shard_map'][0], 3 * 14.0)
    np.testing.assert_allclose(results['pmap'][0], results['shard_map'][0])
    self.assertEqual(results['pmap'][1], results['shard_map'][1])

  def test_bad_batch_and_mode_are_named(self):
    mesh = parallel.make_mesh(2)
    for mode in parallel.MODES:
      dp = parallel.DataParallel(_step, mesh, parallel=mode)
      with self.assertRaisesRegex(ValueError, 'batch dimension 3 is not divisible by 2 devices'):
        dp.put_batch(dict(x=np.zeros((3, 2), np.float32)))
    with self.assertRaisesRegex(ValueError, "config.parallel must be one of .* got 'vmap'"):
      parallel.DataParallel(_step, mesh, parallel='vmap')


class ProcessTest(chex.TestCase):

  def test_main_process_is_process_zero(self):
    self.assertTrue(parallel.is_main_process())
    with mock.patch.object(parallel.jax, 'process_index', return_value=1):
      self.assertFalse(parallel.is_main_process())


class CheckDevicesTest(chex.TestCase):

  def test_warns_when_a_gpu_is_present_but_jax_runs_on_cpu(self):
    gpu = dict(parallel.ACCELERATORS, gpu=(lambda: True, parallel.ACCELERATORS['gpu'][1]))
    with mock.patch.dict(parallel.ACCELERATORS, gpu), self.assertLogs('mvssl', 'INFO') as logs:
      warnings = parallel.check_devices()
    self.assertEqual(len(warnings), 1)
    self.assertIn('this host has a GPU but JAX runs on cpu: pip install -e .[cuda]', warnings[0])
    self.assertIn(f'JAX {jax.__version__}, backend cpu: {jax.device_count()} device(s)',
                  logs.output[0])

  def test_no_warning_without_an_accelerator_or_when_jax_uses_it(self):
    none = {k: (lambda: False, v[1]) for k, v in parallel.ACCELERATORS.items()}
    with mock.patch.dict(parallel.ACCELERATORS, none):
      self.assertEqual(parallel.check_devices(), [])
    gpu = dict(parallel.ACCELERATORS, gpu=(lambda: True, ''))
    with mock.patch.dict(parallel.ACCELERATORS, gpu), mock.patch.object(
        jax, 'default_backend', return_value='gpu'):
      self.assertEqual([w for w in parallel.check_devices() if 'GPU' in w], [])
