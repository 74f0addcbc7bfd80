"""Multi-person scenes (mvssl.data.crowd): placement on the ground plane, exact crop cameras and
boxes, the painter's order across people, and the split's fields."""

import chex
import jax
import numpy as np

from configs import smoke
from mvssl.data import crowd
from mvssl.data import poses as poses_lib
from mvssl.data import render
from mvssl.geometry import camera as camlib
from mvssl.train.context import Context


class PlacementTest(chex.TestCase):

  def test_neighbours_stand_on_the_ground_plane_at_the_spacing(self):
    rng = np.random.default_rng(0)
    poses = poses_lib.procedural_poses(3, rng)
    up = np.array([0.0, 0.0, 1.0])
    out = crowd.place(poses, np.random.default_rng(1), (900.0, 1500.0), up)
    np.testing.assert_array_equal(out[0], poses[0])
    for k in (1, 2):
      offset = out[k, 0] - out[0, 0]
      self.assertAlmostEqual(float(offset @ up), 0.0, places=6)          # same root height
      self.assertTrue(900.0 - 1e-6 <= np.linalg.norm(offset) <= 1500.0 + 1e-6)
      # moved rigidly: the root-relative pose is unchanged
      np.testing.assert_allclose(out[k] - out[k, :1], poses[k] - poses[k, :1], atol=1e-9)

  def test_up_direction_of_standing_poses(self):
    poses = poses_lib.procedural_poses(20, np.random.default_rng(3))     # world z up
    self.assertGreater(crowd.up_direction(poses)[2], 0.95)

  def test_a_box_in_a_crop_maps_back_to_the_full_image_exactly(self):
    cam = poses_lib.procedural_rig(np.random.default_rng(4))[0]
    outer = np.array([300.0, 120.0, 400.0, 400.0])
    inner = np.array([10.0, -5.0, 30.0, 30.0])                         # px of the 64-px crop
    twice = camlib.crop_and_resize(camlib.crop_and_resize(cam, outer, (64, 64)), inner, (64, 64))
    once = camlib.crop_and_resize(cam, crowd._crop_box_to_image(outer, inner, 64), (64, 64))
    np.testing.assert_allclose(np.asarray(twice.K), np.asarray(once.K), rtol=1e-5, atol=1e-3)

  def test_bad_settings_are_named(self):
    with self.assertRaisesRegex(ValueError, 'config.crowd.people'):
      crowd.check(1, (900, 1500), 1, 'rendered')
    with self.assertRaisesRegex(ValueError, 'config.crowd.spacing_mm'):
      crowd.check(2, (1500, 900), 1, 'rendered')
    with self.assertRaisesRegex(ValueError, 'config.crowd.every'):
      crowd.check(2, (900, 1500), 0, 'rendered')
    with self.assertRaisesRegex(ValueError, 'config.data.dataset=rendered'):
      crowd.check(2, (900, 1500), 1, 'human36m')
    crowd.check(0, (900, 1500), 1, 'human36m')                         # off: anything goes


class PaintTest(chex.TestCase):

  def test_the_nearer_person_occludes_whatever_the_order(self):
    rng = np.random.default_rng(5)
    cam = poses_lib.procedural_rig(rng)[0]
    near = poses_lib.procedural_poses(1, rng)[0]
    centre = -np.asarray(cam.R).T @ np.asarray(cam.t)                  # camera centre, world
    far = near + 0.6 * (near[0] - centre)                              # behind, on the same ray
    uv, _ = render.project_np(cam, near)
    crop = camlib.crop_and_resize(cam, render.square_box(uv, 1.3), (96, 96))
    bg = render.background(np.random.default_rng(6), 96)
    a = render.paint_people(bg.copy(), crop, [near, far])
    b = render.paint_people(bg.copy(), crop, [far, near])
    alone = render.paint_people(bg.copy(), crop, [near])
    np.testing.assert_array_equal(a, b)
    px = np.round(render.project_np(crop, near)[0]).astype(int)
    inside = np.all((px >= 0) & (px < 96), axis=1)
    np.testing.assert_array_equal(a[px[inside, 1], px[inside, 0]],
                                  alone[px[inside, 1], px[inside, 0]])   # the near body on top
    self.assertTrue(np.any(a != alone))                                   # the far one shows too


class CrowdSplitTest(chex.TestCase):

  def test_every_person_is_cropped_from_its_own_box(self):
    tmp = self.create_tempdir().full_path
    d = Context(smoke.get_config(), tmp).split('test')                  # 4 frames, 4 views
    out = crowd.crowd_split(d, people=3, every=2, seed=0)
    m = 2 * 3
    self.assertEqual(out['images'].shape, (m,) + d['images'].shape[1:])
    self.assertEqual(out['pose_3d'].shape, (m, 17, 3))
    np.testing.assert_array_equal(out['person'], [0, 1, 2, 0, 1, 2])
    np.testing.assert_array_equal(out['scene'], [0, 0, 0, 2, 2, 2])
    # person 0 of a scene is the frame itself, where it stands
    np.testing.assert_allclose(out['pose_3d'][0], d['pose_3d'][0], atol=1e-3)
    np.testing.assert_array_equal(out['subject'][[0, 3]], d['subject'][[0, 2]])
    size = d['images'].shape[2]
    px = np.asarray(jax.vmap(camlib.project_to_views)(out['cams'], out['pose_3d']))
    ok = out['view_valid']
    self.assertTrue(np.all(ok))
    self.assertTrue(np.all((px[ok] >= 0) & (px[ok] <= size - 1)))     # a GT box holds its person
    # the crop's box is the person's square box (scale 1.3) around its projected joints
    extent = (px.max(-2) - px.min(-2)).max(-1)                         # crop px
    np.testing.assert_allclose(extent, size / 1.3, rtol=1e-3)
    self.assertTrue(np.all(out['people_in_crop'] >= 1))
    self.assertGreater(float(out['images'].std()), 10.0)
