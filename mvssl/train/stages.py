"""The five stages of the method and ``all``, which runs them in order and writes the results.

  build            builds the datasets the config names (also done on first use)  -> data/
  pretrain_single  single-view integral model, L1 on labeled GT             -> checkpoints/base
  pretrain_multi   algebraic triangulation model G on labeled GT             -> checkpoints/multi
  pseudo_label     G on the unlabeled split -> world P-GT + per-view targets -> pgt/pgt.npz
  finetune         from base, mode gt_only (L1 on labeled GT only: the Base of the table, so
                   that all three models train for the same number of steps), l1_only
                   (L1 on GT + P-GT) or mvc (L1 + 0.1 MVC on GT + P-GT)
                                                  -> checkpoints/base_gt, /l1_only, /ours
  evaluate         per-camera MPJPE / PA-MPJPE of Base, L1-only, Ours on the test split
                                                  -> results.md, results.json, results.png

Every stage resumes from what the workdir already holds.
"""

from __future__ import annotations

import functools
import json
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import tqdm

from mvssl import parallel
from mvssl.data import augment
from mvssl.data import builder as builder_lib
from mvssl.data import h36m
from mvssl.data import human36m
from mvssl.data import input_pipeline
from mvssl.data import mpi_inf_3dhp
from mvssl.data import multiview
from mvssl.data import recording
from mvssl.geometry import normalize
from mvssl.geometry import triangulation
from mvssl.models import pose_net
from mvssl.train import checkpointing
from mvssl.train import metrics as metrics_lib
from mvssl.train import report
from mvssl.train import state as state_lib
from mvssl.train import step as step_lib
from mvssl.train import trainer

log = logging.getLogger('mvssl')
ORDER = ('pretrain_single', 'pretrain_multi', 'pseudo_label', 'finetune', 'evaluate')
CKPT = dict(base='pretrain_single', multi='pretrain_multi',
            base_gt='finetune --config.finetune.mode=gt_only',
            l1_only='finetune --config.finetune.mode=l1_only',
            ours='finetune --config.finetune.mode=mvc')
FINETUNE_NAMES = dict(gt_only='base_gt', l1_only='l1_only', mvc='ours')


def geometry(config) -> step_lib.Geometry:
  hm = config.data.image_size // 4          # three stride-2 deconvolutions on a /32 trunk
  return step_lib.Geometry(stride=config.data.image_size / hm, depth_bins=config.model.depth_bins,
                           cube_mm=float(config.cube_mm))


_targets = jax.jit(step_lib.heatmap_targets, static_argnums=(2,))


def targets(cams, poses, geo, chunk=512):
  """:func:`mvssl.train.step.heatmap_targets` on the host in chunks -> numpy
  ([N, V, J, 3], [N, V] mm)."""
  out = [_targets(jax.tree.map(lambda a: a[i:i + chunk], cams), poses[i:i + chunk], geo)
         for i in range(0, len(poses), chunk)]
  return (np.concatenate([np.asarray(o[0]) for o in out]),
          np.concatenate([np.asarray(o[1]) for o in out]))


class Context:
  """What the stages share: config, workdir, mesh, geometry, and the (lazily loaded) splits.

  ``config.data.dataset`` picks the data: 'multiview' (rendered, :mod:`mvssl.data.multiview`),
  'human36m', 'mpi_inf_3dhp' or 'recording' (real data, :mod:`mvssl.data.builder`). An optional
  ``config.unlabeled_data`` (same fields) supplies the unlabeled split from another dataset,
  e.g. a user's recording next to Human3.6M's labeled subjects.
  """

  def __init__(self, config, workdir):
    self.config, self.workdir = config, workdir
    self.mesh = parallel.make_mesh(config.get('num_devices') or None)
    self._splits = {}
    self._builders = {}
    self._geo = None

  @property
  def geo(self) -> step_lib.Geometry:
    """Heatmap geometry, with the labeled dataset's lens model (builds the dataset if needed)."""
    if self._geo is None:
      self._geo = geometry(self.config)._replace(
          dist_model=self.builder(self.config.data).dist_model)
    return self._geo

  def builder(self, data_cfg):
    key = id(data_cfg)
    if key not in self._builders:
      data_dir = data_cfg.data_dir or os.path.join(self.workdir, 'data')
      kind = data_cfg.get('dataset', 'multiview')
      if kind == 'multiview':
        b = multiview.build(data_cfg, data_dir)
      else:
        adapters = dict(human36m=human36m.adapter, mpi_inf_3dhp=mpi_inf_3dhp.adapter,
                        recording=recording.adapter)
        if kind not in adapters:
          raise ValueError(f'config.data.dataset must be one of multiview, '
                           f'{", ".join(adapters)}; got {kind!r}')
        if not data_cfg.get('manual_dir'):
          raise ValueError(f'dataset {kind!r}: field manual_dir is empty; set it to the folder '
                           f'holding the downloaded files (README, section "Real datasets")')
        b = builder_lib.build(adapters[kind](data_cfg), data_dir,
                              image_size=self.config.data.image_size,
                              box_scale=data_cfg.box_scale, undistort=data_cfg.undistort,
                              num_workers=data_cfg.get('num_workers', 8))
      self._builders[key] = b
    return self._builders[key]

  def split(self, name) -> dict:
    if name not in self._splits:
      data_cfg = self.config.data
      if name == 'unlabeled' and self.config.get('unlabeled_data'):
        data_cfg = self.config.unlabeled_data
      b = self.builder(data_cfg)
      if isinstance(b, multiview.MultiviewPose):
        d = multiview.load_split(b, name)
      else:
        d = builder_lib.load_split(b, name, num_threads=self.config.input.num_threads)
      if d['cams'].dist_model != self.geo.dist_model:
        if np.any(np.asarray(d['cams'].dist) != 0):
          raise ValueError(f'split {name!r} uses the {d["cams"].dist_model!r} lens model but '
                           f'the labeled data uses {self.geo.dist_model!r}; build it with '
                           f'undistort=True (config field undistort of its data config)')
        d['cams'] = d['cams'].replace(dist_model=self.geo.dist_model)   # pinhole either way
      self._splits[name] = d
    return self._splits[name]

  def pgt_path(self) -> str:
    """P-GT file: pgt/pgt.npz, or pgt/pgt_<dataset build>.npz for a separate unlabeled dataset."""
    if not self.config.get('unlabeled_data'):
      return os.path.join(self.workdir, 'pgt', 'pgt.npz')
    name = self.builder(self.config.unlabeled_data).builder_config.name
    return os.path.join(self.workdir, 'pgt', f'pgt_{name}.npz')

  def camera_names(self):
    b = self.builder(self.config.data)
    if hasattr(b, 'camera_names'):
      return list(b.camera_names)
    if self.config.data.source == 'h36m_motion':
      return list(h36m.CAMERA_IDS[:self.config.data.num_views])
    return [f'cam{i}' for i in range(self.config.data.num_views)]

  def new_state(self, kind, stage_cfg, seed_offset=0):
    model = pose_net.build(kind, self.config.model, axis_name=parallel.AXIS,
                           seed=self.config.seed + seed_offset)
    return state_lib.TrainState.create(model, state_lib.make_optimizer(stage_cfg))

  def restore(self, name, kind, stage_cfg):
    """Latest checkpoint of a finished stage, or a clear error naming what to run first."""
    directory = os.path.join(self.workdir, 'checkpoints', name)
    ckpt = checkpointing.Checkpointer(directory, save_every=1)
    step = ckpt.latest_step()
    if step is None or step < stage_cfg.steps:
      ckpt.close()
      raise FileNotFoundError(
          f'{directory}: no finished checkpoint (step {step} of {stage_cfg.steps}); '
          f'run --config.stage={CKPT[name]} first')
    state = ckpt.restore(self.new_state(kind, stage_cfg))
    ckpt.close()
    return state

  def augment_fn(self):
    """Per-example augmentation from ``config.input`` (None when switched off)."""
    cfg = self.config.input
    if cfg.augment == 'none':
      return None
    if cfg.augment == 'colour':
      return input_pipeline.colour_jitter
    if cfg.augment == 'geometric':
      return functools.partial(augment.augment_frame, scale=tuple(cfg.scale),
                               rotation_deg=float(cfg.rotation_deg),
                               flip_prob=float(cfg.flip_prob))
    raise ValueError(f'config.input.augment must be none, colour or geometric, '
                     f'got {cfg.augment!r}')

  def train(self, name, state, loss_fn, arrays, stage_cfg, augment=True):
    return trainer.train_loop(
        name, state, loss_fn, arrays, stage_cfg, workdir=self.workdir, mesh=self.mesh,
        parallel_mode=self.config.parallel, seed=self.config.seed,
        log_every=self.config.log_every, save_every=self.config.save_every,
        augment_fn=self.augment_fn() if augment else None,
        num_threads=self.config.input.num_threads, prefetch=self.config.input.prefetch)


def single_arrays(d, pose_3d, mvc, keep=None):
  """Training arrays of the single-view model: split ``d`` (images, cams) with world poses
  [N, J, 3] mm (GT or P-GT; targets are made in the step), L1 weight 1 and MVC weight ``mvc``
  per frame; ``keep`` optionally selects frames."""
  n = len(pose_3d)
  keep = np.arange(n) if keep is None else np.nonzero(keep)[0]
  images = d['images'] if len(keep) == n else _Rows(d['images'], keep)
  out = dict(images=images, K=d['cams'].K[keep], R=d['cams'].R[keep], t=d['cams'].t[keep],
             dist=d['cams'].dist[keep], pose_3d=np.asarray(pose_3d, np.float32)[keep],
             l1_w=np.ones(len(keep), np.float32), mvc_w=np.full(len(keep), float(mvc), np.float32),
             view_valid=d['view_valid'][keep])
  return out


class _Rows:
  """Rows ``keep`` of a (possibly lazy) array, itself indexable like one."""

  def __init__(self, base, keep):
    self.base, self.keep = base, np.asarray(keep)
    self.shape = (len(self.keep),) + tuple(base.shape[1:])

  def __len__(self):
    return len(self.keep)

  def __getitem__(self, idx):
    return self.base[self.keep[idx]]


class Concat:
  """Row-wise concatenation of (possibly lazy) arrays, indexable like one array."""

  def __init__(self, parts):
    self.parts = parts
    self.offsets = np.cumsum([0] + [len(p) for p in parts])
    self.shape = (int(self.offsets[-1]),) + tuple(parts[0].shape[1:])

  def __len__(self):
    return self.shape[0]

  def __getitem__(self, idx):
    if isinstance(idx, (int, np.integer)):
      k = int(np.searchsorted(self.offsets, idx, side='right') - 1)
      return self.parts[k][int(idx - self.offsets[k])]
    return np.stack([self[int(i)] for i in np.arange(len(self))[idx]])


def concat_arrays(a: dict, b: dict) -> dict:
  """Frames of ``a`` then ``b`` (same keys); lazy image arrays stay lazy."""
  out = {}
  for k in a:
    if isinstance(a[k], np.ndarray) and isinstance(b[k], np.ndarray):
      out[k] = np.concatenate([a[k], b[k]])
    else:
      out[k] = Concat([a[k], b[k]])
  return out


def pretrain_single(ctx):
  """Base: the single-view model with L1 on labeled GT."""
  cfg = ctx.config.pretrain_single
  d = ctx.split('labeled')
  loss = functools.partial(step_lib.single_loss, geo=ctx.geo,
                           weights=step_lib.LossWeights(l1=1.0, mvc=0.0))
  return ctx.train('base', ctx.new_state('single', cfg), loss,
                   single_arrays(d, d['pose_3d'], 0.0), cfg)


def pretrain_multi(ctx):
  """G: the algebraic triangulation model on labeled GT."""
  cfg = ctx.config.pretrain_multi
  d = ctx.split('labeled')
  arrays = single_arrays(d, d['pose_3d'], 0.0)
  del arrays['l1_w'], arrays['mvc_w']
  loss = functools.partial(step_lib.multi_loss, geo=ctx.geo,
                           weights=step_lib.LossWeights(mm_3d=float(cfg.weight_3d)))
  return ctx.train('multi', ctx.new_state('multi', cfg, seed_offset=1), loss, arrays, cfg)


def run_multi(state, d, geo, batch_frames=16, desc='G'):
  """Runs G over a split -> (world poses [N, J, 3] mm, valid [N, J])."""
  poses, valid = [], []
  n = len(d['images'])
  for i in tqdm.trange(0, n, batch_frames, desc=desc, unit='batch', leave=False):
    sl = slice(i, i + batch_frames)
    batch = dict(images=d['images'][sl], K=d['cams'].K[sl], R=d['cams'].R[sl],
                 t=d['cams'].t[sl], dist=d['cams'].dist[sl], view_valid=d['view_valid'][sl])
    p, aux = step_lib.predict_multi(state.graphdef, state.params, state.batch_stats, batch, geo)
    poses.append(np.asarray(p))
    valid.append(np.asarray(aux['valid']))
  return np.concatenate(poses), np.concatenate(valid)


def _atomic_savez(path, **arrays):
  tmp = path + '.tmp.npz'
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def detections_pgt(d, min_score):
  """P-GT from the split's stored 2D detections: confidence-weighted DLT in the crop cameras.

  Returns:
    (world poses [N, J, 3] mm, valid [N, J]); detections below ``min_score`` get weight 0.
  """
  kp = np.asarray(d['keypoints_2d'], np.float32)                       # [N, V, J, 3]
  w = np.where(kp[..., 2] >= min_score, kp[..., 2], 0.0)
  w = w * d['view_valid'][..., None]
  cams = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), d['cams'])
  poses, valid = jax.jit(jax.vmap(triangulation.triangulate_views))(
      cams, jnp.asarray(kp[..., :2]), jnp.asarray(w, jnp.float32))
  return np.asarray(poses), np.asarray(valid)


def pseudo_label(ctx):
  """P-GT on the unlabeled split, normalised into every view (eq. 4-8) -> pgt/pgt.npz.

  ``config.pseudo_label.source``: 'model' (G, the algebraic triangulation model) or
  'detections' (DLT of the dataset's 2D detections, e.g. a recording's OpenPose output).
  """
  path = ctx.pgt_path()
  d = ctx.split('unlabeled')
  cfg = ctx.config.get('pseudo_label') or {}
  source = cfg.get('source', 'model')
  keys = np.array([f'{s}/{q}/{f}' for s, q, f in zip(d['subject'], d['sequence'], d['frame'])])
  if os.path.exists(path):
    out = dict(np.load(path))
    if out['key'].shape != keys.shape or np.any(out['key'] != keys):
      raise ValueError(f'{path}: P-GT of other frames than the unlabeled split '
                       f'({len(out["key"])} vs {len(keys)} frames); move it away to regenerate')
    if str(out.get('source', source)) != source:
      raise ValueError(f'{path}: P-GT made by {str(out["source"])!r}, config.pseudo_label.source '
                       f'is {source!r}; move the file away to regenerate')
    log.info('[pseudo_label] reusing %s', path)
    return out
  if source == 'model':
    state = ctx.restore('multi', 'multi', ctx.config.pretrain_multi)
    poses, valid = run_multi(state, d, ctx.geo, desc='P-GT (G on unlabeled)')
  elif source == 'detections':
    poses, valid = detections_pgt(d, float(cfg.get('min_score', 0.3)))
  else:
    raise ValueError(f'config.pseudo_label.source must be "model" or "detections", '
                     f'got {source!r}')
  if not np.all(np.isfinite(poses)):
    raise FloatingPointError(f'[pseudo_label] {source} produced non-finite poses')
  target, root_depth = targets(d['cams'], poses, ctx.geo)
  acc = {'valid_fraction': float(np.mean(valid))}
  if np.all(d['has_pose_3d']):   # score against the hidden GT when the unlabeled data has one
    acc.update({k: float(np.mean(v)) for k, v in
                metrics_lib.all_metrics(jnp.asarray(poses), jnp.asarray(d['pose_3d'])).items()})
    acc['abs_mpjpe'] = float(np.mean(metrics_lib.mpjpe(jnp.asarray(poses),
                                                       jnp.asarray(d['pose_3d']), root=None)))
  log.info('[pseudo_label] P-GT of %d unlabeled frames (vs hidden GT where known): %s', len(poses),
           ' '.join(f'{k}={v:.4g}' for k, v in acc.items()))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  out = dict(pose_world=poses, valid=valid, target=target, root_depth=root_depth,
             key=keys, source=np.array(source),
             accuracy=np.array(json.dumps(acc)))
  _atomic_savez(path, **out)
  return out


def finetune(ctx, mode=None):
  """Continues the pre-trained single-view model for ``finetune.steps`` steps.

  mode 'gt_only': labeled GT only (the Base of the table); 'l1_only': labeled GT + unlabeled
  P-GT with L1; 'mvc': the same with L1 + mvc_weight * MVC (paper eq. 10).
  """
  mode = mode or ctx.config.finetune.mode
  if mode not in FINETUNE_NAMES:
    raise ValueError(f'config.finetune.mode must be one of {sorted(FINETUNE_NAMES)}, '
                     f'got {mode!r}')
  cfg = ctx.config.finetune
  lab = ctx.split('labeled')
  if mode == 'gt_only':
    arrays = single_arrays(lab, lab['pose_3d'], 0.0)
    return _continue_base(ctx, 'base_gt', arrays, step_lib.LossWeights(l1=float(cfg.l1_weight)))
  pgt = pseudo_label(ctx)
  unl = ctx.split('unlabeled')
  keep = np.all(pgt['valid'], axis=-1)
  if cfg.mvc_frames not in ('all', 'unlabeled'):
    raise ValueError(f'config.finetune.mvc_frames must be "all" or "unlabeled", '
                     f'got {cfg.mvc_frames!r}')
  a = single_arrays(lab, lab['pose_3d'], cfg.mvc_frames == 'all')
  b = single_arrays(unl, pgt['pose_world'], 1.0, keep=keep)
  arrays = concat_arrays(a, b)
  weights = step_lib.LossWeights(l1=float(cfg.l1_weight),
                                 mvc=float(cfg.mvc_weight) if mode == 'mvc' else 0.0)
  return _continue_base(ctx, FINETUNE_NAMES[mode], arrays, weights)


def _continue_base(ctx, name, arrays, weights):
  cfg = ctx.config.finetune
  base = ctx.restore('base', 'single', ctx.config.pretrain_single)
  state = ctx.new_state('single', cfg).replace(params=base.params, batch_stats=base.batch_stats)
  loss = functools.partial(step_lib.single_loss, geo=ctx.geo, weights=weights)
  return ctx.train(name, state, loss, arrays, cfg)


def predict_world(state, d, geo, batch_frames=32):
  """Single-view predictions of every view mapped to world with the GT root depth (Pi).

  The root depth of each view is ``d['root_depth']`` [N, V] mm when given, else that of
  ``d['pose_3d']`` [N, J, 3] (world mm) in the view's camera.

  Returns:
    [N, V, J, 3] world mm.
  """
  out = []
  n, v = d['images'].shape[:2]
  root_depth = d['root_depth'] if 'root_depth' in d else targets(d['cams'], d['pose_3d'], geo)[1]
  to_world = jax.jit(jax.vmap(functools.partial(
      normalize.heatmap_to_world_views, stride=geo.stride, depth_bins=geo.depth_bins,
      cube_mm=geo.cube_mm)))
  for i in range(0, n, batch_frames):
    sl = slice(i, i + batch_frames)
    imgs = d['images'][sl]
    hm = step_lib.predict_single(state.graphdef, state.params, state.batch_stats,
                                 imgs.reshape((-1,) + imgs.shape[2:]))
    hm = hm.reshape(imgs.shape[:2] + hm.shape[1:])
    cams = jax.tree.map(lambda a: a[sl], d['cams'])
    out.append(np.asarray(to_world(cams, hm, root_depth[sl])))
  return np.concatenate(out)


def evaluate(ctx):
  """Per-camera MPJPE / PA-MPJPE (and N-MPJPE, PCK3D, AUC) of every finished model."""
  d = ctx.split('test')
  gt = jnp.asarray(d['pose_3d'])
  results = dict(cameras=ctx.camera_names(), models={}, num_test_frames=len(gt))
  # Views a camera did not record (view_valid False) are not scored.
  seen = d['view_valid']
  for name, label, cfg in (('base', 'Base (pre-training only)', ctx.config.pretrain_single),
                           ('base_gt', 'Base', ctx.config.finetune),
                           ('l1_only', 'L1-only', ctx.config.finetune),
                           ('ours', 'Ours', ctx.config.finetune)):
    try:
      state = ctx.restore(name, 'single', cfg)
    except FileNotFoundError as e:
      log.warning('[evaluate] skipping %s: %s', label, e)
      continue
    world = jnp.asarray(predict_world(state, d, ctx.geo))           # [N, V, J, 3]
    per = metrics_lib.all_metrics(world, jnp.broadcast_to(gt[:, None], world.shape))
    per = {k: np.asarray(v) for k, v in per.items()}                 # [N, V] each
    results['models'][label] = {
        cam: {k: float(np.mean(v[seen[:, i], i])) for k, v in per.items()}
        for i, cam in enumerate(results['cameras'])}
    results['models'][label]['mean'] = {k: float(np.mean(v[seen])) for k, v in per.items()}
  pgt_path = ctx.pgt_path()
  if os.path.exists(pgt_path):
    results['pgt'] = json.loads(str(np.load(pgt_path)['accuracy']))
  try:
    g = ctx.restore('multi', 'multi', ctx.config.pretrain_multi)
    poses, _ = run_multi(g, d, ctx.geo, desc='G on test')
    results['G_test'] = {k: float(np.mean(v)) for k, v in
                         metrics_lib.all_metrics(jnp.asarray(poses), gt).items()}
  except FileNotFoundError as e:
    log.warning('[evaluate] skipping G: %s', e)
  report.write(results, ctx.workdir, title=ctx.config.get('title', 'mvssl'))
  return results


def build(ctx):
  """Builds (or checks) every dataset the config names and prints what each split holds."""
  out = {}
  for name in ('labeled', 'unlabeled', 'test'):
    d = ctx.split(name)
    out[name] = dict(frames=int(len(d['frame'])), subjects=sorted(set(d['subject'].tolist())),
                     views=int(d['view_valid'].sum()), with_3d=int(d['has_pose_3d'].sum()))
    log.info('[build] %s: %d frames, %d views, %d with 3D labels, subjects %s', name,
             out[name]['frames'], out[name]['views'], out[name]['with_3d'],
             ','.join(out[name]['subjects']))
  return out


STAGES = dict(build=build, pretrain_single=pretrain_single, pretrain_multi=pretrain_multi,
              pseudo_label=pseudo_label, finetune=finetune, evaluate=evaluate)


def run(config, workdir):
  """Runs ``config.stage``: one of STAGES, or 'all' (every fine-tuning mode)."""
  if config.get('dataset', 'multiview') == 'pose2sim':
    from mvssl.train import pose2sim  # noqa: PLC0415
    return pose2sim.run(config, workdir)
  ctx = Context(config, workdir)
  if config.stage == 'all':
    pretrain_single(ctx)
    finetune(ctx, 'gt_only')
    pretrain_multi(ctx)
    pseudo_label(ctx)
    finetune(ctx, 'l1_only')
    finetune(ctx, 'mvc')
    return evaluate(ctx)
  if config.stage not in STAGES:
    raise ValueError(f'config.stage must be "all" or one of {sorted(STAGES)}, '
                     f'got {config.stage!r}')
  return STAGES[config.stage](ctx)
