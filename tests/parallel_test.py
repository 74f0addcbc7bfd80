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
