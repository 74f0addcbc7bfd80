"""Calibration formats: every camera validated, errors name the file, camera and field."""

import json
import os

import chex
import numpy as np

from mvssl.data import calibration
from tests.fixtures import fakes


class CalibrationTest(chex.TestCase):

  def setUp(self):
    super().setUp()
    self.root = self.create_tempdir().full_path
    self.cams, _, cfg = fakes.write_recording(self.root, calib='json')
    self.path = os.path.join(self.root, cfg['calibration'])

  def _bad(self, edit):
    data = json.load(open(self.path))
    edit(data['cameras'])
    path = os.path.join(self.root, 'bad.json')
    json.dump(data, open(path, 'w'))
    return path

  def test_json_reads_back_the_cameras(self):
    got = calibration.load_calibration(self.path)
    self.assertEqual(sorted(got), sorted(fakes.REC_CAMS))
    for name, want in zip(fakes.REC_CAMS, self.cams):
      np.testing.assert_allclose(got[name].R, want.R, atol=1e-9)
      np.testing.assert_allclose(got[name].t, want.t, atol=1e-6)
      self.assertEqual(got[name].dist_model, 'opencv')

  def test_every_format_gives_the_image_sizes(self):
    for fmt in ('json', 'toml', 'yaml', 'qca'):
      root = self.create_tempdir().full_path
      cfg = fakes.write_recording(root, calib=fmt)[2]
      got = calibration.load_calibration(
          ','.join(os.path.join(root, p) for p in cfg['calibration'].split(',')))
      self.assertEqual(got.sizes, {n: (800, 800) for n in fakes.REC_CAMS}, fmt)
    with self.assertRaisesRegex(ValueError, r"camera 'camA' field size must be \[W, H\]"):
      calibration.load_calibration(self._bad(lambda c: c['camA'].update(size_wh=[800])))

  def test_bad_files_are_named(self):
    with self.assertRaisesRegex(KeyError, r"bad.json: camera 'camB' lacks field 't'"):
      calibration.load_calibration(self._bad(lambda c: c['camB'].pop('t')))
    def rotation(c):
      c['camC'].pop('rvec', None)
      c['camC']['R'] = (2 * np.eye(3)).tolist()
    with self.assertRaisesRegex(ValueError, r"bad.json: camera 'camC': field R is not a rotation"):
      calibration.load_calibration(self._bad(rotation))
    def nan(c):
      c['camA']['K'][0][0] = float('nan')
    with self.assertRaisesRegex(ValueError, r"bad.json: camera 'camA': field K is not finite"):
      calibration.load_calibration(self._bad(nan))
    def dist(c):
      c['camA']['dist'] = [0.1, 0.2, 0.3]
    with self.assertRaisesRegex(ValueError, r"camera 'camA' field dist has 3 values"):
      calibration.load_calibration(self._bad(dist))
    other = os.path.join(self.root, 'calib.ini')
    open(other, 'w').write('x')
    with self.assertRaisesRegex(ValueError, r"calib.ini: unknown calibration format '.ini'"):
      calibration.load_calibration(other)
    with self.assertRaisesRegex(FileNotFoundError, r'nope.toml: calibration file not found'):
      calibration.load_calibration(os.path.join(self.root, 'nope.toml'))
