"""Truncated crops: the window moves, the camera follows exactly, the joints that leave are counted."""

import jax
import numpy as np
import pytest

from configs import smoke
from mvssl.data import truncate
from mvssl.data.synthetic import synthetic_batch
from mvssl.geometry import camera as camlib


def _split():
  batch, _ = synthetic_batch(smoke.get_config(), n=3)
  return dict(images=batch['images'], cams=batch['cams'], pose_3d=np.asarray(batch['pose_3d']),
              view_valid=batch['view_valid'])


@pytest.mark.parametrize('mode,axis', [('bottom', 1), ('side', 0)])
def test_window_moves_and_the_camera_follows(mode, axis):
  d = _split()
  size = d['images'].shape[2]
  t = truncate.truncate_split(d, mode, 0.25)
  s = int(round(0.25 * size))
  dx, dy = truncate.shift(mode, 0.25, size)
  assert (dx, dy)[axis] == s and (dx, dy)[1 - axis] == 0
  np.testing.assert_array_equal(t['images'][:, :, dy:, dx:], d['images'][:, :, :size - dy, :size - dx])
  assert not np.any(t['images'][:, :, :dy]) and not np.any(t['images'][:, :, :, :dx])
  before = np.asarray(jax.vmap(camlib.project_to_views)(d['cams'], d['pose_3d']))
  after = np.asarray(jax.vmap(camlib.project_to_views)(t['cams'], d['pose_3d']))
  np.testing.assert_allclose(after - before, np.broadcast_to([dx, dy], after.shape), atol=1e-3)
  np.testing.assert_array_equal(t['joints_outside'],
                                np.any((after < 0) | (after > size - 1), axis=-1))
  assert np.mean(t['joints_outside']) > np.mean(np.any((before < 0) | (before > size - 1), -1))
  assert t['pose_3d'] is d['pose_3d']          # labels unchanged


def test_bad_mode_and_fraction_are_named():
  with pytest.raises(ValueError, match='truncation mode'):
    truncate.truncate_split(_split(), 'top', 0.3)
  with pytest.raises(ValueError, match='config.truncation.modes'):
    truncate.check(('bottom', 'top'), 0.3)
  with pytest.raises(ValueError, match='config.truncation.fraction'):
    truncate.check(('bottom',), 1.0)
