"""The reproduction study (mvssl.experiments.study): does the multi-view consistency loss help,
and when? On the real Human3.6M motion with the official cameras (configs/h36m_motion.py), the
default's model, and that config's schedules (1500 steps of pre-training, 1200 of G, 1200 per
fine-tune), over 5 seeds.

  python launch.py --config=configs/study.py --workdir=runs/study                    # cue off
  python launch.py --config=configs/study.py:depth_cue --workdir=runs/study_depth_cue
  python launch.py --config=configs/study.py:full --workdir=runs/study_full          # every row
  python launch.py --config=configs/study.py:mvc_forms --workdir=runs/study_mvc_forms
  python launch.py --config=configs/study.py:forms_grid --workdir=runs/study_mvc_forms  # reuses
  python launch.py --config=configs/study.py:forms_incomplete --workdir=runs/study_incomplete

Any of them with --config.study.shards=FOLDER keeps each seed's scores in FOLDER once it is
scored, and takes the seeds it finds there instead of training them (a study carried between
machines or sessions; mvssl.experiments.study).

Every variant is one row of the run table, fine-tuned from the same pre-trained model (Base
pre-training) as Base / L1-only / Ours, with the same schedule. Rows of ``study.all_seeds`` run at
every seed; the sweep points (the weights lambda) at the first ``study.sweep_seeds`` seeds, then
the weight the validation split picks (held-out labeled sequences, config.validation) at every
seed. The unlabeled split's hidden GT is scored as a diagnosis and never chooses. The whole study
resumes after an interruption: finished runs, predictions and P-GT are kept.

Arguments:
  ''         the decisive rows with the renders' depth cue off (Lambertian shading): Base,
             L1-only, Ours (lambda 0.1, the paper's), depth-only routing, MVC only (no P-GT L1)
             at every seed; lambda 0.01, 0.03, 0.3 at the sweep seeds, the best on validation at
             every seed; the validation split then chooses among the weights and depth-only
             routing (the default's lambda and routing).
  depth_cue  Base, L1-only, Ours at lambda 0.1 and at the weight the cue-free study chose on
             validation, every seed, with the renders' first shading (each part's brightness
             from its root-relative depth, mvssl.data.render): does the cue change whether
             MVC helps?
  mvc_forms  the forms of L_MVC that a shrunken pose cannot satisfy for free (mvssl.losses):
             Base, L1-only, Ours (the paper's form) and, at the same lambda 0.1, scale-anchored
             pairs, the consensus (mean of the other views, held fixed), the geometric median
             of the other views held fixed, 2D reprojection and uncertainty-routed (each
             view's heatmap spreads weight what it gives and takes); every seed, cue off; the
             validation split picks among the forms.
  forms_grid every form of mvc_forms (the paper's included) at lambda 0.03, 0.1, 0.3 (GRID) at
             the first seed, each form's weight chosen on the validation split, then at every
             seed with Base, L1-only and the paper's form (their reference); runs are reused by
             name: in mvc_forms' workdir every form at lambda 0.1 at every seed, in the decisive
             rows' workdir the paper's form's grid points (issue 26's table: every form at its
             chosen weight). Either rewrites the workdir's study.json: export the earlier first.
  forms_incomplete
             where L_MVC should have information the L1 lacks: L1-only and Ours (lambda 0.1)
             with 30% of the (view, joint) P-GT targets withheld, and with per-view noise
             (0.25 heatmap units, ~35 mm, different in every view) on the P-GT's targets, every
             seed; every form of mvc_forms under each at the first seed, the validation split
             promoting each setting's best form (with its L1-only) to every seed. About 3.5
             hours on 2 CPU cores.
  full       every row of the earlier study (weights, forms, routings, P-GT sources, withheld
             targets, MVC only), the extra rows at the first seed only:
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
ARGS = ('', 'depth_cue', 'mvc_forms', 'forms_grid', 'forms_incomplete', 'full')


def _ft(label, order, **kw):
  """A fine-tune row from the pre-trained Base on GT + P-GT (L1-only unless mvc is given)."""
  kw.setdefault('mvc_frames', 'all')
  return run(label, 'integral', 'finetune', init_from='base', pgt=True, order=order, **kw)


def _decisive(c):
  """The decisive rows (module docstring) in place."""
  r = c.runs
  r.ours_depth = _ft('Ours, depth-only routing', 10, mvc=0.1, mvc_routing='depth_only')
  r.mvc_only = _ft('MVC only (root depth from P-GT)', 11, mvc=0.1, pgt_l1=False)
  r.ours_w01 = _ft('Ours, lambda 0.01', 12, mvc=0.01)
  r.ours_w03 = _ft('Ours, lambda 0.03', 13, mvc=0.03)
  r.ours_w3 = _ft('Ours, lambda 0.3', 14, mvc=0.3)
  s = c.study
  s.all_seeds = ('base_gt', 'l1_only', 'ours', 'ours_depth', 'mvc_only')
  s.sweep_seeds = 2
  s.promote = True
  # the choice made on the validation split: the weight, and the routing of MVC's gradient
  s.candidates = ('ours', 'ours_w01', 'ours_w03', 'ours_w3', 'ours_depth')
  s.groups = (
      ('Baselines', ('base_gt', 'l1_only', 'ours')),
      ('Weight lambda', ('ours_w01', 'ours_w03', 'ours_w3')),
      ('Gradient routing', ('ours_depth',)),
      ('MVC without P-GT L1 (compare with Base)', ('mvc_only',)),
  )
  s.pairs = (('mvc_only', 'base_gt'), ('l1_only', 'base_gt'))
  return c


def _depth_cue(c, weights=(('ours_w03', 0.03),)):
  """Base, L1-only, Ours at the paper's lambda 0.1 and at ``weights`` (the weights the
  depth-cue-free study's validation split picks), every seed, on renders with the depth cue:
  does the cue change whether MVC helps?"""
  c.title += ' (renders with the depth cue)'
  c.data.shading = 'depth'
  r = c.runs
  for i, (name, w) in enumerate(weights):
    r[name] = _ft(f'Ours, lambda {w:g}', 12 + i, mvc=w)
  s = c.study
  s.all_seeds = ('base_gt', 'l1_only', 'ours') + tuple(n for n, _ in weights)
  s.sweep_seeds = 1
  s.promote = False
  s.candidates = ('ours',) + tuple(n for n, _ in weights)
  s.groups = (('Baselines', ('base_gt', 'l1_only', 'ours')),
              ('Weight lambda', tuple(n for n, _ in weights)))
  s.pairs = (('l1_only', 'base_gt'),)
  return c


FORMS = (('ours_scale', 'scale_anchored', 'Ours, scale-anchored'),
         ('ours_consensus', 'consensus', 'Ours, consensus target'),
         ('ours_median', 'median', 'Ours, geometric-median target'),
         ('ours_reproj', 'reprojection', 'Ours, 2D reprojection'),
         ('ours_uncert', 'uncertainty', 'Ours, uncertainty-routed'))


def _mvc_forms(c):
  """Base, L1-only, Ours and the forms of :data:`FORMS` at the paper's lambda, every seed."""
  c.title = 'Forms of the consistency loss without the trivial minimum'
  r = c.runs
  for i, (name, routing, label) in enumerate(FORMS):
    r[name] = _ft(label, 10 + i, mvc=0.1, mvc_routing=routing)
  s = c.study
  names = tuple(n for n, _, _ in FORMS)
  s.all_seeds = ('base_gt', 'l1_only', 'ours') + names
  s.sweep_seeds = 1
  s.promote = False
  s.candidates = ('ours',) + names
  s.groups = (('Baselines', ('base_gt', 'l1_only', 'ours')),
              ('Forms without the trivial minimum (lambda 0.1)', names))
  s.pairs = (('l1_only', 'base_gt'),)
  return c


# The weights lambda each form is tried at (forms_grid), fixed before any run: the paper's 0.1 and
# about 3x either side; tags as the decisive rows' names (ours_w03 is lambda 0.03 there), so the
# paper's form's grid points are the decisive study's runs, reused in its workdir.
GRID = ((0.03, 'w03'), (0.1, ''), (0.3, 'w3'))


def _forms_grid(c):
  """Every form (the paper's and :data:`FORMS`) at every weight of :data:`GRID` at the first
  seed; each form's weight chosen on the validation split, then at every seed
  (configs.default.form_grid)."""
  c.title = 'Forms of the consistency loss, each at the weight the validation split chose'

  def row(label, order, weight, routing):
    return _ft(label, order, mvc=weight, **(dict(mvc_routing=routing) if routing else {}))
  default.form_grid(c, (('ours', None, 'Ours'),) + FORMS, GRID, row, order=10)
  return c


# Settings where the consistency term should have information the L1 lacks (issue 26): 30% of
# the (view, joint) P-GT targets withheld; per-view noise of 0.25 heatmap units (~35 mm) on the
# P-GT's targets, different in every view.
INCOMPLETE = (('h30', '30% withheld', dict(pgt_withheld=0.3)),
              ('vn25', 'per-view noise 0.25', dict(pgt_view_noise=0.25)))


def _forms_incomplete(c):
  """L1-only and Ours under each setting of :data:`INCOMPLETE` at every seed; every form of
  :data:`FORMS` under each at the first seed; the validation split promotes each setting's best
  form, with its setting's L1-only as partner, to every seed."""
  c.title = 'Forms of the consistency loss where the P-GT is incomplete or view-inconsistent'
  r, s = c.runs, c.study
  every, groups, pairs = ['base_gt', 'l1_only'], [('Baselines', ('base_gt', 'l1_only'))], []
  for k, (tag, text, kw) in enumerate(INCOMPLETE):
    l1, ours = f'l1_{tag}', f'ours_{tag}'
    r[l1] = _ft(f'L1-only, {text}', 40 + 10 * k, **kw)
    r[ours] = _ft(f'Ours, {text}', 41 + 10 * k, mvc=0.1, **kw)
    names = []
    for i, (name, routing, label) in enumerate(FORMS):
      names.append(f'{name}_{tag}')
      r[names[-1]] = _ft(f'{label}, {text}', 42 + 10 * k + i, mvc=0.1, mvc_routing=routing, **kw)
    every += [l1, ours]
    groups.append((f'Forms, {text} (lambda 0.1)', tuple(names)))
    pairs += [(ours, l1)] + [(n, l1) for n in names]
  del r['ours']
  s.all_seeds = tuple(every)
  s.sweep_seeds = 1
  s.promote = True
  s.candidates = ('ours_h30',) + tuple(f'{n}_h30' for n, _, _ in FORMS)
  s.groups = tuple(groups)
  s.pairs = tuple(pairs)
  return c


def get_config(arg=None):
  """arg: one of ARGS (module docstring)."""
  arg = arg or ''
  if arg not in ARGS:
    raise ValueError(f'configs/study.py:ARG must be one of {ARGS[1:]} or nothing, got {arg!r}')
  c = h36m_motion.get_config()
  c.title = 'Reproduction study: does the multi-view consistency loss help, and when?'
  c.experiment = 'study'
  c.seeds = (0, 1, 2, 3, 4)
  r = c.runs
  r.ours.weights.mvc = 0.1   # the study's Ours is the paper's eq. 10 (the default takes its choice)
  if arg == 'depth_cue':
    return _depth_cue(c)
  if arg == 'mvc_forms':
    return _mvc_forms(c)
  if arg == 'forms_grid':
    return _forms_grid(c)
  if arg == 'forms_incomplete':
    return _forms_incomplete(c)
  if arg != 'full':
    return _decisive(c)
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
