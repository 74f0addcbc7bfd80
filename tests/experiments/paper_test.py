"""The paper experiment end to end: the smoke table (with a row added through the config), the
real-dataset configs on miniature copies of their layouts."""

import json
import os
from unittest import mock

import chex
import numpy as np
import pytest

from configs import default
from configs import human36m as h36m_config
from configs import mpi_inf_3dhp as mpi_config
from configs import recording as recording_config
from configs import smoke
from mvssl import main
from mvssl import parallel
from mvssl.data import h36m
from mvssl.train import evaluate
from mvssl.train import stages
from mvssl.train import summaries
from mvssl.train.context import Context
from tests.fixtures import fakes

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)

TABLE = {'Base', 'L1-only', 'Ours'}


class SmokeTableTest(chex.TestCase):

  def test_all_trains_reports_and_resumes_every_row_including_an_added_one(self):
    tmp = self.create_tempdir().full_path
    config = smoke.get_config()
    # An ablation is one row: MVC on the unlabeled frames only, weight 0.2.
    config.runs.ours_unl = default.run('Ours (MVC unlabeled only)', 'integral', 'finetune',
                                       init_from='base', pgt=True, mvc_frames='unlabeled',
                                       mvc=0.2, order=5)
    results = main.train_and_evaluate(config, tmp)
    labels = TABLE | {'Ours (MVC unlabeled only)', 'Base (pre-training only)'}
    self.assertEqual(set(results['models']), labels)
    self.assertEqual(set(results['triangulated']), {'G'})
    for m in results['models'].values():
      self.assertEqual(set(m), {'cam0', 'cam1', 'cam2', 'cam3', 'mean'})
      self.assertTrue(all(np.isfinite(v['mpjpe']) and v['mpjpe'] > 0 for v in m.values()))
    for f in ('results.md', 'results.json', 'results.png', 'qualitative.png', 'per_joint.png',
              'config.json', 'pgt/pgt.npz',
              'base/loss.png', 'base_gt/loss.png', 'multi/loss.png', 'l1_only/loss.png',
              'ours/loss.png', 'ours_unl/loss.png', 'checkpoints/ours_unl/4'):
      self.assertTrue(os.path.exists(os.path.join(tmp, f)), f)
    # The per-joint errors of every per-view run; TensorBoard holds every run's curves and the
    # evaluation's figures.
    self.assertEqual(list(results['per_joint']['Ours']), list(h36m.JOINT_NAMES))
    self.assertEqual(results['per_joint']['Ours']['Pelvis'], 0.0)          # the root
    self.assertTrue(all(v > 0 for k, v in results['per_joint']['Ours'].items() if k != 'Pelvis'))
    self.assertEqual(set(summaries.read_images(os.path.join(tmp, 'eval'))),
                     {'eval/results', 'eval/qualitative', 'eval/per_joint'})
    for run in ('base', 'multi', 'ours_unl'):
      self.assertIn('loss/loss', summaries.read_scalars(os.path.join(tmp, run)))
    # The added row trained with its own weights: MVC in the loss, on unlabeled frames only.
    rows = [json.loads(x) for x in open(os.path.join(tmp, 'ours_unl', 'metrics.jsonl'))]
    self.assertAlmostEqual(rows[-1]['loss'], rows[-1]['l1'] + 0.2 * rows[-1]['mvc'], places=4)
    md = open(os.path.join(tmp, 'results.md')).read()
    head = md.splitlines()[4]
    self.assertLess(head.index('Ours MPJPE'), head.index('Ours (MVC unlabeled only) MPJPE'))
    self.assertIn('| cam0 |', md)
    self.assertIn('Ours (MVC unlabeled only): integral model, 4 steps from base on GT + P-GT, '
                  'L = 1 L1 + 0.2 MVC (frames: unlabeled)', md)
    pgt = np.load(os.path.join(tmp, 'pgt', 'pgt.npz'))
    self.assertEqual(pgt['target'].shape, (8, 4, 17, 3))
    # Running again resumes everything: same numbers, nothing retrained.
    with mock.patch.object(stages, 'training_arrays', side_effect=AssertionError('retrained')):
      again = main.train_and_evaluate(config, tmp)
    self.assertEqual(again['models']['Ours']['mean'], results['models']['Ours']['mean'])
    # Only process 0 writes the report.
    os.remove(os.path.join(tmp, 'results.md'))
    with mock.patch.object(parallel, 'is_main_process', return_value=False):
      evaluate.evaluate(Context(config, tmp))
    self.assertFalse(os.path.exists(os.path.join(tmp, 'results.md')))
    pgt_path = os.path.join(tmp, 'pgt', 'pgt.npz')
    os.remove(pgt_path)
    with mock.patch.object(parallel, 'is_main_process', return_value=False):
      remade = stages.pseudo_label(Context(config, tmp))
    self.assertEqual(remade['pose_world'].shape, (8, 17, 3))
    self.assertFalse(os.path.exists(pgt_path))
    # A single run as a stage, after its dependencies: the error names what to run first.
    fresh = self.create_tempdir().full_path
    config.stage = 'ours'
    with self.assertRaisesRegex(FileNotFoundError, r'run --config.stage=base first'):
      main.train_and_evaluate(config, fresh)


class RealLayoutTest(chex.TestCase):

  def test_human36m_config_runs_every_stage(self):
    tmp = self.create_tempdir().full_path
    root = os.path.join(tmp, 'h36m')
    fakes.write_h36m_lt(root)
    config = smoke.shrink(h36m_config.get_config())
    config.data.manual_dir = root
    config.data.subjects.update(labeled=['S1'], unlabeled=['S7'], test=['S9'])
    config.data.every_by_split.update(labeled=1, unlabeled=1, test=1)
    config.stage = 'build'
    counts = main.train_and_evaluate(config, os.path.join(tmp, 'run'))
    self.assertEqual(counts['test']['frames'], 4)                # S9 without damaged Greeting-2
    self.assertEqual(counts['unlabeled']['views'], 8 * 4 - 4)     # one camera missing in 4 frames
    config.stage = 'all'
    results = main.train_and_evaluate(config, os.path.join(tmp, 'run'))
    self.assertEqual(results['cameras'], list(h36m.CAMERA_IDS))
    self.assertEqual(set(results['models']), TABLE | {'Base (pre-training only)'})
    for m in results['models'].values():
      self.assertTrue(all(np.isfinite(v['mpjpe']) and v['mpjpe'] > 0 for v in m.values()))
    self.assertIn('mpjpe', results['pgt'])                        # scored against hidden GT
    self.assertTrue(os.path.exists(os.path.join(tmp, 'run', 'results.png')))

  def test_configs_name_what_their_adapters_read(self):
    tmp = self.create_tempdir().full_path
    fakes.write_3dhp(os.path.join(tmp, 'mpi'), sequences=('Seq1',))
    config = smoke.shrink(mpi_config.get_config())
    config.data.manual_dir = os.path.join(tmp, 'mpi')
    config.data.sequences = ('Seq1',)
    config.data.subjects.update(labeled=['S1'], unlabeled=['S4'], test=['S8'])
    ctx = Context(config, os.path.join(tmp, 'run'))
    self.assertLen(ctx.split('test')['frame'], 1)                 # every 64th of 6 frames
    self.assertEqual(ctx.data.source().dist_model, 'opencv')
    # A recording next to Human3.6M: pinhole crops on both sides.
    config = smoke.shrink(recording_config.get_config('human36m'))
    self.assertTrue(config.data.undistort and config.unlabeled_data.undistort)
    with self.assertRaisesRegex(ValueError, r"dataset 'human36m': field manual_dir is empty"):
      Context(config, os.path.join(tmp, 'run2')).split('labeled')
