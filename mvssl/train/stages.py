"""The five stages of the method and ``all``, which runs them in order and writes the results.

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
from mvssl.data import h36m
from mvssl.data import input_pipeline
from mvssl.data import multiview
from mvssl.geometry import normalize
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


@functools.partial(jax.jit, static_argnums=(2,))
def _targets(cams, poses, geo):
  """Per-view normalised targets of world poses: [N, V, J, 3] and root depths [N, V] mm."""
  f = functools.partial(normalize.world_to_heatmap_views, stride=geo.stride,
                        depth_bins=geo.depth_bins, cube_mm=geo.cube_mm)
  return jax.vmap(f)(cams, poses)


def targets(cams, poses, geo, chunk=512):
  out = [_targets(jax.tree.map(lambda a: a[i:i + chunk], cams), poses[i:i + chunk], geo)
         for i in range(0, len(poses), chunk)]
  return (np.concatenate([np.asarray(o[0]) for o in out]),
          np.concatenate([np.asarray(o[1]) for o in out]))


class Context:
  """What the stages share: config, workdir, mesh, geometry, and the (lazily loaded) splits."""

  def __init__(self, config, workdir):
    self.config, self.workdir = config, workdir
    self.mesh = parallel.make_mesh(config.get('num_devices') or None)
    self.geo = geometry(config)
    self._splits = {}
    self._builder = None

  def split(self, name) -> dict:
    if name not in self._splits:
      if self._builder is None:
        data_dir = self.config.data.data_dir or os.path.join(self.workdir, 'data')
        self._builder = multiview.build(self.config.data, data_dir)
      d = multiview.load_split(self._builder, name)
      d['target'], d['root_depth'] = targets(d['cams'], d['pose_3d'], self.geo)
      self._splits[name] = d
    return self._splits[name]

  def camera_names(self):
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

  def train(self, name, state, loss_fn, arrays, stage_cfg, augment=True):
    make_batch = None
    if augment:
      def make_batch(batch, rng):
        batch['images'] = input_pipeline.augment_colour(batch['images'], rng)
        return batch
    return trainer.train_loop(
        name, state, loss_fn, arrays, stage_cfg, workdir=self.workdir, mesh=self.mesh,
        parallel_mode=self.config.parallel, seed=self.config.seed,
        log_every=self.config.log_every, save_every=self.config.save_every,
        make_batch=make_batch)


def single_arrays(d, target, root_depth, mvc):
  """Training arrays of the single-view model: split ``d`` (images, cams) with heatmap targets
  [N, V, J, 3], root depths [N, V] mm, L1 weight 1 and MVC weight ``mvc`` per frame."""
  n = len(target)
  return dict(images=d['images'], K=d['cams'].K, R=d['cams'].R, t=d['cams'].t,
              dist=d['cams'].dist, target=target.astype(np.float32),
              root_depth=root_depth.astype(np.float32), l1_w=np.ones(n, np.float32),
              mvc_w=np.full(n, float(mvc), np.float32))


def pretrain_single(ctx):
  """Base: the single-view model with L1 on labeled GT."""
  cfg = ctx.config.pretrain_single
  d = ctx.split('labeled')
  loss = functools.partial(step_lib.single_loss, geo=ctx.geo,
                           weights=step_lib.LossWeights(l1=1.0, mvc=0.0))
  return ctx.train('base', ctx.new_state('single', cfg), loss,
                   single_arrays(d, d['target'], d['root_depth'], 0.0), cfg)


def pretrain_multi(ctx):
  """G: the algebraic triangulation model on labeled GT."""
  cfg = ctx.config.pretrain_multi
  d = ctx.split('labeled')
  arrays = dict(images=d['images'], K=d['cams'].K, R=d['cams'].R, t=d['cams'].t,
                dist=d['cams'].dist, pose_3d=d['pose_3d'],
                target_2d=d['target'][..., :2].astype(np.float32))
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
                 t=d['cams'].t[sl], dist=d['cams'].dist[sl])
    p, aux = step_lib.predict_multi(state.graphdef, state.params, state.batch_stats, batch, geo)
    poses.append(np.asarray(p))
    valid.append(np.asarray(aux['valid']))
  return np.concatenate(poses), np.concatenate(valid)


def _atomic_savez(path, **arrays):
  tmp = path + '.tmp.npz'
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def pseudo_label(ctx):
  """P-GT: G on the unlabeled split, triangulated, then normalised into every view (eq. 4-8)."""
  path = os.path.join(ctx.workdir, 'pgt', 'pgt.npz')
  if os.path.exists(path):
    log.info('[pseudo_label] reusing %s', path)
    return dict(np.load(path))
  state = ctx.restore('multi', 'multi', ctx.config.pretrain_multi)
  d = ctx.split('unlabeled')
  poses, valid = run_multi(state, d, ctx.geo, desc='P-GT (G on unlabeled)')
  if not np.all(np.isfinite(poses)):
    raise FloatingPointError('[pseudo_label] G produced non-finite poses')
  target, root_depth = targets(d['cams'], poses, ctx.geo)
  acc = {k: float(np.mean(v)) for k, v in
         metrics_lib.all_metrics(jnp.asarray(poses), jnp.asarray(d['pose_3d'])).items()}
  acc['abs_mpjpe'] = float(np.mean(metrics_lib.mpjpe(jnp.asarray(poses),
                                                     jnp.asarray(d['pose_3d']), root=None)))
  acc['valid_fraction'] = float(np.mean(valid))
  log.info('[pseudo_label] P-GT vs hidden GT of %d unlabeled frames: %s', len(poses),
           ' '.join(f'{k}={v:.4g}' for k, v in acc.items()))
  os.makedirs(os.path.dirname(path), exist_ok=True)
  out = dict(pose_world=poses, valid=valid, target=target, root_depth=root_depth,
             key=np.array([f'{s}/{q}/{f}' for s, q, f in zip(d['subject'], d['sequence'],
                                                              d['frame'])]),
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
    arrays = single_arrays(lab, lab['target'], lab['root_depth'], 0.0)
    return _continue_base(ctx, 'base_gt', arrays, step_lib.LossWeights(l1=float(cfg.l1_weight)))
  pgt = pseudo_label(ctx)
  unl = ctx.split('unlabeled')
  keep = np.all(pgt['valid'], axis=-1)
  if cfg.mvc_frames not in ('all', 'unlabeled'):
    raise ValueError(f'config.finetune.mvc_frames must be "all" or "unlabeled", '
                     f'got {cfg.mvc_frames!r}')
  a = single_arrays(lab, lab['target'], lab['root_depth'], cfg.mvc_frames == 'all')
  b = single_arrays(unl, pgt['target'], pgt['root_depth'], 1.0)
  arrays = {k: np.concatenate([a[k], b[k][keep]]) for k in a}
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

  Returns:
    [N, V, J, 3] world mm.
  """
  out = []
  n, v = d['images'].shape[:2]
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
    out.append(np.asarray(to_world(cams, hm, d['root_depth'][sl])))
  return np.concatenate(out)


def evaluate(ctx):
  """Per-camera MPJPE / PA-MPJPE (and N-MPJPE, PCK3D, AUC) of every finished model."""
  d = ctx.split('test')
  gt = jnp.asarray(d['pose_3d'])
  results = dict(cameras=ctx.camera_names(), models={}, num_test_frames=len(gt))
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
    results['models'][label] = {
        cam: {k: float(np.mean(np.asarray(v)[:, i])) for k, v in per.items()}
        for i, cam in enumerate(results['cameras'])}
    results['models'][label]['mean'] = {k: float(np.mean(v)) for k, v in per.items()}
  pgt_path = os.path.join(ctx.workdir, 'pgt', 'pgt.npz')
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


STAGES = dict(pretrain_single=pretrain_single, pretrain_multi=pretrain_multi,
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
