"""The capsule renderer paints the body where the crop camera projects the joints."""

import chex
import numpy as np

from mvssl.data import poses as poses_lib
from mvssl.data import render
from mvssl.geometry import camera as camlib


class RenderTest(chex.TestCase):

  def test_render_labels_fall_on_the_body(self):
    """The projected joints land on painted body pixels, not on the background."""
    rng = np.random.default_rng(2)
    cam = poses_lib.procedural_rig(rng)[0]
    pose = poses_lib.procedural_poses(1, rng)[0]
    img, crop, _ = render.render_view(pose, cam, 128, np.random.default_rng(3))
    bg = render.background(np.random.default_rng(3), 128)
    uv = np.asarray(camlib.project(crop, pose))
    self.assertTrue(np.all((uv >= 0) & (uv < 128)))
    px = np.round(uv).astype(int)
    changed = np.any(img[px[:, 1], px[:, 0]] != bg[px[:, 1], px[:, 0]], axis=-1)
    self.assertGreaterEqual(changed.mean(), 0.9)
