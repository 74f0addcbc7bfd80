"""The rendered TFDS dataset written and read back: exact labels, RGB, atomic and process-0
builds, the real-motion source."""

import os
from unittest import mock

import chex
import jax
import numpy as np

from configs import smoke
from mvssl.data import h36m
from mvssl.data import multiview
from mvssl.geometry import camera as camlib
from tests.conftest import shared_path

SIZE = smoke.get_config().model.image_size


class DatasetTest(chex.TestCase):

  def test_build_and_read_back_exact_labels(self):
    tmp = self.create_tempdir().full_path
    cfg = smoke.get_config().data
    builder = multiview.build(cfg, tmp, image_size=SIZE)
    self.assertTrue(builder.is_prepared())
    d = builder.load_split('labeled')
    self.assertEqual(d['images'].shape, (12, 4, 32, 32, 3))
    self.assertEqual(sorted(set(d['subject'])), ['S1', 'S5', 'S6'])
    # Labels are the generator's poses, cameras are the rig's after crop + resize.
    src = builder._sources('labeled')
    poses, cams, _ = src['S1']
    rows = d['subject'] == 'S1'
    np.testing.assert_allclose(np.sort(d['pose_3d'][rows].ravel()), np.sort(poses.ravel()),
                               atol=1e-3)
    np.testing.assert_allclose(d['cams'].R[rows][0], np.stack([c.R for c in cams]), atol=1e-6)
    uv = jax.vmap(lambda c, p: camlib.project_to_views(c, p))(
        jax.tree.map(np.asarray, d['cams']), d['pose_3d'])
    self.assertTrue(bool(np.all((uv > -1) & (uv < 33))))
    # Images are RGB: the left wrist (blue limbs) is bluer than red, the right (orange) redder.
    px = np.round(uv).clip(0, 31).astype(int)                         # [N, V, J, 2]
    n, v = np.meshgrid(np.arange(12), np.arange(4), indexing='ij')
    def at(j):
      return d['images'][n, v, px[..., j, 1], px[..., j, 0]].astype(int)   # [N, V, 3]
    self.assertGreater(np.mean(at(12)[..., 2] > at(12)[..., 0]), 0.6)   # left elbow
    self.assertGreater(np.mean(at(15)[..., 0] > at(15)[..., 2]), 0.6)   # right elbow
    # A second build reuses the finished one.
    again = multiview.build(cfg, tmp, image_size=SIZE)
    self.assertEqual(again.data_dir, builder.data_dir)

  def test_interrupted_build_is_not_complete(self):
    tmp = self.create_tempdir().full_path
    cfg = smoke.get_config().data
    builder = multiview.MultiviewPose(data_config=cfg, image_size=SIZE, data_dir=tmp,
                                      file_format='array_record')
    original = builder._generate_examples

    def broken(split):
      for i, ex in enumerate(original(split)):
        if i == 3:
          raise KeyboardInterrupt('simulated crash')
        yield ex
    builder._generate_examples = broken
    with self.assertRaises(KeyboardInterrupt):
      builder.download_and_prepare()
    fresh = multiview.MultiviewPose(data_config=cfg, image_size=SIZE, data_dir=tmp,
                                    file_format='array_record')
    self.assertFalse(fresh.is_prepared())
    self.assertFalse(os.path.exists(fresh.data_dir))

  def test_only_process_zero_builds(self):
    tmp = self.create_tempdir().full_path
    cfg = smoke.get_config().data

    def as_process_1():
      return (mock.patch('jax.process_index', return_value=1),
              mock.patch('jax.process_count', return_value=2),
              mock.patch('jax.experimental.multihost_utils.sync_global_devices'))
    p1, p2, p3 = as_process_1()
    with p1, p2, p3 as sync:
      with self.assertRaisesRegex(FileNotFoundError, 'process 0 built the dataset but process 1'):
        # nobody built it: process 1 must not either
        multiview.build(cfg, tmp, image_size=SIZE)
      sync.assert_called_once()
    self.assertFalse(os.path.exists(os.path.join(tmp, 'multiview_pose')))
    multiview.build(cfg, tmp, image_size=SIZE)                  # process 0
    p1, p2, p3 = as_process_1()
    with p1, p2, p3:
      self.assertTrue(multiview.build(cfg, tmp, image_size=SIZE).is_prepared())

  def test_h36m_motion_source_uses_official_cameras(self):
    cfg = smoke.get_config().data
    cfg.source = 'h36m_motion'
    cfg.motion_path = shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz')
    cfg.cameras_path = shared_path('h36m_motion', 'h36m_cameras.json')
    tmp = self.create_tempdir().full_path
    d = multiview.build(cfg, tmp, image_size=SIZE).load_split('test')
    self.assertEqual(sorted(set(d['subject'])), ['S11', 'S9'])
    official = h36m.load_cameras(cfg.cameras_path)['S9']
    row = np.where(d['subject'] == 'S9')[0][0]
    np.testing.assert_allclose(d['cams'].R[row], np.stack([c.R for _, c in official]), atol=1e-6)
    np.testing.assert_allclose(d['cams'].dist[row], np.stack([c.dist for _, c in official]),
                               atol=1e-7)
    motion = h36m.load_motion(cfg.motion_path, subjects=('S9',))
    seq, frame = d['sequence'][row], d['frame'][row]
    np.testing.assert_allclose(d['pose_3d'][row], motion[seq][frame], atol=1e-3)

  def test_unknown_subject_is_a_clear_error(self):
    cfg = smoke.get_config().data
    cfg.source = 'h36m_motion'
    cfg.motion_path = shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz')
    cfg.cameras_path = shared_path('h36m_motion', 'h36m_cameras.json')
    cfg.subjects.test = ['S99']
    with self.assertRaisesRegex(KeyError, r'h36m_cameras.json: no cameras for subject .S99.'):
      multiview.build(cfg, self.create_tempdir().full_path, image_size=SIZE)
