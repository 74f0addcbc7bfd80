"""mvssl.predict's person box without typing it: from one image's OpenPose file; and the share
of predicted joints inside a hand-typed box that its warning reads."""

import json
import os

import chex
import numpy as np

from mvssl import predict
from mvssl.data import detections


def _openpose_file(path, people):
  """people: list of [17, 2] px joints -> an OpenPose COCO-18 JSON file listing them."""
  entries = []
  for uv, score in people:
    kp = np.zeros((18, 3))
    for h, src in enumerate(detections.COCO18_TO_H36M17):
      if len(src) == 1:
        kp[src[0]] = [*uv[h], score]
    entries.append(dict(pose_keypoints_2d=kp.ravel().tolist()))
  with open(path, 'w') as f:
    json.dump(dict(version=1.3, people=entries), f)


class PredictBoxTest(chex.TestCase):

  def test_the_box_comes_from_the_best_scored_person_of_the_file(self):
    rng = np.random.default_rng(0)
    subject = rng.uniform([400, 200], [600, 700], (17, 2))
    other = subject + [300.0, 0.0]
    path = os.path.join(self.create_tempdir().full_path, 'img_keypoints.json')
    _openpose_file(path, [(other, 0.4), (subject, 0.9)])
    box = detections.person_box(f'openpose:{path}')
    single = [h for h, s in enumerate(detections.COCO18_TO_H36M17) if len(s) == 1]
    uv = subject[single]
    side = np.max(uv.max(0) - uv.min(0))
    np.testing.assert_allclose(box[2:], [side, side], rtol=1e-9)
    np.testing.assert_allclose(box[:2] + side / 2, (uv.min(0) + uv.max(0)) / 2, rtol=1e-9)
    self.assertEqual(predict.joints_in_box(subject[single], box), 1.0)
    first = detections.person_box(f'openpose:{path}', person=0)
    self.assertAlmostEqual(first[0] - box[0], 300.0, places=6)
    with self.assertRaisesRegex(ValueError, r'lists 2 people, --person=5 is not one'):
      detections.person_box(f'openpose:{path}', person=5)
    _openpose_file(path, [])
    with self.assertRaisesRegex(ValueError, r'img_keypoints.json: no person detected'):
      detections.person_box(f'openpose:{path}')
    with self.assertRaisesRegex(FileNotFoundError, r'nope.json: detections file not found'):
      detections.person_box('openpose:nope.json')
    with self.assertRaisesRegex(ValueError, r'must be openpose:FILE.json'):
      detections.person_box(f'npz:{path}:x')

  def test_joints_in_box(self):
    uv = np.array([[10.0, 10.0], [50.0, 50.0], [200.0, 10.0], [10.0, -5.0]])
    self.assertEqual(predict.joints_in_box(uv, (0, 0, 100, 100)), 0.5)
    self.assertEqual(predict.joints_in_box(uv, (300, 300, 10, 10)), 0.0)
