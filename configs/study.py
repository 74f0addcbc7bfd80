"""The reproduction study (mvssl.experiments.study): does the multi-view consistency loss help,
and when? On the real Human3.6M motion with the official cameras (configs/h36m_motion.py), the
default's model, and that config's schedules (1500 steps of pre-training, 1200 of G, 1200 per
fine-tune).

  python launch.py --config=configs/study.py --workdir=runs/study

Every variant is one row of the run table, fine-tuned from the same pre-trained model (Base
pre-training) as Base / L1-only / Ours, with the same schedule. Rows of ``study.all_seeds`` run at
every seed; the sweep points at the first seed only (``--config.study.sweep_seeds=3`` for all),
then the best of each group on the validation split (and its own L1-only) at the other seeds.
The whole study resumes after an interruption: finished runs, predictions and P-GT are kept.

Groups:
  weight        lambda in {0.003, 0.01, 0.03, 0.1 (Ours), 0.3}
  form, frames  MVC on the unlabeled frames only; eq. 9 as printed (ordered pairs, L1 norm over
                xyz) in depth bins (6x the normalised form: a weight) and in mm
  routing       consensus (each view toward the others' mean, held fixed), depth only (2D
                stopped), root-relative world poses
  P-GT source   the hidden GT (a diagnosis) exact, + view-consistent noise (30, 60, 100 mm), +
                per-view noise (0.25, 0.5 heatmap units ~ 35, 70 mm), each with and without MVC
  incomplete    30% / 60% of the (view, joint) P-GT targets withheld, with and without MVC
  MVC only      no L1 on the unlabeled frames (root depth from the P-GT or the hidden GT)
"""

from configs import default
from configs import h36m_motion

run = default.run


def _ft(label, order, **kw):
  """A fine-tune row from the pre-trained Base on GT + P-GT (L1-only unless mvc is given)."""
  kw.setdefault('mvc_frames', 'all')
  return run(label, 'integral', 'finetune', init_from='base', pgt=True, order=order, **kw)


def get_config(arg=None):
  c = h36m_motion.get_config(arg)
  c.title = 'Reproduction study: does the multi-view consistency loss help, and when?'
  c.experiment = 'study'
  c.seeds = (0, 1, 2)
  r = c.runs
  r.ours.weights.mvc = 0.1   # the study's Ours is the paper's eq. 10 (the default takes its choice)
  # Ordered so that an interrupted study has the most telling rows first.
  rows = dict(
      ours_unl=_ft('Ours, MVC on unlabeled frames only', 10, mvc=0.1, mvc_frames='unlabeled'),
      ours_depth=_ft('Ours, depth-only routing', 11, mvc=0.1, mvc_routing='depth_only'),
      ours_consensus=_ft('Ours, consensus routing', 12, mvc=0.1, mvc_routing='consensus'),
      ours_rootrel=_ft('Ours, root-relative', 13, mvc=0.1, mvc_routing='root_relative'),
      l1_gt=_ft('L1-only, hidden GT', 14, pgt_from='hidden_gt'),
      ours_gt=_ft('Ours, hidden GT', 15, mvc=0.1, pgt_from='hidden_gt'),
      l1_vn50=_ft('L1-only, hidden GT + 0.5 per-view noise', 16, pgt_from='hidden_gt',
                  pgt_view_noise=0.5),
      ours_vn50=_ft('Ours, hidden GT + 0.5 per-view noise', 17, mvc=0.1, pgt_from='hidden_gt',
                    pgt_view_noise=0.5),
      ours_w03=_ft('Ours, lambda 0.03', 18, mvc=0.03),
      ours_w3=_ft('Ours, lambda 0.3', 19, mvc=0.3),
      l1_hold60=_ft('L1-only, 60% withheld', 20, pgt_withheld=0.6),
      ours_hold60=_ft('Ours, 60% withheld', 21, mvc=0.1, pgt_withheld=0.6),
      mvc_only=_ft('MVC only (root depth from P-GT)', 22, mvc=0.1, pgt_l1=False),
      ours_w01=_ft('Ours, lambda 0.01', 23, mvc=0.01),
      ours_literal=_ft('Ours, eq. 9 literal (depth bins)', 24, mvc=0.1, mvc_form='literal'),
      l1_gt60=_ft('L1-only, hidden GT + 60 mm', 25, pgt_from='hidden_gt', pgt_noise_mm=60.0),
      ours_gt60=_ft('Ours, hidden GT + 60 mm', 26, mvc=0.1, pgt_from='hidden_gt',
                    pgt_noise_mm=60.0),
      l1_hold30=_ft('L1-only, 30% withheld', 27, pgt_withheld=0.3),
      ours_hold30=_ft('Ours, 30% withheld', 28, mvc=0.1, pgt_withheld=0.3),
      l1_vn25=_ft('L1-only, hidden GT + 0.25 per-view noise', 29, pgt_from='hidden_gt',
                  pgt_view_noise=0.25),
      ours_vn25=_ft('Ours, hidden GT + 0.25 per-view noise', 30, mvc=0.1, pgt_from='hidden_gt',
                    pgt_view_noise=0.25),
      mvc_only_gt=_ft('MVC only (root depth from hidden GT)', 31, mvc=0.1, pgt_l1=False,
                      pgt_from='hidden_gt'),
      ours_w003=_ft('Ours, lambda 0.003', 32, mvc=0.003),
      ours_literal_mm=_ft('Ours, eq. 9 literal (mm)', 33, mvc=0.1, mvc_form='literal',
                          mvc_unit='mm'),
      l1_gt30=_ft('L1-only, hidden GT + 30 mm', 34, pgt_from='hidden_gt', pgt_noise_mm=30.0),
      ours_gt30=_ft('Ours, hidden GT + 30 mm', 35, mvc=0.1, pgt_from='hidden_gt',
                    pgt_noise_mm=30.0),
      l1_gt100=_ft('L1-only, hidden GT + 100 mm', 36, pgt_from='hidden_gt', pgt_noise_mm=100.0),
      ours_gt100=_ft('Ours, hidden GT + 100 mm', 37, mvc=0.1, pgt_from='hidden_gt',
                     pgt_noise_mm=100.0),
  )
  for name, row in rows.items():
    r[name] = row
  s = c.study
  s.reference = 'l1_only'
  s.all_seeds = ('base_gt', 'l1_only', 'ours')
  s.sweep_seeds = 1
  s.promote = True
  s.validation = 'unlabeled'
  s.candidates = ('ours', 'ours_w003', 'ours_w01', 'ours_w03', 'ours_w3', 'ours_unl',
                  'ours_literal', 'ours_literal_mm', 'ours_consensus', 'ours_depth',
                  'ours_rootrel')
  s.groups = (
      ('Baselines', ('base_gt', 'l1_only', 'ours')),
      ('Weight lambda', ('ours_w003', 'ours_w01', 'ours_w03', 'ours_w3')),
      ('Frames and form', ('ours_unl', 'ours_literal', 'ours_literal_mm')),
      ('Gradient routing', ('ours_consensus', 'ours_depth', 'ours_rootrel')),
      ('P-GT source (hidden GT: a diagnosis)', (
          'l1_gt', 'ours_gt', 'l1_gt30', 'ours_gt30', 'l1_gt60', 'ours_gt60', 'l1_gt100',
          'ours_gt100', 'l1_vn25', 'ours_vn25', 'l1_vn50', 'ours_vn50')),
      ('Incomplete P-GT', ('l1_hold30', 'ours_hold30', 'l1_hold60', 'ours_hold60')),
      ('MVC without P-GT L1 (compare with Base)', ('mvc_only', 'mvc_only_gt')),
  )
  s.pairs = (('ours_gt', 'l1_gt'), ('ours_gt30', 'l1_gt30'), ('ours_gt60', 'l1_gt60'),
             ('ours_gt100', 'l1_gt100'), ('ours_vn25', 'l1_vn25'), ('ours_vn50', 'l1_vn50'),
             ('ours_hold30', 'l1_hold30'), ('ours_hold60', 'l1_hold60'),
             ('mvc_only', 'base_gt'), ('mvc_only_gt', 'base_gt'), ('l1_only', 'base_gt'))
  return c
