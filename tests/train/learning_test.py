"""Training learns: a tiny run lowers the error from the same initialisation by a stated
margin (a model that stops learning, a loss with no gradient or a broken target would not)."""

import chex
import jax.numpy as jnp
import numpy as np

from configs import smoke
from mvssl import metrics
from mvssl.train import families
from mvssl.train import stages
from mvssl.train.context import Context

MARGIN = 0.25   # the trained model's MPJPE must be at least 25% below the initial one's


def _mpjpe(ctx, state, run, d) -> float:
  pred = families.FAMILIES[run.family].predict(state, d, ctx.codec(run))     # [N, V, J, 3]
  gt = jnp.broadcast_to(jnp.asarray(d['pose_3d'])[:, None], pred.shape)
  return float(np.mean(metrics.mpjpe(jnp.asarray(pred), gt)))


class LearningTest(chex.TestCase):

  def test_a_tiny_run_lowers_the_error_on_its_frames_by_the_margin(self):
    c = smoke.get_config()
    c.input.augment = 'none'
    c.schedules.pretrain_single.update(steps=150, batch_size=4, lr=3e-3, warmup=5)
    c.log_every = c.save_every = 150
    c.runs = {'base': c.runs.base}
    ctx = Context(c, self.create_tempdir().full_path)
    run = ctx.runs['base']
    d = ctx.split('labeled')
    before = _mpjpe(ctx, ctx.new_state(run), run, d)     # the initialisation training starts from
    stages.train(ctx, 'base')
    after = _mpjpe(ctx, ctx.restore('base'), run, d)
    self.assertLess(after, (1 - MARGIN) * before, f'MPJPE {before:.1f} -> {after:.1f} mm')
