"""The real-dataset configs drive every stage on miniature copies of their on-disk layouts."""

import os

import chex
import numpy as np

from configs import human36m as h36m_config
from configs import mpi_inf_3dhp as mpi_config
from configs import recording as recording_config
from configs import smoke
from mvssl.data import h36m
from mvssl.train import stages
from mvssl.train import trainer
from tests.data import fakes


class RealLayoutPipelineTest(chex.TestCase):

  def test_human36m_config_runs_every_stage(self):
    tmp = self.create_tempdir().full_path
    root = os.path.join(tmp, 'h36m')
    fakes.write_h36m_lt(root)
    config = smoke.shrink(h36m_config.get_config())
    config.data.manual_dir = root
    config.data.subjects.update(labeled=['S1'], unlabeled=['S7'], test=['S9'])
    config.data.every_by_split.update(labeled=1, unlabeled=1, test=1)
    config.stage = 'build'
    counts = trainer.train_and_evaluate(config, os.path.join(tmp, 'run'))
    self.assertEqual(counts['test']['frames'], 4)                # S9 without damaged Greeting-2
    self.assertEqual(counts['unlabeled']['views'], 8 * 4 - 4)     # one camera missing in 4 frames
    config.stage = 'all'
    results = trainer.train_and_evaluate(config, os.path.join(tmp, 'run'))
    self.assertEqual(results['cameras'], list(h36m.CAMERA_IDS))
    self.assertEqual(set(results['models']), {'Base', 'L1-only', 'Ours',
                                              'Base (pre-training only)'})
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
    ctx = stages.Context(config, os.path.join(tmp, 'run'))
    self.assertEqual(len(ctx.split('test')['frame']), 1)          # every 64th of 6 frames
    self.assertEqual(ctx.geo.dist_model, 'opencv')
    # A recording next to Human3.6M: pinhole crops on both sides.
    config = smoke.shrink(recording_config.get_config('human36m'))
    self.assertTrue(config.data.undistort and config.unlabeled_data.undistort)
    with self.assertRaisesRegex(ValueError, r"dataset 'human36m': field manual_dir is empty"):
      stages.Context(config, os.path.join(tmp, 'run2')).split('labeled')
