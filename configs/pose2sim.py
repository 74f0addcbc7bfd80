"""The real 4-camera Pose2Sim recording as unlabeled calibrated multi-view data, read through the
bring-your-own path (configs/recording.py): P-GT from its 2D detections by confidence-weighted
DLT, robust by Pose2Sim's rule (config.pseudo_label.robust), Base pre-trained on labeled data,
then fine-tuned on the recording with L1 + 0.1 MVC, once on that P-GT and once on the P-GT
without the gate (run pose2sim_ungated: what the gate buys); reports per view the P-GT
reprojection error and the MVC disagreement before and after, and the agreement of the P-GT
with the recording's own reader.

  python launch.py --config=configs/pose2sim.py --workdir=runs/pose2sim
  python launch.py --config=configs/pose2sim.py:lifting --workdir=runs/pose2sim_lifting
  python launch.py --config=configs/pose2sim.py:metrabs --workdir=runs/pose2sim_metrabs

Default: the image model; Base is run ``base`` of the embedded default (renders only); run in
the default's workdir (--workdir=runs/default) to reuse its finished Base. The 10 frames with
images are both fine-tuned on and measured (no 3D exists there).

``:lifting``: the lifting model (Martinez et al.), Base trained on the real Human3.6M motion's
2D with the detector-noise model and per-pose 2D normalisation (the recording's cameras differ
from Human3.6M's), then fine-tuned on the recording's detections of all 100 video frames; the
last half of the frames is held out of fine-tuning and reported apart. Seeds 0-4 (each its own
Base), with seed-level paired comparisons of the held-out frames (mvssl.experiments.pose2sim).

``:lifting_forms``: as ``:lifting``, with L1-only and the forms of L_MVC a lifting model takes
(configs/lifting.py FORMS: scale-anchored, consensus, geometric median, uncertainty-routed by
dropout) fine-tuned on the gated P-GT beside the paper's form, each paired over seeds with
L1-only and with the paper's form; in the workdir of ``:lifting`` its Base and paper's-form runs
are reused (only the new 300-step fine-tunes train):

  python launch.py --config=configs/pose2sim.py:lifting_forms --workdir=runs/pose2sim_lifting

``:metrabs``: the absolute model (MeTRAbs, README "Absolute 3D pose"), Base pre-trained on the
embedded rendered data (run ``metrabs_base``), fine-tuned on the recording's crops with L1 to
each view's camera-frame P-GT + 0.1 MVC of the views' own absolute poses, on the first 50 of the
100 video frames; the report gives per view, on those and on the 50 held-out frames, the distance
of its absolute prediction, mapped to world by R^T (X - t), to the DLT P-GT (all joints, and the
root alone).

The recording is read from $MVSSL_SHARED_DATA/pose2sim_balancing (default ../shared/data).
"""

import os

from configs import default
from configs import lifting as lifting_config


ARGS = ('', 'lifting', 'lifting_forms', 'metrabs')


def get_config(arg=None):
  """arg: '' (the image model), 'lifting', 'lifting_forms' or 'metrabs'."""
  if (arg or '') not in ARGS:
    raise ValueError(f'configs/pose2sim.py:ARG must be empty or one of {ARGS[1:]}, got {arg!r}')
  c = default.get_config()
  c.title = 'mvssl on the Pose2Sim balancing recording'
  c.experiment = 'pose2sim'
  shared = os.environ.get('MVSSL_SHARED_DATA', '../shared/data')
  c.unlabeled_data = default.recording_data(os.path.join(shared, 'pose2sim_balancing'))
  c.pseudo_label.source = 'detections'
  c.pseudo_label.min_score = 0.3   # detections below this confidence get DLT weight 0
  c.pseudo_label.robust.method = 'pose2sim'   # views beyond 15 px rejected, as Pose2Sim does
  c.schedules.finetune.update(steps=300, batch_size=4, lr=5e-4)
  if arg == 'lifting':
    return _lifting(c, shared)
  if arg == 'lifting_forms':
    return _lifting_forms(_lifting(c, shared))
  if arg == 'metrabs':
    return _metrabs(c)
  c.runs = default.ConfigDict(dict(
      base=c.runs.base,
      **_tuned('integral', 'base')))
  c.runs.base.label = 'Base'
  return c


def _tuned(family, base):
  """The fine-tuned runs from ``base``: on the (gated) P-GT, and on the P-GT without the robust
  gate (pgt_from pseudo_label_ungated: what the gate buys)."""
  tune = dict(init_from=base, gt=False, pgt=True, mvc_frames='all', mvc=0.1, report='none')
  return dict(
      pose2sim_ours=default.run('Fine-tuned (L1 + MVC)', family, 'finetune', order=1, **tune),
      pose2sim_ungated=default.run('Fine-tuned, P-GT without the gate (L1 + MVC)', family,
                                   'finetune', order=2, pgt_from='pseudo_label_ungated', **tune))


def _lifting(c, shared):
  c.title = 'mvssl lifting model on the Pose2Sim balancing recording'
  root = os.path.join(shared, 'h36m_motion')
  c.data = default.motion2d_data()
  c.data.motion_path = os.path.join(root, 'h36m_real_motion_17j_10hz.npz')
  c.data.cameras_path = os.path.join(root, 'h36m_cameras.json')
  c.data.subjects.update(labeled=['S1', 'S5', 'S6', 'S7', 'S8'], unlabeled=[])
  c.data.noise = 'detector'
  c.model.lifting.pose_norm = True
  c.unlabeled_data.update(images='', video='videos/{camera}.mp4')   # all 100 frames
  c.pose2sim.holdout_fraction = 0.5
  c.input.augment = 'none'
  c.log_every = 100
  c.schedules = default.ConfigDict(dict(
      lift=default.schedule(6000, 64, 1e-3, warmup=0, decay='exponential', decay_rate=0.96,
                            decay_steps=300),
      finetune=default.schedule(300, 8, 2e-4, warmup=0)))
  c.seeds = (0, 1, 2, 3, 4)
  c.runs = default.ConfigDict(dict(
      base=default.run('Base', 'lifting', 'lift', l1=0.0, l2=1.0, report='none', order=0),
      **_tuned('lifting', 'base')))
  return c


def _lifting_forms(c):
  """The forms of L_MVC a lifting model takes (configs/lifting.py FORMS) as fine-tunes on the
  gated P-GT at lambda 0.1, beside L1-only and the paper's form, from the same Base; each form
  paired with L1-only and with the paper's form."""
  c.title += ', forms of L_MVC'
  c.pose2sim.results = 'pose2sim_forms'     # beside :lifting's pose2sim_results in its workdir
  del c.runs['pose2sim_ungated']
  tune = dict(init_from='base', gt=False, pgt=True, mvc_frames='all', report='none')
  c.runs.pose2sim_l1 = default.run('Fine-tuned, L1 only', 'lifting', 'finetune', order=3, **tune)
  names = []
  for i, (name, routing, label) in enumerate(lifting_config.FORMS):
    names.append(f'pose2sim_{name}')
    c.runs[names[-1]] = default.run(f'Fine-tuned, {label.removeprefix("Ours, ")} (L1 + MVC)',
                                    'lifting', 'finetune', order=4 + i, mvc=0.1,
                                    mvc_routing=routing, **tune)
  c.pairs = ((('pose2sim_ours', 'pose2sim_l1'),) + tuple((n, 'pose2sim_l1') for n in names)
             + tuple((n, 'pose2sim_ours') for n in names))
  return c


def _metrabs(c):
  c.title = 'mvssl MeTRAbs (absolute pose) on the Pose2Sim balancing recording'
  c.model.absolute.warmup = 300      # the absolute term after a fifth of the pre-training
  c.unlabeled_data.update(images='', video='videos/{camera}.mp4')   # all 100 frames
  c.pose2sim.holdout_fraction = 0.5  # the last 50 never fine-tuned on
  c.runs = default.ConfigDict(dict(
      metrabs_base=default.run('Base', 'metrabs', 'pretrain_single', report='none', order=0),
      **_tuned('metrabs', 'metrabs_base')))
  return c
