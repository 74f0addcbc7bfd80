"""MPI-INF-3DHP: the official layout (annot.mat, camera.calibration, .avi) and MMPose's layout
build and read back exactly; the real frames with their official cameras; clear errors."""

import os
import shutil
import tempfile

import chex
import numpy as np
import scipy.io

from mvssl.data import builder
from mvssl.data import mpi_inf_3dhp
from mvssl.data import video
from mvssl.geometry import camera as camlib
from tests.conftest import shared_path
from tests.fixtures import fakes
from tests.fixtures.checks import check_split

SPLITS = dict(labeled=['S1'], unlabeled=['S4'], test=['S8'])


def _adapter(root, **kw):
  kw.setdefault('every', dict(test=2))
  return mpi_inf_3dhp.MpiInf3dhp(root, subjects=SPLITS, sequences=('Seq1',), **kw)


class OfficialLayoutTest(chex.TestCase):

  @classmethod
  def setUpClass(cls):
    super().setUpClass()
    cls.tmp = tempfile.mkdtemp(prefix='mvssl_3dhp_')
    cls.root = os.path.join(cls.tmp, 'mpi')
    cls.truth = fakes.write_3dhp(cls.root)

  @classmethod
  def tearDownClass(cls):
    shutil.rmtree(cls.tmp, ignore_errors=True)
    super().tearDownClass()

  def _check(self, b, every_test=2):
    for split, subs in SPLITS.items():
      d = b.load_split(split)
      cams, poses = self.truth[subs[0], 'Seq1']
      step = every_test if split == 'test' else 1
      frames = list(range(0, fakes.TDHP_FRAMES, step))
      self.assertEqual(d['frame'].tolist(), frames)
      self.assertEqual(set(d['subject']), set(subs))
      truth = {(subs[0], 'Seq1', f): poses[f] for f in frames}
      full = {subs[0]: [cams[c] for c in (0, 2, 7, 8)]}
      check_split(self, d, full, truth, {}, undistort=False)

  def test_video_frames_build_with_exact_labels(self):
    b = builder.build(_adapter(self.root), os.path.join(self.tmp, 'data'), image_size=64,
                      box_scale=1.3, undistort=False, num_workers=2)
    self.assertEqual(b.camera_names, ['cam0', 'cam2', 'cam7', 'cam8'])
    self.assertEqual(b.dist_model, 'opencv')
    self._check(b)

  def test_extracted_jpegs_give_the_same_labels(self):
    root = os.path.join(self.tmp, 'mpi_jpeg')
    shutil.copytree(self.root, root)
    for s, seq in self.truth:
      for c in (0, 2, 7, 8):
        r = video.VideoReader(os.path.join(root, s, seq, 'imageSequence', f'video_{c}.avi'))
        for n in range(fakes.TDHP_FRAMES):
          fakes.imwrite(os.path.join(root, s, seq, 'imageFrames', f'video_{c}',
                                     f'frame_{n + 1:06d}.jpg'), r.read(n))
        r.close()
        os.remove(os.path.join(root, s, seq, 'imageSequence', f'video_{c}.avi'))
    b = builder.build(_adapter(root, frames_from='jpeg'), os.path.join(self.tmp, 'data_jpeg'),
                      image_size=64, box_scale=1.3, undistort=False, num_workers=2)
    self._check(b)

  def test_joint_mapping_picks_the_h36m_subset(self):
    ann = mpi_inf_3dhp.load_annot(os.path.join(self.root, 'S1', 'Seq1', 'annot.mat'))
    self.assertEqual(ann['annot3'].shape, (14, fakes.TDHP_FRAMES, 28, 3))
    names = [mpi_inf_3dhp.JOINTS_28[i] for i in mpi_inf_3dhp.MPI28_TO_H36M17]
    self.assertEqual(names[:7], ['pelvis', 'right_hip', 'right_knee', 'right_ankle', 'left_hip',
                                 'left_knee', 'left_ankle'])
    self.assertEqual(names[10:], ['head_top', 'left_shoulder', 'left_elbow', 'left_wrist',
                                  'right_shoulder', 'right_elbow', 'right_wrist'])

  def test_bad_input_is_named(self):
    with self.assertRaisesRegex(FileNotFoundError, r"unknown subject 'S9' in split 'test'"):
      mpi_inf_3dhp.MpiInf3dhp(self.root, subjects=dict(test=['S9']), every={})
    # A camera whose calibration does not match the labels.
    bad = os.path.join(self.tmp, 'mpi_badcam')
    shutil.copytree(self.root, bad)
    path = os.path.join(bad, 'S4', 'Seq1', 'camera.calibration')
    lines = open(path).read().splitlines()
    i = lines.index('name          7') + 5                         # its extrinsic line
    vals = lines[i].split()
    vals[4] = str(float(vals[4]) + 80.0)                          # t_x + 8 cm
    lines[i] = ' '.join(vals)
    open(path, 'w').write('\n'.join(lines) + '\n')
    with self.assertRaisesRegex(ValueError, r'S4/Seq1/camera.calibration: camera 7 does not '
                                            r'match .*annot.mat'):
      list(_adapter(bad).frames('unlabeled'))
    # NaN labels.
    mat = os.path.join(bad, 'S1', 'Seq1', 'annot.mat')
    m = scipy.io.loadmat(mat)
    m['annot3'][2, 0][1, 3 * 4] = np.nan                       # joint 4 = pelvis
    scipy.io.savemat(mat, {k: m[k] for k in ('annot2', 'annot3', 'univ_annot3', 'cameras',
                                             'frames')})
    with self.assertRaisesRegex(ValueError, r"S1/Seq1/annot.mat frame 1: field 'annot3' of "
                                            r"camera 2 has non-finite"):
      list(_adapter(bad).frames('labeled'))
    # Missing files.
    os.remove(os.path.join(bad, 'S8', 'Seq1', 'imageSequence', 'video_8.avi'))
    with self.assertRaisesRegex(FileNotFoundError, r'S8/Seq1/imageSequence/video_8.avi: video '
                                                   r'not found'):
      list(_adapter(bad).frames('test'))
    os.remove(os.path.join(bad, 'S8', 'Seq1', 'camera.calibration'))
    with self.assertRaisesRegex(FileNotFoundError, r'S8/Seq1/camera.calibration: '
                                                   r'camera.calibration not found'):
      list(_adapter(bad).frames('test'))


class RealFramesTest(chex.TestCase):
  """The real 3DHP frames of the MMPose fixtures, read with their official cameras."""

  def test_labels_project_onto_2d_labels(self):
    root = shared_path('mmpose_fixtures', 'mpi_inf_3dhp')
    adapter = mpi_inf_3dhp.MMPose3dhp(
        root, subjects=dict(unlabeled=['S4'], test=['S8']), every={}, cameras=(0, 8),
        annotation='test_3dhp_train.npz', cameras_file='cameras_train.pkl', image_root='.')
    b = builder.build(adapter, self.create_tempdir().full_path, image_size=256, box_scale=1.0,
                      undistort=False, num_workers=2)
    ann = np.load(os.path.join(root, 'test_3dhp_train.npz'))
    cams = mpi_inf_3dhp.load_mmpose_cameras(os.path.join(root, 'cameras_train.pkl'))
    # H36M-17 joints that are 3DHP annotations themselves; the fixture's 2D hips and spine
    # (H36M 1, 4, 7) disagree with its own 3D by 0.9-2.1 px on every camera (an inconsistency
    # of the labels, not of the cameras: the other 14 joints agree to 0.005 px).
    exact = [j for j in range(17) if j not in (1, 4, 7)]
    for split, name in (('unlabeled', 'S4_Seq2_Cam0_001033.jpg'),
                        ('test', 'S8_Seq1_Cam8_002165.jpg')):
      d = b.load_split(split)
      self.assertLen(d['frame'], 1)
      v = int(np.nonzero(d['view_valid'][0])[0][0])
      row = list(ann['imgname']).index(name)
      part = ann['part'][row, :, :2][list(mpi_inf_3dhp.MPI17_TO_H36M17)]
      full = cams[name[:-11]]
      uv_full = np.asarray(camlib.project(full, np.float64(d['pose_3d'][0])))
      self.assertLess(float(np.abs(uv_full - part)[exact].max()), 0.5)
      self.assertLess(float(np.abs(uv_full - part).max()), 2.5)
      crop = camlib.Camera(K=np.float64(d['cams'].K[0, v]), R=np.float64(d['cams'].R[0, v]),
                           t=np.float64(d['cams'].t[0, v]), dist=np.zeros(5),
                           dist_model='opencv')
      uv = np.asarray(camlib.project(crop, np.float64(d['pose_3d'][0])))
      box = d['box'][0, v]
      self.assertLess(float(np.abs(uv - (part - box[:2]) * 256 / box[2])[exact].max()), 0.5)
      self.assertGreater(float(d['images'][0][v].std()), 20.0)   # the real frame, not black
