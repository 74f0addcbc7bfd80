"""The Pose2Sim experiment's P-GT: the recording's own reader against the reference DLT, and the
bring-your-own path against the recording's own reader."""

import json
import os
from unittest import mock

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from configs import pose2sim as pose2sim_config
from configs import smoke
from mvssl import main
from mvssl.data import pose2sim as p2s
from mvssl.experiments import pose2sim
from mvssl.train import stages
from mvssl.train.context import Context
from tests.conftest import shared_path

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)


class Pose2SimTest(chex.TestCase):

  def test_dlt_pgt_matches_reference_triangulation(self):
    root = shared_path('pose2sim_balancing')
    names, cams, _ = p2s.load_cameras(os.path.join(root, 'calibration.json'))
    det = p2s.load_detections(os.path.join(root, 'keypoints.npz'))
    self.assertEqual(names, ['cam01', 'cam02', 'cam03', 'cam04'])
    cams = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), cams)
    plain = default.get_config().pseudo_label.robust       # method none: the plain DLT
    poses, valid, err, _ = pose2sim.pseudo_gt(cams, det, 0.3, plain)
    ref = np.load(os.path.join(root, 'keypoints.npz'))['h36m17_3d_dlt_m'] * 1000.0
    ok = valid & np.all(np.isfinite(ref), -1)
    self.assertGreater(ok.mean(), 0.9)
    # Same detections; the reference weights and undistorts slightly differently (0.96 mm median
    # difference measured).
    self.assertLess(np.median(np.linalg.norm(poses[ok] - ref[ok], axis=-1)), 5.0)
    # The README of the data states reprojection errors of 7-30 px.
    self.assertLess(np.nanmean(err), 30.0)
    self.assertGreater(np.nanmean(err), 1.0)

  def test_same_pgt_as_the_recordings_own_reader(self):
    root = shared_path('pose2sim_balancing')
    tmp = self.create_tempdir().full_path
    config = smoke.get_config()
    config.unlabeled_data = default.recording_data(root, num_workers=2)
    config.pseudo_label.source = 'detections'
    ctx = Context(config, tmp)
    d = ctx.split('unlabeled')
    self.assertEqual(ctx.data.source('unlabeled').camera_names,
                     ['cam01', 'cam02', 'cam03', 'cam04'])
    self.assertEqual(d['frame'].tolist(), list(range(0, 100, 10)))
    self.assertTrue(np.all(d['view_valid']))
    self.assertGreater(float(d['images'][3].std()), 20.0)             # real pixels
    pgt = stages.pseudo_label(ctx)
    self.assertTrue(os.path.exists(ctx.pgt_path()))
    self.assertTrue(os.path.exists(os.path.join(tmp, 'samples', 'unlabeled_pgt.png')))
    names, _, poses, valid, reproj = pose2sim.reference_pgt(config)
    self.assertEqual(names, ['cam01', 'cam02', 'cam03', 'cam04'])
    ok = valid[d['frame']] & pgt['valid']
    self.assertGreater(ok.mean(), 0.9)
    dist = np.linalg.norm(pgt['pose_world'] - poses[d['frame']], axis=-1)[ok]
    self.assertLess(float(np.max(dist)), 1.0)                          # mm
    self.assertLess(float(np.median(dist)), 0.05)
    # The P-GT file matches the split and is reused (read back by a new context), not remade.
    with mock.patch.object(stages, 'detections_views', side_effect=AssertionError('remade')):
      again = stages.pseudo_label(Context(config, tmp))
    np.testing.assert_array_equal(again['pose_world'], pgt['pose_world'])
    self.assertLess(np.nanmean(reproj), 30.0)


class Pose2SimLiftingTest(chex.TestCase):

  def test_lifting_on_the_recording_with_held_out_frames(self):
    shared_path('pose2sim_balancing')
    shared_path('h36m_motion')
    tmp = self.create_tempdir().full_path
    config = pose2sim_config.get_config('lifting')
    config.data.max_frames = 60
    config.data.subjects.labeled = ['S1']
    config.unlabeled_data.update(max_frames=12, num_workers=2)
    config.model.lifting.hidden = 32
    config.model.image_size = 32
    config.log_every, config.save_every = 2, 3
    for s in config.schedules.values():
      s.update(steps=4, batch_size=4)
    config.seeds = (0, 1)
    with mock.patch.object(stages, 'train', wraps=stages.train) as spy:
      out = main.train_and_evaluate(config, tmp)
    self.assertEqual(out['seeds'], [0, 1])
    self.assertEqual(out['frames'], list(range(12)))                  # video frames, every one
    self.assertEqual(out['tuning_frames'], list(range(6)))
    labels = {'Base', 'Fine-tuned (L1 + MVC)', 'Fine-tuned, P-GT without the gate (L1 + MVC)'}
    for key in ('models', 'heldout_models'):
      self.assertEqual(set(out[key]), labels)
      for per_view in out[key].values():
        self.assertEqual(set(per_view), {'cam01', 'cam02', 'cam03', 'cam04'})
        for r in per_view.values():                                   # mean +- std over seeds
          self.assertTrue(np.isfinite(r['mpjpe_to_pgt_mm']['mean']))
          self.assertGreaterEqual(r['mvc_disagreement_mm']['std'], 0.0)
    self.assertLess(out['pgt_vs_reference_mm']['max'], 1.0)
    # Paired over the 2 seeds on the held-out frames: gated fine-tune - Base, ungated - gated.
    pairs = {(c['a'], c['b'], c['metric']) for c in out['comparisons']}
    self.assertEqual(len(pairs), 4)
    self.assertIn(('Fine-tuned, P-GT without the gate (L1 + MVC)', 'Fine-tuned (L1 + MVC)',
                   'mpjpe_to_pgt_mm'), pairs)
    for c in out['comparisons']:
      self.assertEqual((c['seeds'], c['blocks'], c['frames_of']), (2, 1, 'heldout_models'))
      self.assertEqual(len(c['per_seed']), 2)
    md = open(os.path.join(tmp, 'pose2sim_results.md')).read()
    self.assertIn('Held-out frames (6), never fine-tuned on', md)
    self.assertIn('Paired over seeds', md)
    self.assertNotIn('per_frame', json.load(open(os.path.join(tmp, 'pose2sim_results.json'))))
    # The fine-tunes saw the first 6 frames only, with their P-GT: gated (Pose2Sim's rule) for
    # one, the plain DLT of every view for the other.
    arrays = {c.args[1]: c.kwargs['arrays'] for c in spy.call_args_list}
    self.assertIsNone(arrays['base'])
    pgt_dir = os.path.join(tmp, 'seed_1', 'pgt')
    names = sorted(n for n in os.listdir(pgt_dir) if n.endswith('.npz'))
    self.assertEqual(len(names), 2)
    gated, plain = (np.load(os.path.join(pgt_dir, n)) for n in
                    (names[0], next(n for n in names if n.endswith('_ungated.npz'))))
    self.assertEqual(json.loads(str(gated['settings']))['robust']['method'], 'pose2sim')
    self.assertEqual(json.loads(str(plain['settings']))['robust']['method'], 'none')
    self.assertGreaterEqual(plain['valid'].mean(), gated['valid'].mean())
    for run, pgt in (('pose2sim_ours', gated), ('pose2sim_ungated', plain)):
      self.assertEqual(len(arrays[run]['pose_3d']), 6)
      np.testing.assert_allclose(arrays[run]['pose_3d'], pgt['pose_world'][:6])
      rows = [json.loads(x) for x in
              open(os.path.join(tmp, 'seed_1', run, 'metrics.jsonl'))]
      self.assertEqual(rows[-1]['step'], 4)


class Pose2SimMetrabsTest(chex.TestCase):

  def test_absolute_model_on_the_recording_against_the_dlt_pgt(self):
    root = shared_path('pose2sim_balancing')
    tmp = self.create_tempdir().full_path
    config = pose2sim_config.get_config('metrabs')
    smoke.shrink(config)
    config.data.frames.update(labeled=12, unlabeled=8, test=4)
    config.unlabeled_data.update(manual_dir=root, max_frames=8, num_workers=2)
    config.model.absolute.warmup = 2
    out = main.train_and_evaluate(config, tmp)
    self.assertEqual(out['tuning_frames'], out['frames'][:4])          # half held out
    self.assertEqual(set(out['models']), {'Base', 'Fine-tuned (L1 + MVC)',
                                          'Fine-tuned, P-GT without the gate (L1 + MVC)'})
    # Each view's own absolute prediction is scored against the P-GT (joints and root), finite.
    for per_view in list(out['models'].values()) + list(out['heldout_models'].values()):
      self.assertEqual(set(per_view), {'cam01', 'cam02', 'cam03', 'cam04'})
      for r in per_view.values():
        self.assertTrue(np.isfinite(r['mpjpe_to_pgt_mm']) and np.isfinite(r['root_to_pgt_mm']))
        self.assertGreaterEqual(r['mpjpe_to_pgt_mm'], 0.0)
    md = open(os.path.join(tmp, 'pose2sim_results.md')).read()
    self.assertIn('Fine-tuned (L1 + MVC) root to P-GT (mm)', md)
    # The fine-tune trained on the recording's camera-frame P-GT from the Base's weights.
    rows = [json.loads(x) for x in open(os.path.join(tmp, 'pose2sim_ours', 'metrics.jsonl'))]
    self.assertEqual(rows[-1]['step'], 4)
    self.assertIn('labs', rows[-1])
