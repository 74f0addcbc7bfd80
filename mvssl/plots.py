"""Every figure mvssl draws (matplotlib, Agg backend, PNG): loss curves, grouped bar charts and
interval (forest) plots.

Writers are called on process 0 only (see :func:`mvssl.parallel.is_main_process`).
"""

from __future__ import annotations

import contextlib

import matplotlib
import numpy as np

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)


@contextlib.contextmanager
def _saved(path: str, size: tuple[float, float], title: str = '', title_size=None, rect=None):
  """A new figure, titled, laid out and saved to ``path`` (PNG) when the block ends; closed
  whatever happens."""
  fig = plt.figure(figsize=size)
  try:
    yield fig
    if title:
      fig.suptitle(title, fontsize=title_size)
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=90)
  finally:
    plt.close(fig)


@contextlib.contextmanager
def _figure(path: str, ncols: int, size: tuple[float, float], title: str = ''):
  """One row of ``ncols`` panels (axes) -> PNG (:func:`_saved`)."""
  with _saved(path, size, title) as fig:
    yield fig.subplots(1, ncols, squeeze=False)[0]


def loss_curves(rows: list[dict], path: str, title: str,
                skip=('step', 'time', 'grad_norm', 'param_norm', 'lr')) -> None:
  """One panel per logged quantity of ``rows`` (dicts with 'step'), against the step -> PNG."""
  if not rows:
    return
  keys = [k for k in rows[0] if k not in skip]
  with _figure(path, len(keys), (3.2 * len(keys), 2.8), title) as axes:
    for ax, k in zip(axes, keys):
      ax.plot([r['step'] for r in rows], [r[k] for r in rows])
      ax.set_title(k)
      ax.set_xlabel('step')


def series_colours(n: int) -> list:
  """``n`` distinct colours: matplotlib's tab10 up to 10 series, tab20 up to 20, beyond that
  evenly spaced on a perceptual colour map (adjacent series still differ)."""
  if n <= 10:
    return [plt.get_cmap('tab10')(i) for i in range(n)]
  if n <= 20:
    return [plt.get_cmap('tab20')(i) for i in range(n)]
  return [plt.get_cmap('turbo')(x) for x in np.linspace(0.05, 0.95, n)]


def grouped_bars(groups: list[str], panels: dict[str, dict[str, list[float]]], path: str,
                 title: str = '', width: float = 5.0, max_width: float = 24.0) -> None:
  """Bar charts side by side: ``panels`` maps a y-axis label to {series: one value per group}.
  One legend for the figure, below the panels in as many rows as it needs (a run table of 18
  models stays inside the image); each series keeps its colour in every panel.

  Args:
    groups: x-axis labels (e.g. cameras and 'mean').
    panels: {y label: {series label (legend): [value per group]}}.
    path: PNG file.
    width: of each panel (inches); the figure is at most ``max_width`` inches wide.
  """
  names = list(dict.fromkeys(k for series in panels.values() for k in series))
  colours = dict(zip(names, series_colours(len(names))))
  ncol = max(1, len(names) if len(names) <= 6 else 4)
  legend_rows = -(-len(names) // ncol)
  legend_h = 0.25 + 0.2 * legend_rows                     # inches
  height = 3.5 + legend_h
  fig_width = min(width * len(panels), max_width)
  with _saved(path, (fig_width, height), title, rect=(0, legend_h / height, 1, 1)) as fig:
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (ylabel, series) in zip(axes, panels.items()):
      bar = 0.8 / max(len(series), 1)
      for i, (label, values) in enumerate(series.items()):
        ax.bar(np.arange(len(groups)) + i * bar, values, bar, color=colours[label])
      ax.set_xticks(np.arange(len(groups)) + bar * (len(series) - 1) / 2, groups, fontsize=8)
      ax.set_ylabel(ylabel)
      top = max((max(v) for v in series.values() if len(v)), default=1.0)
      ax.set_ylim(0, top * 1.1)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[n]) for n in names]
    if names:
      fig.legend(handles, names, loc='lower center', ncol=ncol, fontsize=8, frameon=False)


def intervals(labels: list[str], series: dict[str, list], path: str, title: str = '',
              xlabel: str = '', limit: float | None = None) -> None:
  """A forest plot: one row per label, for each series a point (``mean``) with a horizontal
  bar from ``low`` to ``high`` (dicts; None leaves the row empty for that series), and a line
  at 0 -> PNG.

  Rows far off the common scale (a collapsed variant at +300 mm next to +-2 mm ones) would
  flatten every other row: the x-axis spans +-``limit`` (default: 3x the 75th percentile of
  the |interval ends|), and a row beyond it is drawn at the edge with its mean written out.
  """
  n = len(labels)
  ends = np.abs([x[k] for rows in series.values() for x in rows if x for k in ('low', 'high')])
  ends = ends[np.isfinite(ends)]
  if limit is None:
    limit = 3.0 * float(np.percentile(ends, 75)) if len(ends) else 1.0
  limit = max(limit, 1e-3)
  with _figure(path, 1, (9, 1.2 + 0.32 * n), title) as axes:
    ax = axes[0]
    offsets = np.linspace(-0.15, 0.15, len(series)) if len(series) > 1 else [0.0]
    for off, (name, rows) in zip(offsets, series.items()):
      y = np.array([i + off for i, r in enumerate(rows) if r])
      r = [r for r in rows if r]
      if not r:
        continue
      mean = np.array([x['mean'] for x in r])
      low = np.clip([x['low'] if np.isfinite(x['low']) else x['mean'] for x in r], -limit, limit)
      high = np.clip([x['high'] if np.isfinite(x['high']) else x['mean'] for x in r],
                     -limit, limit)
      shown = np.clip(mean, -limit, limit)
      line = ax.errorbar(shown, y, xerr=[shown - low, high - shown], fmt='o', ms=4, capsize=2,
                         label=name)
      for yi, m, sh in zip(y, mean, shown):
        if m != sh:
          ax.annotate(f'{m:+.0f}', (sh, yi), fontsize=7, color=line[0].get_color(),
                      ha='right' if m > 0 else 'left', va='bottom')
    ax.axvline(0.0, color='gray', lw=0.8)
    ax.set_xlim(-1.1 * limit, 1.1 * limit)
    ax.set_yticks(np.arange(n), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8)


MODEL_COLOURS = ('tab:blue', 'tab:orange', 'tab:green', 'tab:red', 'tab:purple', 'tab:brown')


def _bones(num_joints: int, bones):
  """The skeleton's bones, or none when the joint count is not the skeleton's."""
  return [(a, b) for a, b in bones if a < num_joints and b < num_joints]


def skeleton_panels(path: str, rows: list[dict], models: list[str], *, bones, title: str = '',
                    camera_names=None) -> None:
  """The paper's qualitative figure (Fig. 4/5): per row (a test frame) and camera, the input
  crop with every model's projected skeleton (GT white) and a 3D panel with the GT (gray) and
  each model's root-aligned prediction (coloured) in that camera's frame -> PNG.

  Args:
    path: PNG file.
    rows: one dict per frame: 'title' (str), 'images' [V, S, S, 3] uint8 RGB, 'seen' [V] bool,
      'gt_uv' [V, J, 2] and 'uv' {model: [V, J, 2]} (crop px), 'gt_cam' [V, J, 3] and
      'cam' {model: [V, J, 3]} (root-aligned, mm, each view's camera frame: x right, y down,
      z forward).
    models: the labels to draw (keys of 'uv' / 'cam'), coloured in this order.
    bones: (parent, child) joint pairs.
    camera_names: [V] column titles (default 'view <v>').
  """
  num_views = rows[0]['images'].shape[0]
  camera_names = list(camera_names or [f'view {v}' for v in range(num_views)])
  with _saved(path, (2.3 * 2 * num_views, 2.5 * len(rows) + 0.4), title, 9,
              rect=(0, 0.04, 1, 1)) as fig:
    for r, row in enumerate(rows):
      for v in range(num_views):
        ax = fig.add_subplot(len(rows), 2 * num_views, r * 2 * num_views + 2 * v + 1)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(camera_names[v], fontsize=7)
        if v == 0:
          ax.set_ylabel(row['title'], fontsize=7)
        if not row['seen'][v]:
          ax.text(0.5, 0.5, 'not recorded', ha='center', va='center', transform=ax.transAxes)
          continue
        img = row['images'][v]
        ax.imshow(img)
        bs = _bones(row['gt_uv'].shape[1], bones)
        for a, b in bs:
          ax.plot(*row['gt_uv'][v][[a, b]].T, color='white', lw=1.2)
        for m, colour in zip(models, MODEL_COLOURS):
          for a, b in bs:
            ax.plot(*row['uv'][m][v][[a, b]].T, color=colour, lw=0.9)
        ax.set_xlim(0, img.shape[1])
        ax.set_ylim(img.shape[0], 0)
        ax3 = fig.add_subplot(len(rows), 2 * num_views, r * 2 * num_views + 2 * v + 2,
                              projection='3d')
        for pose, colour, lw in [(row['gt_cam'][v], 'gray', 2.0)] + [
            (row['cam'][m][v], c, 1.0) for m, c in zip(models, MODEL_COLOURS)]:
          for a, b in bs:       # camera frame drawn upright: x right, z away, -y up
            ax3.plot(pose[[a, b], 0], pose[[a, b], 2], -pose[[a, b], 1], color=colour, lw=lw)
        ax3.set_xlim(-900, 900)
        ax3.set_ylim(-900, 900)
        ax3.set_zlim(-900, 900)
        ax3.view_init(elev=10, azim=-80)
        ax3.set_xticklabels([])
        ax3.set_yticklabels([])
        ax3.set_zticklabels([])
    handles = [plt.Line2D([], [], color='gray', lw=2, label='GT (white on the image)')] + [
        plt.Line2D([], [], color=c, label=m) for m, c in zip(models, MODEL_COLOURS)]
    fig.legend(handles=handles, loc='lower center', ncol=len(handles), fontsize=8)


def labelled_crops(path: str, images: np.ndarray, *, bones, skeletons=None, points=None,
                   seen=None, row_titles=(), col_titles=(), title: str = '') -> None:
  """A grid of crops (rows: frames, columns: views) with labels drawn on them -> PNG: a
  skeleton per crop (the person's left limbs yellow, right magenta, spine white) and/or points
  (e.g. 2D detections, red crosses).

  Args:
    images: [n, V, S, S, 3] uint8 RGB.
    bones: (parent, child) joint pairs.
    skeletons: optional [n, V, J, 2] px in the crop.
    points: optional [n, V, J, 3] (x, y, score) px; points of score 0 are not drawn.
    seen: optional [n, V] bool: a view not recorded says so.
  """
  n, num_views = images.shape[:2]
  left = {b for a, b in bones if b in (4, 5, 6, 11, 12, 13)}
  right = {b for a, b in bones if b in (1, 2, 3, 14, 15, 16)}
  with _saved(path, (2.2 * num_views, 2.3 * n + 0.3), title, 9) as fig:
    axes = fig.subplots(n, num_views, squeeze=False)
    for i in range(n):
      for v in range(num_views):
        ax = axes[i, v]
        ax.set_xticks([])
        ax.set_yticks([])
        if i < len(row_titles) and v == 0:
          ax.set_ylabel(row_titles[i], fontsize=7)
        if i == 0 and v < len(col_titles):
          ax.set_title(col_titles[v], fontsize=8)
        if seen is not None and not seen[i, v]:
          ax.text(0.5, 0.5, 'not recorded', ha='center', va='center', transform=ax.transAxes)
          continue
        ax.imshow(images[i, v])
        if skeletons is not None:
          uv = skeletons[i, v]
          for a, b in _bones(len(uv), bones):
            colour = 'yellow' if b in left else 'magenta' if b in right else 'white'
            ax.plot(*uv[[a, b]].T, color=colour, lw=1.2)
        if points is not None:
          p = points[i, v]
          ok = p[:, 2] > 0
          ax.scatter(p[ok, 0], p[ok, 1], s=6, c='red', marker='x', linewidths=0.8)
        ax.set_xlim(0, images.shape[3])
        ax.set_ylim(images.shape[2], 0)


def skeleton_3d(path: str, poses: dict, *, bones, title: str = '') -> None:
  """Root-aligned 3D skeletons ({label: [J, 3] mm in a camera frame: x right, y down, z
  forward}) drawn upright from the camera's side and from above -> PNG."""
  with _saved(path, (8, 4), title, 9) as fig:
    for k, (elev, azim, name) in enumerate(((10, -80, 'from the camera'), (80, -90, 'from above'))):
      ax = fig.add_subplot(1, 2, k + 1, projection='3d')
      for (label, pose), colour in zip(poses.items(), MODEL_COLOURS):
        pose = np.asarray(pose)
        for a, b in _bones(len(pose), bones):
          ax.plot(pose[[a, b], 0], pose[[a, b], 2], -pose[[a, b], 1], color=colour, lw=2,
                  label=label if (a, b) == bones[0] else None)
      ax.set_xlim(-1000, 1000)
      ax.set_ylim(-1000, 1000)
      ax.set_zlim(-1000, 1000)
      ax.set_xlabel('x (mm)', fontsize=7)
      ax.set_ylabel('z (mm)', fontsize=7)
      ax.set_zlabel('-y (mm)', fontsize=7)
      ax.view_init(elev=elev, azim=azim)
      ax.set_title(name, fontsize=8)
      ax.tick_params(labelsize=6)
    fig.axes[0].legend(fontsize=7, loc='upper left')
