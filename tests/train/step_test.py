"""The per-device train step under shard_map and pmap on 2 fake CPU devices."""

import functools

import chex
import jax
import numpy as np
import optax

from configs import smoke
from mvssl import parallel
from mvssl.data import poses as poses_lib
from mvssl.geometry import camera as camlib
from mvssl.models import pose_net
from mvssl.train import stages
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib


def _batch(config, n=4, seed=0):
  rng = np.random.default_rng(seed)
  cams = camlib.stack(poses_lib.procedural_rig(rng, 4))
  cams = jax.tree.map(lambda a: np.broadcast_to(np.asarray(a, np.float32), (n,) + a.shape), cams)
  geo = stages.geometry(config)
  pose = poses_lib.procedural_poses(n, rng)
  # Cameras of a full 1000x1000 image scaled to the network input, so targets are in range.
  s = config.data.image_size / 1000.0
  K = cams.K.copy()
  K[..., :2, :] *= s
  cams = cams.replace(K=K)
  return dict(images=rng.integers(0, 255, (n, 4, config.data.image_size,
                                           config.data.image_size, 3), dtype=np.uint8),
              K=cams.K, R=cams.R, t=cams.t, dist=cams.dist,
              l1_w=np.ones(n, np.float32), mvc_w=np.ones(n, np.float32), pose_3d=pose), geo


class StepTest(chex.TestCase):

  def _run(self, kind, mode, num_devices, loss):
    config = smoke.get_config()
    batch, geo = _batch(config)
    model = pose_net.build(kind, config.model, axis_name=parallel.AXIS, seed=0)
    # Plain SGD: the updates are the averaged gradients themselves (Adam would turn float32
    # round-off in near-zero gradients into lr-sized differences).
    state = state_lib.TrainState.create(model, optax.sgd(0.05))
    mesh = parallel.make_mesh(num_devices)
    fn = functools.partial(loss, geo=geo, weights=step_lib.LossWeights(l1=1.0, mvc=0.1))
    per_device = step_lib.make_train_step(fn)
    if mode == 'shard_map':            # the production path must compile once
      chex.clear_trace_counter()       # counters are per code object, shared across _run calls
      per_device = chex.assert_max_traces(per_device, n=1)
    step = parallel.data_parallel(per_device, mesh, parallel=mode, donate_state=False)
    state = parallel.replicate(state, mesh)     # as the trainer does
    state, metrics = step(state, parallel.shard_batch(batch, mesh))
    state, metrics = step(state, parallel.shard_batch(batch, mesh))
    return jax.device_get(state.params), jax.device_get(state.batch_stats), metrics

  def test_two_devices(self):
    self.assertEqual(jax.device_count(), 2)

  def test_shard_map_and_pmap_give_equal_updates(self):
    for kind, loss in (('single', step_lib.single_loss), ('multi', step_lib.multi_loss)):
      p1, b1, m1 = self._run(kind, 'shard_map', 2, loss)
      p2, b2, m2 = self._run(kind, 'pmap', 2, loss)
      chex.assert_trees_all_close(p1, p2, rtol=1e-5, atol=1e-6)
      chex.assert_trees_all_close(b1, b2, rtol=1e-5, atol=1e-6)
      self.assertAlmostEqual(float(m1['loss']), float(m2['loss']), places=5)

  def test_two_devices_match_one_device(self):
    """pmean of gradients + synchronised batch norm: the split batch equals the whole batch."""
    p1, b1, m1 = self._run('single', 'shard_map', 1, step_lib.single_loss)
    p2, b2, m2 = self._run('single', 'shard_map', 2, step_lib.single_loss)
    chex.assert_trees_all_close(b1, b2, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_close(p1, p2, rtol=1e-4, atol=1e-6)
    self.assertAlmostEqual(float(m1['loss']), float(m2['loss']), places=4)

  def test_mvc_term_is_zero_for_consistent_views(self):
    """MVC of the P-GT targets themselves (consistent by construction) is ~0; perturbed, > 0."""
    config = smoke.get_config()
    batch, geo = _batch(config)
    from mvssl import losses
    cams = step_lib.cameras(batch)
    target, root_depth = step_lib.batch_targets(batch, geo)
    kw = dict(stride=geo.stride, depth_bins=geo.depth_bins, cube_mm=geo.cube_mm)
    self.assertLess(float(losses.mvc_loss(cams, target, root_depth, **kw)), 1e-2)
    noisy = target.at[:, 1, :, 2].add(1.0)                           # view 1 one bin deeper
    self.assertGreater(float(losses.mvc_loss(cams, noisy, root_depth, **kw)), 50.0)
