"""The real 4-camera Pose2Sim recording as unlabeled calibrated multi-view data, read through the
bring-your-own path (configs/recording.py): P-GT from its 2D detections by confidence-weighted
DLT, Base pre-trained on the embedded rendered data, then fine-tuned on the real crops with
L1 + 0.1 MVC; reports per view the P-GT reprojection error and the MVC disagreement before and
after, and the agreement of the P-GT with the recording's own reader.

  python launch.py --config=configs/pose2sim.py --workdir=runs/pose2sim

Base is run ``base`` of the embedded default; run in the default's workdir
(--workdir=runs/default) to reuse its finished Base instead of training one.

The recording is read from $MVSSL_SHARED_DATA/pose2sim_balancing (default ../shared/data).
"""

import os

from configs import default


def get_config(arg=None):
  c = default.get_config(arg)
  c.title = 'mvssl on the Pose2Sim balancing recording'
  c.experiment = 'pose2sim'
  shared = os.environ.get('MVSSL_SHARED_DATA', '../shared/data')
  c.unlabeled_data = default.recording_data(os.path.join(shared, 'pose2sim_balancing'))
  c.pseudo_label.source = 'detections'
  c.pseudo_label.min_score = 0.3   # detections below this confidence get DLT weight 0
  c.schedules.finetune.update(steps=300, batch_size=4, lr=5e-4)
  c.runs = default.ConfigDict(dict(
      base=c.runs.base,
      pose2sim_ours=default.run('Fine-tuned (L1 + MVC)', 'integral', 'finetune',
                                init_from='base', gt=False, pgt=True, mvc_frames='all', mvc=0.1,
                                report='none', order=1)))
  c.runs.base.label = 'Base'
  return c
