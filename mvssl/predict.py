"""Use a trained model on your own images: ``python -m mvssl.predict`` from the project root.

One image (its camera from any calibration file the recording path reads, a person box)::

  python -m mvssl.predict --workdir=runs/default --image=img.jpg --calibration=calib.json \\
      --camera=cam01 --box=x0,y0,w,h --out=pred

or, instead of a hand-typed box, the box around the person an OpenPose file of that image
detected: ``--detections=openpose:img_keypoints.json`` (``openpose-body25b:`` for BODY_25B;
``--person=N`` picks one of several). A hand-typed box that most predicted joints fall outside of
is warned about (a box beside the person still gives a skeleton there). This
gives ``pred/<image>.json`` (the 17 joints, Human3.6M order, in the camera frame and in the
calibration's world frame, mm), ``pred/<image>_overlay.png`` (the projected skeleton on the
image) and ``pred/<image>_3d.png``. The single-view model predicts the pose relative to its root
joint; its distance from the camera is ``--root_depth`` (mm) when you know it, else RootNet's
prior (Moon et al. 2019, eq. 2: k = sqrt(f_x f_y A_real / A_box) with A_real = 2000 mm x 2000
mm and the square crop box), which sets the pose's scale in the camera frame: the JSON says
which was used.

A calibrated multi-view recording (the fields of ``configs/default.py: recording_data``)::

  python -m mvssl.predict --workdir=runs/default --recording=DIR --calibration=calibration.json \\
      --images='frames/{camera}_f{frame}.jpg' --detections=npz:keypoints.npz:h36m17_2d --out=pred

builds the recording's crops (``pred/data``), triangulates every frame with the workdir's
multi-view model G (confidence-weighted DLT), runs the single-view model on every view with
the root depth of G's pose, and writes ``pred/frames/<frame>.json`` (G's world pose, each view's
world pose, their disagreement), ``pred/summary.json`` and ``pred/overlay.mp4`` (per frame the
views' crops with each view's prediction, and G's pose in white).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import cv2
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tqdm

from mvssl import compilation_cache
from mvssl import metrics as metrics_lib
from mvssl import plots
from mvssl.data import builder
from mvssl.data import calibration as calib_lib
from mvssl.data import crop as crop_lib
from mvssl.data import detections as det_lib
from mvssl.data import frames as frames_lib
from mvssl.data import h36m
from mvssl.data import reader
from mvssl.data import render
from mvssl.data import recording
from mvssl.geometry import absolute
from mvssl.geometry import camera as camlib
from mvssl.train import families
from mvssl.train import figures
from mvssl.train import heatmap_family
from mvssl.train.context import Context

log = logging.getLogger('mvssl')


def load_workdir(workdir: str) -> Context:
  """The experiment a workdir trained (its ``config.json``), to restore its runs from.

  Raises:
    FileNotFoundError: naming the missing config.json.
  """
  path = os.path.join(workdir, 'config.json')
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: not a trained workdir (no config.json); train with '
                            f'launch.py --workdir={workdir} first')
  with open(path) as f:
    config = ml_collections.ConfigDict(json.load(f))
  return Context(config, workdir)


def _image_run(ctx: Context, name: str):
  if name not in ctx.runs:
    raise KeyError(f'{ctx.workdir}: no run {name!r} (runs: {", ".join(ctx.runs)})')
  run = ctx.runs[name]
  if run.family != 'integral':
    raise ValueError(f'run {name!r} is a {run.family!r} model; --run must name a single-view '
                     f'image model (family integral), e.g. ours')
  return run


def root_depth_prior(K: np.ndarray, box) -> float:
  """RootNet's root depth prior (Moon et al. 2019, eq. 2), mm: sqrt(f_x f_y A_real / A_box)
  with A_real = 2000 x 2000 mm^2 and A_box the box's area (px^2)."""
  return float(absolute.rootnet_k(np.asarray(K, np.float64),
                                  float(np.sqrt(float(box[2]) * float(box[3])))))


def check_box(box, width: int, height: int, where: str) -> np.ndarray:
  """(x0, y0, w, h) px as floats, if finite, positive and at least partly inside the image.

  Raises:
    ValueError: one line naming ``where``, the box and the image size.
  """
  box = np.asarray(box, np.float64)
  if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= 0 or box[3] <= 0:
    raise ValueError(f'{where}: box must be 4 finite numbers x0,y0,w,h with w, h > 0, got '
                     f'{box.tolist()}')
  x0, y0, w, h = box
  if x0 >= width or y0 >= height or x0 + w <= 0 or y0 + h <= 0:
    raise ValueError(f'{where}: box {box.tolist()} (x0,y0,w,h) lies outside the '
                     f'{width}x{height} image')
  return box


def joints_in_box(uv, box) -> float:
  """The share of the joints uv [J, 2] px inside box (x0, y0, w, h), edges included (1e-6 px)."""
  uv, (x0, y0, w, h) = np.asarray(uv), np.asarray(box, np.float64)
  e = 1e-6
  inside = ((uv[:, 0] >= x0 - e) & (uv[:, 0] <= x0 + w + e) & (uv[:, 1] >= y0 - e) &
            (uv[:, 1] <= y0 + h + e))
  return float(np.mean(inside))


def _crop_input(img, cam, box, size: int):
  """The crop the model sees, exactly as the dataset build makes it (undistorted, JPEG at the
  build's quality, decoded to RGB), and its camera."""
  crop_img, crop_cam = crop_lib.crop_view(img, cam, box, size, undistort=True)
  data = cv2.imencode('.jpg', crop_img, [cv2.IMWRITE_JPEG_QUALITY, crop_lib.JPEG_QUALITY])[1]
  return reader.decode_jpeg(data.tobytes()), crop_cam


def predict_image(ctx: Context, image: str, calibration: str, box, **kw) -> dict:
  """One image: :func:`predict_images` of ``[image]`` and ``[box]``."""
  return predict_images(ctx, [image], calibration, [box], **kw)[0]


def predict_images(ctx: Context, images, calibration: str, boxes, *, camera: str = '',
                   run: str = 'ours', root_depth: float | None = None,
                   box_scale: float = 1.3, batch: int = 32) -> list[dict]:
  """3D joints of the person in each ``box`` of calibrated images of one camera (module
  docstring), predicted in batches of one size (one compiled function; a bar on long inputs).

  Args:
    ctx: the trained workdir (:func:`load_workdir`).
    images: [N] image files; boxes: [N] (x0, y0, w, h) px, each person's box in its image.
    calibration: a calibration file (json / toml / qca / yml, as for recordings).
    camera: the camera's name in the file ('' when it holds one camera).
    run: the single-view run to use.
    root_depth: distance of the root joint from the camera (mm; None: RootNet's prior).
    box_scale: the box is made square and scaled by this, as the dataset build does.
    batch: images per network call.
  Returns:
    per image a dict: joint_names [J], camera_mm [J, 3] (camera frame: x right, y down, z
    forward), world_mm [J, 3] (the calibration's world frame), uv_px [J, 2] (projected into the
    image), root_depth_mm and root_depth_source, box and crop_box (px), joints_in_box, camera,
    run, image.
  Raises:
    FileNotFoundError / KeyError / ValueError: one line naming the file or field: a missing or
      undecodable image, a camera not in the calibration, an image of another size than the
      calibration's, a box outside the image.
  """
  spec = _image_run(ctx, run)
  calib = calib_lib.load_calibration(calibration)
  if not camera:
    if len(calib) != 1:
      raise KeyError(f'{calibration}: holds cameras {", ".join(calib)}; name one with --camera')
    camera = next(iter(calib))
  if camera not in calib:
    raise KeyError(f'{calibration}: no camera {camera!r} (it has {", ".join(calib)})')
  if root_depth is not None and (not np.isfinite(root_depth) or root_depth <= 0):
    raise ValueError(f'--root_depth must be a positive distance in mm, got {root_depth}')
  cam = calib[camera]
  crops, crop_cams, depths, meta = [], [], [], []
  for image, box in tqdm.tqdm(list(zip(images, boxes)), desc='crops', unit='image',
                              leave=False, disable=len(images) < 2 * batch):
    img = recording.check_size(frames_lib.imread(image), calib.sizes.get(camera),
                               camera=camera, where=image, calibration=calibration)
    box = check_box(box, img.shape[1], img.shape[0], image)
    crop_box = crop_lib.square_scaled(box, box_scale)
    rgb, crop_cam = _crop_input(img, cam, crop_box, int(ctx.config.model.image_size))
    crops.append(rgb)
    crop_cams.append(crop_cam)
    depths.append(root_depth if root_depth is not None else
                  root_depth_prior(np.asarray(cam.K), crop_box))
    meta.append((image, box, crop_box))
  source = 'given' if root_depth is not None else \
      'RootNet prior: sqrt(fx fy 2000 mm x 2000 mm / crop box area)'
  cams = jax.tree.map(lambda *a: np.stack([np.asarray(x, np.float32) for x in a])[:, None],
                      *crop_cams)
  d = dict(images=np.stack(crops)[:, None], cams=cams,
           root_depth=np.asarray(depths, np.float32)[:, None])
  world = heatmap_family.predict_views(ctx.restore(run), d, ctx.codec(spec),
                                       batch_frames=batch)[:, 0]                 # [N, J, 3]
  cam64 = jax.tree.map(lambda a: np.asarray(a, np.float64), cam)
  uv = np.asarray(jax.vmap(lambda p: camlib.project(cam, p))(jnp.asarray(world, jnp.float32)))
  out = []
  for (image, box, crop_box), w, u, depth in zip(meta, world, uv, depths):
    inside = joints_in_box(u, box)
    if inside < 0.5:
      log.warning('%s: only %d of %d predicted joints fall inside the box %s (x0,y0,w,h px): '
                  'is the box on the person? A box beside the person still gives a skeleton '
                  'there; give the box from a detector (--detections)', image,
                  int(round(inside * len(u))), len(u), [round(float(v), 1) for v in box])
    out.append(dict(image=image, camera=camera, run=run, joint_names=figures.joint_names(len(w)),
                    camera_mm=(w.astype(np.float64) @ cam64.R.T + cam64.t).tolist(),
                    world_mm=w.astype(np.float64).tolist(), uv_px=u.tolist(),
                    root_depth_mm=float(depth), root_depth_source=source, box=box.tolist(),
                    crop_box=crop_box.tolist(), joints_in_box=inside))
  return out


def write_image_outputs(result: dict, out_dir: str) -> list[str]:
  """``<stem>.json``, ``<stem>_overlay.png`` and ``<stem>_3d.png`` in ``out_dir``."""
  os.makedirs(out_dir, exist_ok=True)
  stem = os.path.join(out_dir, os.path.splitext(os.path.basename(result['image']))[0])
  with open(stem + '.json', 'w') as f:
    json.dump(result, f, indent=1)
  img = frames_lib.imread(result['image'])
  thick = max(2, int(round(max(img.shape[:2]) / 400)))
  overlay = render.draw_skeleton(img, np.asarray(result['uv_px']), thickness=thick)
  x0, y0, w, h = (int(round(v)) for v in result['crop_box'])
  cv2.rectangle(overlay, (x0, y0), (x0 + w, y0 + h), (255, 255, 255), 1)
  cv2.imwrite(stem + '_overlay.png', overlay)
  pose = np.asarray(result['camera_mm'])
  plots.skeleton_3d(stem + '_3d.png', {result['run']: pose - pose[:1]}, bones=h36m.BONES,
                    title=f'{os.path.basename(result["image"])} ({result["camera"]}), '
                          f'root at {result["root_depth_mm"]:.0f} mm')
  return [stem + '.json', stem + '_overlay.png', stem + '_3d.png']


def predict_recording(ctx: Context, rec_cfg, out_dir: str, *, run: str = 'ours',
                      multi: str = 'multi', num_workers: int = 4) -> dict:
  """Every frame of a calibrated multi-view recording (module docstring).

  Args:
    ctx: the trained workdir; rec_cfg: ``configs/default.py: recording_data`` fields.
    out_dir: where the crops (``data``), per-frame JSON, summary and MP4 go.
    run, multi: the single-view run and the multi-view run G.
  Returns:
    dict: frames, cameras, views (recorded view count), disagreement_mm (mean over recorded
    views of the distance of a view's world pose to the other views', :func:`mvssl.metrics.
    view_disagreement`), views_to_triangulated_mm (root-aligned MPJPE of the views' poses
    against G's), files written.
  """
  spec = _image_run(ctx, run)
  if multi not in ctx.runs or families.FAMILIES[ctx.runs[multi].family].per_view:
    raise ValueError(f'--multi={multi!r} must name the workdir\'s multi-view run (G)')
  adapter = recording.adapter(rec_cfg)
  b = builder.build(adapter, os.path.join(out_dir, 'data'),
                    image_size=int(ctx.config.model.image_size),
                    box_scale=float(rec_cfg.box_scale), undistort=True, num_workers=num_workers)
  d = b.load_split('unlabeled')
  seen = np.asarray(d['view_valid'], bool)
  g_pose, g_valid = heatmap_family.predict_triangulated(ctx.restore(multi), d,
                                                        ctx.codec(ctx.runs[multi]))
  _, root_depth = ctx.codec(spec).encode_split(d['cams'], g_pose)
  views = heatmap_family.predict_views(ctx.restore(run), dict(d, root_depth=root_depth),
                                       ctx.codec(spec))
  disagreement = np.asarray(metrics_lib.view_disagreement(jnp.asarray(views), jnp.asarray(seen)))
  to_g = np.asarray(metrics_lib.mpjpe(jnp.asarray(views),
                                      jnp.broadcast_to(jnp.asarray(g_pose)[:, None], views.shape)))
  names = figures.joint_names(views.shape[2])
  os.makedirs(os.path.join(out_dir, 'frames'), exist_ok=True)
  files = []
  for i in range(len(d['frame'])):
    path = os.path.join(out_dir, 'frames', f'{int(d["frame"][i]):06d}.json')
    with open(path, 'w') as f:
      json.dump(dict(frame=int(d['frame'][i]), cameras=list(adapter.camera_names),
                     joint_names=names, triangulated_world_mm=g_pose[i].tolist(),
                     triangulated_valid=np.asarray(g_valid[i]).tolist(),
                     views_world_mm=[views[i, v].tolist() if seen[i, v] else None
                                     for v in range(views.shape[1])],
                     crop_boxes_px=[d['box'][i, v].tolist() if seen[i, v] else None
                                    for v in range(views.shape[1])],
                     root_depth_mm=[float(root_depth[i, v]) if seen[i, v] else None
                                    for v in range(views.shape[1])],
                     disagreement_mm=[float(disagreement[i, v]) if seen[i, v] else None
                                      for v in range(views.shape[1])],
                     views_to_triangulated_mm=[float(to_g[i, v]) if seen[i, v] else None
                                               for v in range(views.shape[1])]), f)
    files.append(path)
  video = os.path.join(out_dir, 'overlay.mp4')
  figures.recording_video(video, d, views, g_pose, seen)
  summary = dict(frames=int(len(d['frame'])), cameras=list(adapter.camera_names),
                 views=int(seen.sum()), disagreement_mm=float(np.nanmean(disagreement)),
                 views_to_triangulated_mm=float(np.mean(to_g[seen])), run=run, multi=multi,
                 files=dict(frames=os.path.join(out_dir, 'frames'), video=video))
  with open(os.path.join(out_dir, 'summary.json'), 'w') as f:
    json.dump(summary, f, indent=1)
  return summary


def _parse(argv):
  p = argparse.ArgumentParser(prog='python -m mvssl.predict', description=__doc__.split('\n')[0])
  p.add_argument('--workdir', required=True, help='a trained workdir (holds config.json)')
  p.add_argument('--out', required=True, help='output folder')
  p.add_argument('--run', default='ours', help='single-view run (default ours)')
  p.add_argument('--calibration', required=True, help='calibration file (json/toml/qca/yml)')
  p.add_argument('--image', nargs='+', help='image file(s) of one camera')
  p.add_argument('--camera', default='', help='one image: its camera in the calibration')
  p.add_argument('--box', help='one image: the person box x0,y0,w,h (px), or --detections')
  p.add_argument('--person', type=int, default=-1,
                 help='one image with --detections: which listed person (default: best scored)')
  p.add_argument('--root_depth', type=float, default=None,
                 help='one image: root joint distance from the camera (mm); default RootNet prior')
  p.add_argument('--box_scale', type=float, default=1.3, help='crop side / box side')
  p.add_argument('--recording', help='a multi-view recording: its folder')
  p.add_argument('--images', default='frames/{camera}_f{frame}.jpg', help='recording images')
  p.add_argument('--video', default='', help='recording videos, e.g. videos/{camera}.mp4')
  p.add_argument('--detections', default='',
                 help='recording: its detections (openpose:PATTERN | openpose-body25b:PATTERN | '
                      'coco:PATTERN | npz:FILE:KEY; default npz:keypoints.npz:h36m17_2d); one '
                      'image: openpose:FILE.json, the box then comes from it')
  p.add_argument('--cameras', default='', help='recording cameras, comma-separated (default all)')
  p.add_argument('--multi', default='multi', help='recording: the multi-view run G')
  p.add_argument('--compilation_cache', default='',
                 help="JAX's compilation cache: '' (~/.cache/mvssl/jax), a folder, or off")
  p.add_argument('--debug', action='store_true', help='show tracebacks')
  args = p.parse_args(argv)
  if bool(args.image) == bool(args.recording):
    p.error('give either --image (with --box) or --recording')
  if args.image and not (args.box or args.detections):
    p.error('--image needs --box x0,y0,w,h (the person box, px) or --detections=openpose:FILE')
  if args.image and args.box and (args.detections or len(args.image) > 1):
    p.error('--box is for one image; several take --detections=openpose:DIR/{stem}.json')
  return args


def main(argv=None) -> int:
  args = _parse(sys.argv[1:] if argv is None else argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', datefmt='%H:%M:%S')
  compilation_cache.setup(args.compilation_cache)
  try:
    ctx = load_workdir(args.workdir)
    if args.image:
      if args.detections:
        boxes = [det_lib.person_box(args.detections.replace(
            '{stem}', os.path.splitext(os.path.basename(im))[0]), person=args.person)
                 for im in args.image]
      else:
        try:
          boxes = [[float(x) for x in args.box.split(',')]]
        except ValueError:
          raise ValueError(f'--box must be x0,y0,w,h (numbers), got {args.box!r}') from None
      results = predict_images(ctx, args.image, args.calibration, boxes, camera=args.camera,
                               run=args.run, root_depth=args.root_depth,
                               box_scale=args.box_scale)
      for result in results:
        for path in write_image_outputs(result, args.out):
          print(path)
    else:
      from configs import default as default_config
      rec = default_config.recording_data(
          args.recording, calibration=args.calibration, images=args.images, video=args.video,
          detections=args.detections or 'npz:keypoints.npz:h36m17_2d', box_scale=args.box_scale,
          cameras=tuple(c for c in args.cameras.split(',') if c))
      summary = predict_recording(ctx, rec, args.out, run=args.run, multi=args.multi)
      print(json.dumps(summary, indent=1))
  except (FileNotFoundError, KeyError, ValueError, OSError) as e:
    if args.debug:
      raise
    msg = e.args[0] if isinstance(e, KeyError) and e.args else str(e)
    print(f'error: {msg}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
