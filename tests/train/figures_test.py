"""The evaluation's pictures: which frames the qualitative figure shows, the per-joint errors,
and that what it draws is each pose projected by the view's own camera."""

import os

import jax
import numpy as np
from absl.testing import absltest

from mvssl.geometry import camera as camlib
from mvssl.train import figures
from tests.fixtures import fakes


class FiguresTest(absltest.TestCase):

  def test_best_median_worst_by_the_mean_over_recorded_views(self):
    errors = np.array([[50., 70.], [10., np.nan], [np.nan, np.nan], [90., 110.], [30., 30.]])
    # frame means 60, 10, (none), 100, 30 -> sorted 1, 4, 0, 3: median is index 2 of 4 -> 0
    self.assertEqual(figures.chosen_frames(errors), [('best', 1), ('median', 0), ('worst', 3)])
    with self.assertRaisesRegex(ValueError, 'no test frame has a recorded view'):
      figures.chosen_frames(np.full((3, 2), np.nan))

  def test_per_joint_errors_count_recorded_views_only_and_are_root_aligned(self):
    rng = np.random.default_rng(0)
    gt = rng.normal(0, 300, (5, 17, 3))
    pred = np.repeat(gt[:, None], 3, axis=1) + np.array([5., -7., 11.])    # a shift: 0 after
    pred[:, :, 13] += np.array([0., 10., 0.])                             # root alignment
    seen = np.ones((5, 3), bool)
    seen[2, 1] = False
    pred[2, 1, 13] += 1000.0                                              # not recorded
    err = figures.per_joint_errors(pred, gt, seen)
    np.testing.assert_allclose(err[13], 10.0, rtol=1e-5)
    np.testing.assert_allclose(np.delete(err, 13), 0.0, atol=1e-3)
    self.assertEqual(figures.joint_names(17)[13], 'LWrist')
    self.assertEqual(figures.joint_names(3), ['j0', 'j1', 'j2'])

  def test_the_figure_draws_each_pose_through_the_views_own_camera(self):
    cams = fakes.rig(3, n=2, dist_model='opencv', size=64)
    poses = fakes.people(4, 3)                                            # [3, 17, 3] world mm
    stacked = camlib.stack(cams)
    d = dict(cams=jax.tree.map(lambda a: np.repeat(np.asarray(a)[None], 3, axis=0), stacked),
             pose_3d=poses, view_valid=np.array([[1, 1], [1, 0], [1, 1]], bool),
             images=np.zeros((3, 2, 64, 64, 3), np.uint8), subject=np.array(['S9'] * 3),
             sequence=np.array(['walk'] * 3), frame=np.arange(3))
    ours = np.repeat(poses[:, None], 2, axis=1) + 20.0
    row = figures._row(d, 1, {'Ours': ours}, 'median')
    for v, cam in enumerate(cams):
      np.testing.assert_allclose(row['gt_uv'][v], camlib.project(cam, poses[1]), atol=1e-3)
      rel = (poses[1] - poses[1][0]) @ np.asarray(cam.R).T
      np.testing.assert_allclose(row['gt_cam'][v], rel, atol=1e-3)
      np.testing.assert_allclose(row['cam']['Ours'][v], rel, atol=1e-3)  # root-aligned
    np.testing.assert_array_equal(row['seen'], [True, False])
    path = os.path.join(self.create_tempdir().full_path, 'q.png')
    errors = np.array([[5., 7.], [1., np.nan], [9., 9.]])
    chosen = figures.qualitative(path, d, {'Base': ours + 30.0, 'Ours': ours}, errors,
                                 reference='Ours', camera_names=['c0', 'c1'])
    self.assertEqual(chosen, [('best', 1), ('median', 0), ('worst', 2)])
    self.assertGreater(os.path.getsize(path), 10_000)


if __name__ == '__main__':
  absltest.main()
