"""The real 4-camera Pose2Sim recording as unlabeled calibrated multi-view data: P-GT from its
2D detections by confidence-weighted DLT, Base pre-trained on the embedded rendered data, then
fine-tuned on the real crops with L1 + 0.1 MVC; reports per view the P-GT reprojection error and
the MVC disagreement before and after.

  python launch.py --config=configs/pose2sim.py --workdir=runs/pose2sim

Base is stage pretrain_single of the embedded default; run in the default's workdir
(--workdir=runs/default) to reuse its finished Base instead of training one.

The recording is read from $MVSSL_SHARED_DATA/pose2sim_balancing (default ../shared/data).
"""

import os

import ml_collections

from configs import default


def get_config(arg=None):
  c = default.get_config(arg)
  c.title = 'mvssl on the Pose2Sim balancing recording'
  c.dataset = 'pose2sim'
  c.pose2sim = ml_collections.ConfigDict()
  c.pose2sim.root = os.path.join(os.environ.get('MVSSL_SHARED_DATA', '../shared/data'),
                                 'pose2sim_balancing')   # calibration.json, keypoints.npz, frames/
  c.pose2sim.min_score = 0.3   # detections below this confidence get DLT weight 0
  c.pose2sim.box_scale = 1.3   # crop side / extent of the detections (as data.box_scale)
  c.finetune.steps = 300
  c.finetune.batch_size = 4
  c.finetune.lr = 5e-4
  return c
