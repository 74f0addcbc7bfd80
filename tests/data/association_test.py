"""Person association across views: the subject among bystanders, a view holding only a
bystander left out, BODY_25B detections read and refused as BODY_25."""

import json
import os

import chex
import numpy as np

from mvssl.data import association
from mvssl.data import detections
from mvssl.data import poses as poses_lib
from mvssl.geometry import camera as camlib
from tests.fixtures import fakes


def _scene(seed=0):
  """4 cameras, one subject and, in each view, two bystanders of its own (people standing 1-2 m
  beside the subject whom no other camera sees, as at the edge of a frame): per view three
  people with scores, in a shuffled order. Only the subject is seen by every view.

  Returns:
    (cams, people [1, V, 3, J, 3], order [V, 3] (0 = the subject, else a bystander), subject
    pose [J, 3]).
  """
  rng = np.random.default_rng(seed)
  cams = fakes.rig(seed, 4)
  poses = poses_lib.procedural_poses(9, rng)
  subject = poses[0]
  order = np.stack([rng.permutation(3) for _ in cams])
  people = np.zeros((1, 4, 3, 17, 3))
  for v, cam in enumerate(cams):
    for slot, who in enumerate(order[v]):
      pose = subject if who == 0 else poses[1 + 2 * v + who - 1] + np.append(
          rng.uniform(-2000, 2000, 2), 0.0)
      uv = np.asarray(camlib.project(cam, pose)) + rng.normal(size=(17, 2))
      people[0, v, slot] = np.concatenate([uv, rng.uniform(0.6, 0.9, (17, 1))], -1)
  return camlib.stack(cams), people, order, subject


class AssociationTest(chex.TestCase):

  def test_picks_the_subject_among_three_people_in_every_view(self):
    for seed in range(4):
      cams, people, order, _ = _scene(seed)
      out = association.associate(cams, people)
      subject = [int(np.nonzero(order[v] == 0)[0][0]) for v in range(4)]
      self.assertEqual(out['choice'][0].tolist(), subject, seed)
      self.assertLess(float(out['error'][0]), 5.0)
      np.testing.assert_array_equal(out['detections'][:, 0],
                                    people[0, np.arange(4), subject])

  def test_a_view_with_only_a_bystander_is_left_out(self):
    cams, people, order, _ = _scene(1)
    people[0, 2] = np.where((order[2] == 1)[:, None, None], people[0, 2], 0.0)  # view 2: only a
    out = association.associate(cams, people)                                   # bystander
    self.assertEqual(out['choice'][0, 2], -1)
    self.assertEqual([order[v][out['choice'][0, v]] for v in (0, 1, 3)], [0, 0, 0])
    np.testing.assert_array_equal(out['detections'][2, 0], 0.0)   # as if no one was detected

  def test_body25b_is_read_and_body25_reading_of_it_is_refused(self):
    cams, people, order, _ = _scene(2)
    root = self.create_tempdir().full_path
    inv = {h: s for h, src in enumerate(detections.BODY25B_TO_H36M17) for s in src
           if len(src) == 1}
    for v, name in enumerate(('ca', 'cb', 'cc', 'cd')):
      entries = []
      for slot in range(3):
        kp = np.zeros((25, 3))
        for h, src in inv.items():
          kp[src] = people[0, v, slot, h]
        kp[17] = people[0, v, slot, 8]                        # neck = thorax
        kp[18] = people[0, v, slot, 10]                       # head top
        entries.append(dict(pose_keypoints_2d=kp.ravel().tolist()))
      os.makedirs(os.path.join(root, name), exist_ok=True)
      with open(os.path.join(root, name, '000000.json'), 'w') as f:
        json.dump(dict(version=1.3, people=entries), f)
    names = ['ca', 'cb', 'cc', 'cd']
    det = detections.load_detections(root, 'openpose-body25b:{camera}/{frame}.json', names, [0],
                                     cams=cams)
    chosen = association.associate(cams, people)['choice'][0]
    for v in range(4):
      want = people[0, v, chosen[v]]
      ok = [j for j in range(17) if j not in (0, 7)]           # mapped 1:1 (pelvis, spine: means)
      np.testing.assert_allclose(det[v, 0][ok, :2], want[ok, :2], atol=1e-6)
    with self.assertRaisesRegex(ValueError, r'ca/000000.json: joint 8 is not between joints 9 '
                                            r'and 12.*openpose-body25b'):
      detections.load_detections(root, 'openpose:{camera}/{frame}.json', names, [0])
