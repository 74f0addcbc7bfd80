"""The forest plot keeps a collapsed variant from flattening the others."""

import os
from unittest import mock

import chex

from mvssl import plots


class IntervalsTest(chex.TestCase):

  def test_a_far_row_is_drawn_at_the_edge_with_its_value(self):
    tmp = self.create_tempdir().full_path
    rows = [dict(mean=-0.2, low=-0.3, high=-0.1), dict(mean=1.3, low=1.1, high=1.5),
            dict(mean=311.3, low=308.7, high=313.8)]
    figs = []
    path = os.path.join(tmp, 'f.png')
    with mock.patch.object(plots.plt, 'close', side_effect=figs.append):
      plots.intervals(['a', 'b', 'c'], dict(test=rows, validation=[None, rows[1], None]), path)
    self.assertGreater(os.path.getsize(path), 0)
    ax = figs[0].axes[0]
    low, high = ax.get_xlim()
    self.assertLess(high, 300.0)                  # the +311 row does not set the scale
    self.assertGreater(high, 1.5)                 # the +1.5 interval end is on the axis
    self.assertEqual([t.get_text() for t in ax.texts], ['+311'])
    plots.plt.close(figs[0])

  def test_an_explicit_limit_is_kept(self):
    figs = []
    path = os.path.join(self.create_tempdir().full_path, 'f.png')
    with mock.patch.object(plots.plt, 'close', side_effect=figs.append):
      plots.intervals(['a'], dict(test=[dict(mean=1.0, low=0.5, high=1.5)]), path, limit=10.0)
    self.assertAlmostEqual(figs[0].axes[0].get_xlim()[1], 11.0)
    self.assertEmpty(list(figs[0].axes[0].texts))
    plots.plt.close(figs[0])
