"""Absolute 3D pose on the real Human3.6M motion and official cameras (configs/h36m_motion.py): the
integral model with the GT root depth, PoseNet + RootNet (3DMPPE), MeTRo and MeTRAbs, each with
Base / L1-only / Ours where it predicts an absolute pose (README "Absolute 3D pose").

  python launch.py --config=configs/absolute.py --workdir=runs/absolute     # seeds 0-4

Every family: pre-training on GT (1000 steps), then 300 steps from it on GT (Base), GT + P-GT
with L1 (L1-only) or with L1 + 0.03 L_MVC (Ours); G 500 steps; 1000 test frames. Shorter than
h36m_motion's schedules: about 25 minutes per seed on 2 CPU cores, the truncated and
3-person evaluations included.
Every run is also scored on the test crops with a third of the window cut off at the bottom and
at the side (mvssl.data.truncate), and on 3-person scenes of every 4th test frame, each person
cropped from its own box (mvssl.data.crowd). For the absolute families the P-GT targets are each
view's camera-frame pose and L_MVC compares each view's own absolute prediction in world
coordinates (no borrowed root depth).
"""

from configs import default
from configs import h36m_motion

run = default.run


def get_config(arg=None):
  c = h36m_motion.get_config(arg)
  c.title = 'absolute 3D pose on real Human3.6M motion and official cameras'
  c.data.frames.test = 1000
  c.seeds = (0, 1, 2, 3, 4)
  c.schedules.pretrain_single = default.schedule(1000, 8, 2e-3)
  c.schedules.pretrain_multi = default.schedule(500, 8, 2e-3)
  c.schedules.finetune = default.schedule(300, 8, 1e-3)
  c.model.absolute.warmup = 200      # MeTRAbs' absolute term after a fifth of its pre-training
  c.truncation.modes = ('bottom', 'side')   # also scored on crops with a third cut off
  c.crowd.update(people=3, every=4)          # and on 3-person scenes (250 scenes, 750 people)
  ours = dict(pgt=True, mvc_frames='all', mvc=0.03)
  l1 = dict(pgt=True, mvc_frames='all')
  c.runs = default.ConfigDict(dict(
      multi=run('G', 'algebraic', 'pretrain_multi', init_seed=1, mm_3d=0.01, report='below',
                order=0),
      # the integral model (PoseNet), with the GT root depth and with RootNet's
      base=run('Base (pre-training only)', 'integral', 'pretrain_single', report='none', order=1),
      rootnet_base=run('RootNet (pre-training only)', 'rootnet', 'pretrain_single',
                       init_seed=2, report='none', order=1),
      rootnet=run('RootNet', 'rootnet', 'finetune', init_from='rootnet_base', report='below',
                  order=2),
      rootnet_l1_only=run('RootNet L1-only', 'rootnet', 'finetune', init_from='rootnet_base',
                          report='below', order=2, **l1),
      rootnet_ours=run('RootNet Ours', 'rootnet', 'finetune', init_from='rootnet_base',
                       report='below', order=2, **ours),
      base_gt=run('Base', 'integral', 'finetune', init_from='base', root_from='rootnet',
                  order=3),
      l1_only=run('L1-only', 'integral', 'finetune', init_from='base',
                  root_from='rootnet_l1_only', order=4, **l1),
      ours=run('Ours', 'integral', 'finetune', init_from='base', root_from='rootnet_ours',
               order=5, **ours),
      # MeTRo (root-relative) and MeTRAbs (absolute)
      metro_base=run('MeTRo (pre-training only)', 'metro', 'pretrain_single', init_seed=3,
                     report='none', order=6),
      metro=run('MeTRo Base', 'metro', 'finetune', init_from='metro_base', order=6),
      metrabs_base=run('MeTRAbs (pre-training only)', 'metrabs', 'pretrain_single',
                       init_seed=4, report='none', order=7),
      metrabs=run('MeTRAbs Base', 'metrabs', 'finetune', init_from='metrabs_base', order=7),
      metrabs_l1_only=run('MeTRAbs L1-only', 'metrabs', 'finetune', init_from='metrabs_base',
                          order=8, **l1),
      metrabs_ours=run('MeTRAbs Ours', 'metrabs', 'finetune', init_from='metrabs_base',
                       order=9, **ours),
  ))
  # paired intervals: the method within each family, MPJPE and (absolute families) absolute MPJPE
  c.pairs = (('l1_only', 'base_gt'), ('ours', 'l1_only'),
             ('l1_only+rootnet_l1_only', 'base_gt+rootnet', 'abs_mpjpe'),
             ('ours+rootnet_ours', 'l1_only+rootnet_l1_only', 'abs_mpjpe'),
             ('metrabs_l1_only', 'metrabs'), ('metrabs_ours', 'metrabs_l1_only'),
             ('metrabs_l1_only', 'metrabs', 'abs_mpjpe'),
             ('metrabs_ours', 'metrabs_l1_only', 'abs_mpjpe'),
             ('metrabs', 'base_gt+rootnet', 'abs_mpjpe'))
  return c
