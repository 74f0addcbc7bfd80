"""The table of runs: one declaration per trained model (scenic's ``init_from`` joins them).

``config.runs`` maps a run name (its checkpoint folder ``checkpoints/NAME`` and its stage
``--config.stage=NAME``) to a row (configs/default.py: ``run``)::

  label       its name in the report
  family      model family (:data:`mvssl.train.families.FAMILIES`): integral | algebraic |
              lifting
  init_from   run whose trained parameters it starts from ('' = fresh initialisation)
  init_seed   added to config.seed for the fresh initialisation of the network
  schedule    block of config.schedules giving steps, batch size, learning rate, warm-up
  data        the data mix: gt (labeled frames with GT), pgt (unlabeled frames with P-GT, those
              whose P-GT is valid for every joint), mvc_frames (which frames get the MVC term:
              none | all | unlabeled), unlabeled_share (fraction of draws from the unlabeled
              frames; 0 = by frame count), and what the unlabeled targets are (:class:`Targets`)
  weights     loss weights: l1, mvc (paper eq. 10), mm_3d (G's 3D term, per mm), l2 (lifting:
              MSE of the normalised outputs)
  mvc_loss    which L_MVC (:class:`mvssl.losses.MvcOptions`): form, unit, routing
  report      column (a column of the per-camera table) | below (one line under it) | none
  order       position in the report and, among independent runs, in ``stage=all``
  root_from   integral runs: a rootnet run; the run is evaluated twice, with the GT's root depth
              and with that run's predicted ones (PoseNet + RootNet, 3DMPPE)

``stage=all``, ``evaluate`` and the report read the table, so an ablation or another model family
is one more row (a config can add rows: ``c.runs.NAME = default.run(...)``), not another branch.
"""

from __future__ import annotations

import dataclasses

from mvssl import losses
from mvssl.train import families

REPORTS = ('column', 'below', 'none')
MVC_FRAMES = ('none', 'all', 'unlabeled')
PGT_FROM = ('pseudo_label', 'pseudo_label_ungated', 'hidden_gt')


@dataclasses.dataclass(frozen=True)
class Targets:
  """What a run's unlabeled frames are trained toward (configs/default.py ``run``).

  Attributes:
    source: 'pseudo_label' (config.pseudo_label's P-GT) | 'pseudo_label_ungated' (the same P-GT
      triangulated without the robust gate: every view whose score passes, robust.method none;
      what the gate buys is measured against it) | 'hidden_gt' (the split's own labels).
    l1: whether they get the L1 term (False: MVC only; the root depth still comes from them).
    noise_mm: sigma (mm) of world noise per joint and coordinate, the same in every view.
    view_noise: sigma of noise on each view's targets independently, in the codec's units
      (heatmap cells / depth bins for integral, mm for lifting).
    withheld: fraction of (view, joint) targets without L1, fixed per frame.
    seed: seed of the noise and the withheld targets (fixed per frame, not per model seed).
  """
  source: str = 'pseudo_label'
  l1: bool = True
  noise_mm: float = 0.0
  view_noise: float = 0.0
  withheld: float = 0.0
  seed: int = 0

  @property
  def per_view(self) -> bool:
    """Whether the targets differ per view beyond the codec's encoding of one world pose."""
    return bool(self.view_noise or self.withheld)


@dataclasses.dataclass(frozen=True)
class Run:
  """One row of the table (module docstring)."""
  name: str
  label: str
  family: str
  init_from: str
  init_seed: int
  schedule: str
  gt: bool
  pgt: bool
  mvc_frames: str
  weights: families.LossWeights
  report: str
  order: int
  mvc: losses.MvcOptions = losses.MvcOptions()
  targets: Targets = Targets()
  unlabeled_share: float = 0.0
  root_from: str = ''


def _row(name: str, r, schedules) -> Run:
  where = f'config.runs.{name}'
  if r.family not in families.FAMILIES:
    raise ValueError(f'{where}.family must be one of {sorted(families.FAMILIES)}, '
                     f'got {r.family!r}')
  if r.schedule not in schedules:
    raise ValueError(f'{where}.schedule must name a block of config.schedules '
                     f'({", ".join(sorted(schedules))}), got {r.schedule!r}')
  if r.data.mvc_frames not in MVC_FRAMES:
    raise ValueError(f'{where}.data.mvc_frames must be one of {MVC_FRAMES}, '
                     f'got {r.data.mvc_frames!r}')
  if not (r.data.gt or r.data.pgt):
    raise ValueError(f'{where}.data: gt and pgt are both False; the run would have no frames')
  for field, value, allowed in (('form', r.mvc_loss.form, losses.MVC_FORMS),
                                ('unit', r.mvc_loss.unit, losses.MVC_UNITS),
                                ('routing', r.mvc_loss.routing, losses.MVC_ROUTINGS)):
    if value not in allowed:
      raise ValueError(f'{where}.mvc_loss.{field} must be one of {allowed}, got {value!r}')
  samples = r.mvc_loss.get('samples', losses.MvcOptions().samples)   # older configs lack it
  if isinstance(samples, bool) or not isinstance(samples, int) or samples < 2:
    raise ValueError(f'{where}.mvc_loss.samples must be an integer >= 2 (dropout samples of the '
                     f'spread), got {samples!r}')
  routing = r.mvc_loss.routing
  # 'uncertainty' takes the heatmaps' marginal spreads, or the lifting network's over dropout
  if routing in losses.HEATMAP_ROUTINGS and r.family != 'integral' and not (
      routing == 'uncertainty' and r.family == 'lifting'):
    raise ValueError(f'{where}.mvc_loss.routing {routing!r} needs the heatmaps of family '
                     f'integral (image x, y in cells)' +
                     (' or the dropout samples of family lifting' if routing == 'uncertainty'
                      else '') + f', got family {r.family!r}')
  if routing == 'reprojection' and r.mvc_loss.unit != 'codec':
    raise ValueError(f"{where}.mvc_loss.routing 'reprojection' compares image x, y in heatmap "
                     f"cells: it needs unit 'codec', got {r.mvc_loss.unit!r}")
  d = r.data
  if d.pgt_from not in PGT_FROM:
    raise ValueError(f'{where}.data.pgt_from must be one of {PGT_FROM}, got {d.pgt_from!r}')
  for field in ('pgt_noise_mm', 'pgt_view_noise', 'pgt_withheld', 'unlabeled_share'):
    if not 0.0 <= float(d[field]) < (1.0 if field in ('pgt_withheld', 'unlabeled_share')
                                     else float('inf')):
      raise ValueError(f'{where}.data.{field} must be >= 0' +
                       (' and < 1' if field in ('pgt_withheld', 'unlabeled_share') else '') +
                       f', got {d[field]!r}')
  if (d.pgt_view_noise or d.pgt_withheld) and r.family not in ('integral', 'lifting'):
    raise ValueError(f'{where}.data: pgt_view_noise / pgt_withheld act on per-view targets of '
                     f'family integral or lifting, not {r.family!r}')
  if d.unlabeled_share and not (d.gt and d.pgt):
    raise ValueError(f'{where}.data.unlabeled_share needs both gt and pgt frames')
  if r.report not in REPORTS:
    raise ValueError(f'{where}.report must be one of {REPORTS}, got {r.report!r}')
  if r.report == 'column' and not families.FAMILIES[r.family].per_view:
    raise ValueError(f'{where}.report: family {r.family!r} predicts one pose per frame, not '
                     f'per camera; use "below" or "none"')
  if r.report == 'column' and families.FAMILIES[r.family].root_only:
    raise ValueError(f'{where}.report: family {r.family!r} predicts the root alone (scored by '
                     f'MRPE); use "below" or "none"')
  root_from = str(r.root_from)
  if root_from and r.family != 'integral':
    raise ValueError(f'{where}.root_from: only integral runs take a predicted root depth; this '
                     f'run is of family {r.family!r}')
  return Run(name=name, label=r.label, family=r.family, init_from=r.init_from,
             init_seed=int(r.init_seed), schedule=r.schedule, gt=bool(r.data.gt),
             pgt=bool(r.data.pgt), mvc_frames=r.data.mvc_frames,
             weights=families.LossWeights(l1=float(r.weights.l1), mvc=float(r.weights.mvc),
                                          mm_3d=float(r.weights.mm_3d), l2=float(r.weights.l2)),
             report=r.report, order=int(r.order),
             mvc=losses.MvcOptions(form=r.mvc_loss.form, unit=r.mvc_loss.unit,
                                   routing=r.mvc_loss.routing,
                                   samples=samples),
             targets=Targets(source=d.pgt_from, l1=bool(d.pgt_l1),
                             noise_mm=float(d.pgt_noise_mm), view_noise=float(d.pgt_view_noise),
                             withheld=float(d.pgt_withheld), seed=int(d.noise_seed)),
             unlabeled_share=float(d.unlabeled_share), root_from=root_from)


def table(config) -> dict[str, Run]:
  """The validated table of ``config.runs``, in dependency order (:func:`ordered`).

  Raises:
    ValueError: naming the row and field of a bad row, a missing ``init_from`` run, a cycle,
      or a P-GT made by a model that is not an algebraic run of the table.
  """
  rows = {name: _row(name, r, config.schedules) for name, r in config.runs.items()}
  for r in rows.values():
    if r.init_from and r.init_from not in rows:
      raise ValueError(f'config.runs.{r.name}.init_from names no run: {r.init_from!r} '
                       f'(runs: {", ".join(sorted(rows))})')
    if r.init_from and rows[r.init_from].family != r.family:
      raise ValueError(f'config.runs.{r.name}.init_from: {r.init_from!r} is of family '
                       f'{rows[r.init_from].family!r}, this run of {r.family!r}')
    if r.root_from and (r.root_from not in rows
                        or not families.FAMILIES[rows[r.root_from].family].root_only):
      raise ValueError(f'config.runs.{r.name}.root_from must name a rootnet run of config.runs, '
                       f'got {r.root_from!r}')
  if any(r.pgt for r in rows.values()) and config.pseudo_label.source == 'model':
    g = config.pseudo_label.run
    if g not in rows or families.FAMILIES[rows[g].family].per_view:
      raise ValueError(f'config.pseudo_label.run must name an algebraic run of config.runs '
                       f'(the multi-view model G that makes the P-GT), got {g!r}')
  return {r.name: r for r in ordered(rows, config.pseudo_label)}


def dependencies(run: Run, pseudo_label_cfg) -> list[str]:
  """The runs that must be trained before ``run``: its init_from, its root_from and, for P-GT,
  G."""
  deps = [run.init_from] if run.init_from else []
  if run.root_from:
    deps.append(run.root_from)
  if run.pgt and pseudo_label_cfg.source == 'model':
    deps.append(pseudo_label_cfg.run)
  return deps


def ordered(rows: dict[str, Run], pseudo_label_cfg) -> list[Run]:
  """Rows in dependency order; among runs ready at the same time, by ``order`` then name.

  Raises:
    ValueError: on a cycle.
  """
  done, out = set(), []
  pending = sorted(rows.values(), key=lambda r: (r.order, r.name))
  while pending:
    ready = [r for r in pending if all(d in done for d in dependencies(r, pseudo_label_cfg))]
    if not ready:
      raise ValueError('config.runs: the init_from / P-GT dependencies of '
                       f'{", ".join(r.name for r in pending)} form a cycle')
    out.append(ready[0])
    done.add(ready[0].name)
    pending.remove(ready[0])
  return out


def describe(run: Run, schedule) -> str:
  """One line for the report: what the run trains on, from what, with which loss."""
  data = ' + '.join(n for n, on in (('GT', run.gt), ('P-GT', run.pgt)) if on)
  if families.FAMILIES[run.family].per_view:
    terms = ([f'{run.weights.l1:g} {families.FAMILIES[run.family].l1_name}']
             if run.weights.l1 else [])
    if run.weights.l2:
      terms.append(f'{run.weights.l2:g} MSE (normalised)')
    if run.weights.mvc:
      m = run.mvc
      unit = 'mm' if m.unit == 'mm' else 'L1 units'
      variant = [] if m == losses.MvcOptions() else [f'{m.form}, {m.routing}, in {unit}']
      terms.append(f'{run.weights.mvc:g} MVC (' + '; '.join(
          variant + [f'frames: {run.mvc_frames}']) + ')')
    loss = ' + '.join(terms) or '0'
  else:
    loss = f'{run.weights.l1:g} 2D L1 + {run.weights.mm_3d:g} 3D L1 (mm)'
  start = f'from {run.init_from}' if run.init_from else 'from scratch'
  t = run.targets
  notes = []
  if run.pgt:
    if t.source == 'hidden_gt':
      notes.append('unlabeled targets: the hidden GT (diagnosis)')
    if t.noise_mm:
      notes.append(f'+ {t.noise_mm:g} mm world noise')
    if t.view_noise:
      unit = 'mm' if run.family == 'lifting' else 'heatmap-unit'
      notes.append(f'+ {t.view_noise:g} {unit} noise per view')
    if t.withheld:
      notes.append(f'{t.withheld:.0%} of (view, joint) targets withheld')
    if not t.l1:
      notes.append('no L1 on the unlabeled frames')
    if run.unlabeled_share:
      notes.append(f'{run.unlabeled_share:.0%} of draws unlabeled')
  extra = f' ({"; ".join(notes)})' if notes else ''
  return (f'{run.label}: {run.family} model, {schedule.steps} steps {start} on {data}{extra}, '
          f'L = {loss}')


PAIR_METRICS = ('mpjpe', 'pa_mpjpe', 'abs_mpjpe', 'mrpe')


def check_pairs(pairs, rows: dict[str, Run]) -> None:
  """config.pairs: each (run a, run b[, metric]) names runs of the table (or 'run+rootnet' of a
  run evaluated at its root_from's depths) and a metric of :data:`PAIR_METRICS`.

  Raises:
    ValueError: naming the bad pair.
  """
  names = set(rows) | {f'{r.name}+{r.root_from}' for r in rows.values() if r.root_from}
  for p in pairs:
    p = tuple(p)
    if len(p) not in (2, 3) or any(n not in names for n in p[:2]) or (
        len(p) == 3 and p[2] not in PAIR_METRICS):
      raise ValueError(f'config.pairs: {p} must be (run a, run b[, metric]) with runs among '
                       f'{sorted(names)} and metric one of {PAIR_METRICS}')
