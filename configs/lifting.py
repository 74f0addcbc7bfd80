"""The 2D-to-3D lifting baseline (Martinez et al. 2017) on all of the real Human3.6M motion, and the
method applied to it (P-GT by DLT of the unlabeled frames' 2D, fine-tuning with L1 + MVC).

  python launch.py --config=configs/lifting.py:a --workdir=runs/lifting_a        # (a), exact 2D
  python launch.py --config=configs/lifting.py:a_noisy --workdir=runs/lifting_an  # (a), noisy 2D
  python launch.py --config=configs/lifting.py:b --workdir=runs/lifting_b        # (b)
  python launch.py --config=configs/lifting.py:c --workdir=runs/lifting_c        # (c)
  python launch.py --config=configs/lifting.py:b_forms --workdir=runs/lifting_b  # (b) + forms
  python launch.py --config=configs/lifting.py:c_forms --workdir=runs/lifting_c  # (c) + forms
  python launch.py --config=configs/lifting.py:b_grid --workdir=runs/lifting_b   # (b) weights
  python launch.py --config=configs/lifting.py:b_scale --workdir=runs/lifting_b_scale
  python launch.py --config=configs/lifting.py:b_incomplete --workdir=runs/lifting_b

Protocols (subjects of $MVSSL_SHARED_DATA/h36m_motion, 10 Hz, each frame seen by its subject's
four official cameras):

  a        supervised: train S1,S5,S6,S7,S8 (3D), test S9,S11; Protocol #1 / #2 per action and
           their mean, as the literature reports; exact projected 2D (a) or the detector-noise
           model of mvssl/data/motion2d.py (a_noisy). One run, Martinez et al.'s loss (MSE of the
           normalised outputs), exponential learning-rate decay.
  b        the paper's semi-supervised split: labeled S1,S5,S6, unlabeled S7,S8 (2D only), test
           S9,S11, noisy 2D everywhere; P-GT: confidence-weighted DLT of the unlabeled frames'
           4-view 2D; Base / L1-only / Ours as for the image model, over seeds 0-4; a fifth of
           the labeled sequences held out as the validation split (config.validation).
  c        the harder split: labeled S1 only, unlabeled S5,S6,S7,S8; otherwise as b.
  b_forms, c_forms
           b or c plus the forms of L_MVC without the trivial minimum that a lifting model can
           take (FORMS: scale-anchored, consensus target, geometric-median target, uncertainty-
           routed by the spread over dropout samples; mvssl.losses) at
           the paper's lambda 0.1, every seed, each paired with L1-only and with Ours. In the
           workdir of b or c the runs already trained there are reused.
  b_scale, c_scale
           b or c with the network's Laplace scale head (model.lifting.scale_head: the scale of
           its error per joint and camera axis, learned by likelihood on held-fixed features,
           mvssl.models.lifting) and the 'uncertainty' routing taking that scale instead of
           dropout's spread: Base, L1-only, Ours and Ours uncertainty-routed, every seed, in a
           workdir of its own (every network there has the head; the head does not change the
           pose head, so Base, L1-only and Ours train as in b).
  b_incomplete, c_incomplete
           where L_MVC should have information the L1 lacks: L1-only and Ours (lambda 0.1) with
           30% of the (view, joint) P-GT targets withheld, and with noise of its own on each
           view's camera-frame target (35 mm, about the image study's 0.25 heatmap units),
           every seed, each Ours paired with its L1-only; in the workdir of b (c) the runs
           already trained there are reused.
  b_grid, c_grid
           the weight of every form (the paper's included) chosen on the validation split
           (mvssl.experiments.study): lambda on the grid GRID, fixed before any run, at the first
           seed; the best weight of each form on validation then at every seed, with Holm over
           the comparisons against L1-only and against the paper's form at lambda 0.1. In the
           workdir of b_forms (c_forms) the runs at lambda 0.1 are reused, so only the other grid
           points at seed 0, and a promoted weight at the other seeds, train.

The data block's fields: configs/default.py (motion2d_data); the network's: model.lifting.
"""

import os

from configs import default

PROTOCOLS = ('a', 'a_noisy', 'b', 'c', 'b_forms', 'c_forms', 'b_grid', 'c_grid',
             'b_scale', 'c_scale', 'b_incomplete', 'c_incomplete')
VIEW_NOISE_MM = 35.0   # :incomplete's per-view target noise
# (run name, mvc_loss.routing, label): the forms of L_MVC a lifting model can train with
# (reprojection needs the image model's heatmaps; uncertainty takes the spread of the network's
# prediction over dropout samples, mvc_loss.samples of them each step)
FORMS = (('ours_scale', 'scale_anchored', 'Ours, scale-anchored'),
         ('ours_consensus', 'consensus', 'Ours, consensus target'),
         ('ours_median', 'median', 'Ours, geometric-median target'),
         ('ours_uncertainty', 'uncertainty', 'Ours, uncertainty-routed (dropout)'))
# the weights lambda of L_MVC the validation split chooses among (each form; :grid), fixed before
# any run: the paper's 0.1 and a factor of about 3 either side
GRID = ((0.03, 'w003'), (0.1, ''), (0.3, 'w03'))


def _lift_schedule(steps):
  return default.schedule(steps, 64, 1e-3, warmup=0, decay='exponential', decay_rate=0.96,
                          decay_steps=max(1, steps // 20))


def get_config(arg=None):
  """arg: the protocol, one of PROTOCOLS (default 'b')."""
  arg = arg or 'b'
  if arg not in PROTOCOLS:
    raise ValueError(f'configs/lifting.py:ARG must be one of {PROTOCOLS}, got {arg!r}')
  c = default.get_config()
  c.title = f'mvssl lifting baseline on real Human3.6M motion, protocol ({arg[0]})'
  root = os.path.join(os.environ.get('MVSSL_SHARED_DATA', '../shared/data'), 'h36m_motion')
  c.data = default.motion2d_data()
  c.data.motion_path = os.path.join(root, 'h36m_real_motion_17j_10hz.npz')
  c.data.cameras_path = os.path.join(root, 'h36m_cameras.json')
  c.input.augment = 'none'
  c.input.prefetch = 256
  c.log_every = 200
  c.save_every = 2000
  c.pseudo_label.source = 'detections'    # DLT of the unlabeled frames' (noisy) 2D, 4 views
  c.pseudo_label.min_score = 0.0
  if arg.startswith('a'):
    c.data.subjects.update(labeled=['S1', 'S5', 'S6', 'S7', 'S8'], unlabeled=[])
    c.data.noise = 'detector' if arg == 'a_noisy' else 'none'
    c.validation.share = 0.0     # supervised, one run, no choice made: every labeled sequence
    c.schedules = default.ConfigDict(dict(lift=_lift_schedule(6000)))
    c.runs = default.ConfigDict(dict(
        supervised=default.run('Lifting (Martinez et al.)', 'lifting', 'lift', l1=0.0, l2=1.0)))
    return c
  c.data.noise = 'detector'
  if arg[0] == 'c':
    c.data.subjects.update(labeled=['S1'], unlabeled=['S5', 'S6', 'S7', 'S8'])
  c.seeds = (0, 1, 2, 3, 4)
  c.schedules = default.ConfigDict(dict(lift=_lift_schedule(3000),
                                        finetune=_lift_schedule(2000)))
  c.schedules.finetune.lr = 5e-4
  c.runs = default.ConfigDict(dict(
      base=default.run('Base (pre-training only)', 'lifting', 'lift', report='below', order=0),
      base_gt=default.run('Base', 'lifting', 'finetune', init_from='base', order=1),
      l1_only=default.run('L1-only', 'lifting', 'finetune', init_from='base', pgt=True,
                          mvc_frames='all', order=3),
      ours=default.run('Ours', 'lifting', 'finetune', init_from='base', pgt=True,
                       mvc_frames='all', mvc=0.1, order=4)))
  if arg.endswith('_grid'):
    _grid(c)
  elif arg.endswith('_incomplete'):
    _incomplete(c)
  elif arg.endswith('_scale'):
    c.title += ", the 'uncertainty' routing on a learned scale of the error"
    c.model.lifting.scale_head = True
    del c.runs['base_gt']
    c.runs.ours_uncertainty = default.run(
        'Ours, uncertainty-routed (learned scale)', 'lifting', 'finetune', init_from='base',
        pgt=True, mvc_frames='all', mvc=0.1, mvc_routing='uncertainty', order=5)
    c.pairs = (('ours', 'l1_only'), ('ours_uncertainty', 'l1_only'),
               ('ours_uncertainty', 'ours'))
  elif arg.endswith('_forms'):
    c.title += ', forms of L_MVC without the trivial minimum'
    for i, (name, routing, label) in enumerate(FORMS):
      c.runs[name] = default.run(label, 'lifting', 'finetune', init_from='base', pgt=True,
                                 mvc_frames='all', mvc=0.1, mvc_routing=routing, order=5 + i)
    c.pairs = ((('l1_only', 'base_gt'), ('ours', 'l1_only'))
               + tuple((n, 'l1_only') for n, _, _ in FORMS)
               + tuple((n, 'ours') for n, _, _ in FORMS))
  return c


def _grid(c):
  """Every form of L_MVC (the paper's and FORMS) at every weight of GRID, chosen on the
  validation split (module docstring), in place: configs.default.form_grid."""
  c.title += ', the weight of every form of L_MVC chosen on the validation split'

  def row(label, order, weight, routing):
    kw = dict(mvc_routing=routing) if routing else {}
    return default.run(label, 'lifting', 'finetune', init_from='base', pgt=True,
                       mvc_frames='all', mvc=weight, order=order, **kw)
  default.form_grid(c, (('ours', None, 'Ours'),) + FORMS, GRID, row)


def _incomplete(c):
  """L1-only and Ours with withheld and with per-view-noisy P-GT targets (module docstring), in
  place."""
  c.title += ', incomplete and view-inconsistent P-GT targets'
  for tag, text, kw in (('h30', '30% of targets withheld', dict(pgt_withheld=0.3)),
                        ('vn', f'per-view noise {VIEW_NOISE_MM:g} mm',
                         dict(pgt_view_noise=VIEW_NOISE_MM))):
    for name, label, mvc in (('l1', 'L1-only', 0.0), ('ours', 'Ours', 0.1)):
      c.runs[f'{name}_{tag}'] = default.run(f'{label}, {text}', 'lifting', 'finetune',
                                            init_from='base', pgt=True, mvc_frames='all',
                                            mvc=mvc, order=10 + len(c.runs), **kw)
  c.pairs = (('ours', 'l1_only'), ('l1_h30', 'l1_only'), ('ours_h30', 'l1_h30'),
             ('l1_vn', 'l1_only'), ('ours_vn', 'l1_vn'))
