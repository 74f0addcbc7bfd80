"""The per-device train step under shard_map and pmap on 2 fake CPU devices."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
import pytest

from configs import smoke
from mvssl import parallel
from mvssl.models import pose_net
from mvssl.train import families
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib
from mvssl.data.synthetic import synthetic_batch

def nnx_params(model):
  return nnx.split(model, nnx.Param, nnx.BatchStat)[1]


WEIGHTS = families.LossWeights(l1=1.0, mvc=0.1, mm_3d=0.01)


class StepTest(chex.TestCase):

  def _run(self, family, mode, num_devices, dtype='float32', steps=2):
    config = smoke.get_config()
    config.model.dtype = dtype
    batch, codec = synthetic_batch(config)
    model = pose_net.build(family, config.model, axis_name=parallel.AXIS, seed=0)
    # Plain SGD: the updates are the averaged gradients themselves (Adam would turn float32
    # round-off in near-zero gradients into lr-sized differences).
    state = state_lib.TrainState.create(model, optax.sgd(0.05))
    mesh = parallel.make_mesh(num_devices)
    fn = functools.partial(families.FAMILIES[family].loss, codec=codec, weights=WEIGHTS)
    per_device = step_lib.make_train_step(fn)
    if mode == 'shard_map':            # the production path must compile once
      chex.clear_trace_counter()       # counters are per code object, shared across _run calls
      per_device = chex.assert_max_traces(per_device, n=1)
    dp = parallel.DataParallel(per_device, mesh, parallel=mode, donate_state=False)
    state = dp.put_state(state)        # as the loop does
    for _ in range(steps):
      state, metrics = dp(state, dp.put_batch(batch))
    state = dp.get_state(state)
    return jax.device_get(state.params), jax.device_get(state.batch_stats), metrics

  def test_two_devices(self):
    self.assertEqual(jax.device_count(), 2)

  @pytest.mark.slow   # compiles several models: the slow tier
  def test_shard_map_and_pmap_give_equal_updates(self):
    for family in ('integral', 'algebraic'):
      p1, b1, m1 = self._run(family, 'shard_map', 2)
      p2, b2, m2 = self._run(family, 'pmap', 2)
      chex.assert_trees_all_close(p1, p2, rtol=1e-5, atol=1e-6)
      chex.assert_trees_all_close(b1, b2, rtol=1e-5, atol=1e-6)
      self.assertAlmostEqual(float(m1['loss']), float(m2['loss']), places=5)

  def test_two_devices_match_one_device(self):
    """pmean of gradients + synchronised batch norm: the split batch equals the whole batch."""
    p1, b1, m1 = self._run('integral', 'shard_map', 1)
    p2, b2, m2 = self._run('integral', 'shard_map', 2)
    chex.assert_trees_all_close(b1, b2, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(p1, p2, rtol=1e-4, atol=1e-6)
    self.assertAlmostEqual(float(m1['loss']), float(m2['loss']), places=4)

  @pytest.mark.slow   # compiles several models: the slow tier
  def test_bfloat16_step_within_tolerance_of_float32(self):
    """Mixed precision (config.model.dtype='bfloat16'): bf16 convolutions, float32 parameters,
    soft-argmax, DLT and losses. Stated tolerance, one SGD step from the same initialisation:
    loss within 2% and the update (the gradient) at cosine >= 0.98 to the float32 one, for both
    networks; parameters stay float32."""
    for family in ('integral', 'algebraic'):
      p0 = jax.device_get(pose_net.build(family, smoke.get_config().model, seed=0))
      p0 = jax.device_get(nnx_params(p0))
      runs = {d: self._run(family, 'shard_map', 1, dtype=d, steps=1)
              for d in ('float32', 'bfloat16')}
      (p32, _, m32), (p16, _, m16) = runs['float32'], runs['bfloat16']
      self.assertTrue(all(x.dtype == jnp.float32 for x in jax.tree.leaves(p16)))
      self.assertLess(abs(float(m16['loss']) / float(m32['loss']) - 1), 0.02, family)
      u32 = np.concatenate([np.ravel(a - b) for a, b in zip(jax.tree.leaves(p32),
                                                          jax.tree.leaves(p0))])
      u16 = np.concatenate([np.ravel(a - b) for a, b in zip(jax.tree.leaves(p16),
                                                          jax.tree.leaves(p0))])
      cos = u32 @ u16 / np.linalg.norm(u32) / np.linalg.norm(u16)
      self.assertGreater(cos, 0.98, family)
