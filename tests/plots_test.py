"""The forest plot keeps a collapsed variant from flattening the others; a bar chart of many
series keeps its legend inside the image and a colour per series."""

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


class GroupedBarsTest(chex.TestCase):

  def test_eighteen_series_keep_their_legend_inside_and_their_own_colours(self):
    figs = []
    path = os.path.join(self.create_tempdir().full_path, 'f.png')
    series = {f'Ours, form {i}, lambda 0.03': [50.0 + i, 60.0, 70.0] for i in range(18)}
    with mock.patch.object(plots.plt, 'close', side_effect=figs.append):
      plots.grouped_bars(['a', 'b', 'mean'], {'MPJPE (mm)': series, 'PA-MPJPE (mm)': series},
                         path, 'grid', width=40.0)
    fig = figs[0]
    self.assertLessEqual(fig.get_figwidth(), 24.0)              # capped, not 80 inches
    renderer = fig.canvas.get_renderer()
    legend, = fig.legends
    box = legend.get_window_extent(renderer)
    self.assertGreaterEqual(box.x0, 0.0)
    self.assertLessEqual(box.x1, fig.bbox.width)
    self.assertGreaterEqual(box.y0, 0.0)
    for ax in fig.axes:                                        # the legend is below the panels
      self.assertGreater(ax.get_window_extent(renderer).y0, box.y1)
    self.assertEmpty([ax for ax in fig.axes if ax.get_legend()])
    colours = [tuple(p.get_facecolor()) for p in legend.get_patches()]
    self.assertLen(set(colours), 18)
    first = [tuple(c.patches[0].get_facecolor()) for c in fig.axes[0].containers]
    second = [tuple(c.patches[0].get_facecolor()) for c in fig.axes[1].containers]
    self.assertEqual(first, second)                            # one colour per series
    plots.plt.close(fig)

  def test_colours_are_distinct_at_every_count(self):
    for n in (1, 10, 11, 20, 21, 40):
      self.assertLen(set(plots.series_colours(n)), n)
