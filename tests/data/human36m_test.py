"""Human3.6M: both on-disk layouts build and read back exactly; the real frames with their
official cameras; joint orders; clear errors; an interrupted build never passes for complete."""

import json
import os
import pickle
import shutil
import tempfile

import chex
import cv2
import numpy as np

from mvssl.data import builder
from mvssl.data import h36m
from mvssl.data import human36m
from mvssl.geometry import camera as camlib
from tests.conftest import shared_path
from tests.fixtures import fakes
from tests.fixtures.checks import check_split

SIZE = 64
SPLITS = dict(labeled=['S1'], unlabeled=['S7'], test=['S9'])


def _lt(root, **kw):
  kw.setdefault('every', dict(test=2))
  return human36m.LearnableTriangulation(root, subjects=SPLITS, **kw)


def _mmpose(root, **kw):
  kw.setdefault('every', dict(test=2))
  return human36m.MMPose(root, subjects=SPLITS, **kw)


def _build(adapter, data_dir, undistort=False, box_scale=1.0):
  return builder.build(adapter, data_dir, image_size=SIZE, box_scale=box_scale,
                       undistort=undistort, num_workers=2)


class JointOrderTest(chex.TestCase):

  def test_lt_and_h36m17_orders_are_inverse_and_agree_by_name(self):
    self.assertEqual(tuple(h36m.LT_JOINT_NAMES[i] for i in h36m.LT_TO_H36M17), h36m.JOINT_NAMES)
    x = np.random.default_rng(0).normal(size=(5, 17, 3))
    np.testing.assert_array_equal(h36m.from_lt_order(h36m.to_lt_order(x)), x)
    np.testing.assert_array_equal(h36m.to_lt_order(h36m.from_lt_order(x)), x)
    # Both orders are subsets of the original 32-joint skeleton, joint for joint.
    self.assertEqual(tuple(h36m.H36M32_OF_LT[i] for i in h36m.LT_TO_H36M17),
                     h36m.H36M32_OF_H36M17)

  def test_lt_order_on_real_motion(self):
    """Real H36M-17 motion in LT order: LT's pelvis, head and feet are where LT says."""
    motion = h36m.load_motion(shared_path('h36m_motion', 'h36m_real_motion_17j_10hz.npz'),
                              subjects=('S1',))
    p = np.concatenate(list(motion.values()))
    lt = h36m.to_lt_order(p)
    np.testing.assert_array_equal(lt[:, 6], p[:, 0])                 # LT 6 = Pelvis
    top = np.argmax(lt[..., 2], axis=1)                              # highest joint (z up)
    self.assertGreater(np.mean(np.isin(top, [9, 10, 15])), 0.95)     # Head, or a raised wrist
    self.assertGreater(np.mean(top == 9), 0.8)
    low = np.argmin(lt[..., 2], axis=1)
    self.assertGreater(np.mean(np.isin(low, [0, 5])), 0.9)   # RFoot / LFoot (not when lying)


class LearnableTriangulationTest(chex.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp(prefix='mvssl_h36m_')
    cls.truth = fakes.h36m_truth()
    fakes.write_h36m_lt(os.path.join(cls.tmp, 'lt'), truth=cls.truth)
    fakes.write_h36m_mmpose(os.path.join(cls.tmp, 'mm'), truth=cls.truth)
    cls.lt = _build(_lt(os.path.join(cls.tmp, 'lt')), os.path.join(cls.tmp, 'data'))

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.tmp, ignore_errors=True)
    super().tearDownClass()

  def test_build_reads_back_exact_labels_cameras_and_pixels(self):
    cams, truth, missing = self.truth
    self.assertEqual(self.lt.dist_model, 'h36m')
    self.assertEqual(self.lt.camera_names, list(h36m.CAMERA_IDS))
    for split in ('labeled', 'unlabeled', 'test'):
      d = self.lt.load_split(split)
      expected = sorted(k for k in truth if k[0] in SPLITS[split])
      if split == 'test':   # S9 Greeting-2 is damaged; every 2nd frame
        expected = [k for k in expected if k[1] != 'Greeting-2'][::2]
      self.assertEqual(list(zip(d['subject'], d['sequence'], d['frame'].tolist())), expected)
      self.assertTrue(np.all(d['has_pose_3d']))
      check_split(self, d, cams, truth, missing, undistort=False)
    self.assertFalse(np.all(self.lt.load_split('unlabeled')['view_valid']))

  def test_damaged_sequences_on_request_and_undistorted_crops(self):
    cams, truth, missing = self.truth
    b = _build(_lt(os.path.join(self.tmp, 'lt'), with_damaged=True, every={}),
               os.path.join(self.tmp, 'data'), undistort=True, box_scale=1.2)
    d = b.load_split('test')
    self.assertIn('Greeting-2', set(d['sequence']))
    self.assertLen(d['frame'], 8)
    check_split(self, d, cams, truth, missing, undistort=True)

  def test_mmpose_layout_gives_the_same_dataset(self):
    mm = _build(_mmpose(os.path.join(self.tmp, 'mm')), os.path.join(self.tmp, 'data_mm'))
    self.assertNotEqual(mm.builder_config.name, self.lt.builder_config.name)
    for split in ('labeled', 'unlabeled', 'test'):
      a, b = self.lt.load_split(split), mm.load_split(split)
      for k in ('subject', 'sequence', 'frame', 'view_valid'):
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
      np.testing.assert_allclose(a['pose_3d'], b['pose_3d'], atol=2e-3)
      for f in ('K', 'R', 't', 'dist'):
        np.testing.assert_allclose(getattr(a['cams'], f), getattr(b['cams'], f), rtol=1e-5,
                                   atol=2e-3, err_msg=f)
      n = len(a['frame'])
      diff = np.abs(a['images'][np.arange(n)].astype(int) - b['images'][np.arange(n)])
      self.assertLess(diff.mean(), 2.0)

  def test_bad_input_is_named(self):
    lt = os.path.join(self.tmp, 'lt')
    with self.assertRaisesRegex(FileNotFoundError, r'nowhere/extra/human36m-multiview.*labels '
                                                   r'file not found(.|\n)*manual dir'):
      _lt(os.path.join(self.tmp, 'nowhere'))
    with self.assertRaisesRegex(ValueError, r"unknown subject 'S2' in split 'test'"):
      human36m.LearnableTriangulation(lt, subjects=dict(test=['S2']), every={})
    # NaN label: the error names the labels file, the table row and the field.
    bad = os.path.join(self.tmp, 'lt_nan')
    shutil.copytree(lt, bad)
    path = os.path.join(bad, 'extra', 'human36m-multiview-labels-GTbboxes.npy')
    labels = np.load(path, allow_pickle=True).item()
    labels['table']['keypoints'][2, 5, 1] = np.nan
    np.save(path, labels)
    with self.assertRaisesRegex(ValueError, r"table\[2\].*field 'pose_3d' has non-finite"):
      _build(_lt(bad), os.path.join(self.tmp, 'data_nan'))
    # MMPose: a camera that does not match its labels, and NaN labels.
    mm = os.path.join(self.tmp, 'mm_bad')
    shutil.copytree(os.path.join(self.tmp, 'mm'), mm)
    cam_path = os.path.join(mm, 'annotation_body3d', 'cameras.pkl')
    cams = pickle.load(open(cam_path, 'rb'))
    cams['S1', '55011271']['T'] = cams['S1', '55011271']['T'] + 0.05
    pickle.dump(cams, open(cam_path, 'wb'))
    with self.assertRaisesRegex(ValueError, r'camera S1/55011271 of .*cameras.pkl does not match'):
      list(_mmpose(mm).frames('labeled'))
    npz = os.path.join(mm, 'annotation_body3d', 'fps50', 'h36m_test.npz')
    z = dict(np.load(npz))
    z['S'][1, 3, 0] = np.nan
    np.savez(npz, **z)
    with self.assertRaisesRegex(ValueError, r'h36m_test.npz: row 1 .* field S has non-finite'):
      _mmpose(mm)

  def test_interrupted_build_is_never_used(self):
    root = os.path.join(self.tmp, 'lt_missing')
    shutil.copytree(os.path.join(self.tmp, 'lt'), root)
    img = os.path.join(root, 'processed', 'S7', 'Greeting-2', 'imageSequence', '58860488',
                       'img_000011.jpg')
    os.rename(img, img + '.away')
    data_dir = os.path.join(self.tmp, 'data_missing')
    with self.assertRaisesRegex(FileNotFoundError, r'S7/Greeting-2/imageSequence/58860488/'
                                                   r'img_000011.jpg: image missing'):
      _build(_lt(root), data_dir)
    b = builder.CalibratedMultiview(adapter=_lt(root), image_size=SIZE, box_scale=1.0,
                                    undistort=False, data_dir=data_dir,
                                    file_format='array_record')
    self.assertFalse(b.is_prepared())
    os.rename(img + '.away', img)
    b = _build(_lt(root), data_dir)
    self.assertTrue(b.is_prepared())
    self.assertLen(b.load_split('unlabeled')['frame'], 8)


class RealFramesTest(chex.TestCase):
  """The real Human3.6M frames of the MMPose fixtures, read with their official cameras."""

  def test_labels_project_onto_2d_labels(self):
    root = shared_path('mmpose_fixtures', 'h36m')
    adapter = human36m.MMPose(root, subjects=dict(labeled=['S1', 'S5'], unlabeled=['S7', 'S8']),
                              every={}, annotations=('test_h36m_body3d.npz',),
                              cameras_file='cameras.pkl', image_root='.')
    tmp = self.create_tempdir().full_path
    b = builder.build(adapter, tmp, image_size=256, box_scale=1.0, undistort=False,
                      num_workers=2)
    ann = np.load(os.path.join(root, 'test_h36m_body3d.npz'))
    coco = json.load(open(os.path.join(root, 'h36m_coco.json')))
    world = {im['file_name']: np.reshape(a['keypoints_3d'], (17, 4))[:, :3] * 1000.0
             for im, a in zip(coco['images'], coco['annotations'])}
    seen = 0
    for split in ('labeled', 'unlabeled'):
      d = b.load_split(split)
      for i in range(len(d['frame'])):
        v = int(np.nonzero(d['view_valid'][i])[0][0])
        self.assertEqual(int(d['view_valid'][i].sum()), 1)      # one real view per frame
        cid = b.camera_names[v]
        name = (f'{d["subject"][i]}/{d["subject"][i]}_{d["sequence"][i].replace("-", "_")}.{cid}/'
                f'{d["subject"][i]}_{d["sequence"][i].replace("-", "_")}.{cid}_'
                f'{int(d["frame"][i]) + 1:06d}.jpg')
        row = list(ann['imgname']).index(name)
        # World pose = the fixture's world 3D (h36m_coco.json), to the micrometre.
        np.testing.assert_allclose(d['pose_3d'][i], world[os.path.basename(name)], atol=0.01)
        crop = camlib.Camera(K=np.float64(d['cams'].K[i, v]), R=np.float64(d['cams'].R[i, v]),
                             t=np.float64(d['cams'].t[i, v]),
                             dist=np.float64(d['cams'].dist[i, v]), dist_model='h36m')
        uv = np.asarray(camlib.project(crop, np.float64(d['pose_3d'][i])))
        box = d['box'][i, v]
        part = (ann['part'][row, :, :2] - box[:2]) * 256 / box[2]
        self.assertLess(float(np.abs(uv - part).max()), 0.5)
        # Official camera on the full image: 3D labels onto 2D labels.
        full = human36m.load_mmpose_cameras(os.path.join(root, 'cameras.pkl'))[
            d['subject'][i], cid]
        uv_full = np.asarray(camlib.project(full, np.float64(d['pose_3d'][i])))
        self.assertLess(float(np.abs(uv_full - ann['part'][row, :, :2]).max()), 0.01)
        # The crop holds the real frame's pixels at that box.
        img = cv2.imread(os.path.join(root, name))[..., ::-1]
        x0, y0, side = box[0], box[1], box[2]
        ref = cv2.resize(img[max(0, int(y0)):int(y0 + side), max(0, int(x0)):int(x0 + side)],
                         (256, 256), interpolation=cv2.INTER_AREA)
        got = d['images'][i][v]
        if x0 >= 0 and y0 >= 0 and x0 + side <= img.shape[1] and y0 + side <= img.shape[0]:
          self.assertLess(np.abs(got.astype(int) - ref).mean(), 12.0)
        seen += 1
    self.assertEqual(seen, 4)
