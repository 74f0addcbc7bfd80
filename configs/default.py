"""Embedded default: the whole method on procedurally posed people seen by a procedural
Human3.6M-like 4-camera rig (nothing external needed), sized for a 2-core CPU (<= 20 min).

  python launch.py --config=configs/default.py --workdir=runs/default

Subjects follow Human3.6M's split: labeled S1,S5,S6 / unlabeled S7,S8 / test S9,S11, each
"subject" with its own procedural rig.
"""

import ml_collections


def get_config(arg=None):
  del arg
  c = ml_collections.ConfigDict()
  c.title = 'mvssl embedded default (procedural poses, procedural 4-camera rig)'
  # all | build | pretrain_single | pretrain_multi | pseudo_label | finetune | evaluate
  c.stage = 'all'
  c.dataset = 'multiview'    # multiview (rendered) | pose2sim (see configs/pose2sim.py)
  c.seed = 0                 # model init, data order and rendering seed
  c.parallel = 'shard_map'   # shard_map (jit of shard_map over a 1-D mesh) | pmap
  c.num_devices = 0          # devices of the data-parallel mesh; 0 = all
  c.log_every = 50           # steps between log lines (loss, steps/s, ETA)
  c.save_every = 500         # steps between Orbax checkpoints
  c.cube_mm = 2000.0         # depth extent of the heatmap volume around the root (mm)

  c.data = d = ml_collections.ConfigDict()
  d.dataset = 'multiview'    # multiview (rendered) | human36m | mpi_inf_3dhp | recording
  d.source = 'procedural'    # procedural | h36m_motion
  d.data_dir = ''            # TFDS data_dir; '' = WORKDIR/data
  d.image_size = 64          # network input crop S (px); heatmaps are S/4
  d.num_views = 4            # cameras per subject
  d.box_scale = 1.3          # crop side / extent of the projected joints (GT box)
  d.seed = 0                 # rendering and procedural-pose seed
  d.every = 1                # temporal subsampling of motion sequences (h36m_motion)
  d.motion_path = ''         # h36m_real_motion_17j_10hz.npz (h36m_motion only)
  d.cameras_path = ''        # h36m_cameras.json (h36m_motion only)
  # Real datasets (configs/human36m.py, mpi_inf_3dhp.py, recording.py):
  d.manual_dir = ''          # folder holding the downloaded files (README: per dataset)
  d.undistort = False        # remove the lens distortion in the crop warp (pinhole crops)
  d.max_frames = 0           # cap on frames per split (0 = all), for quick trials
  d.num_workers = 8          # dataset build threads (JPEG decode + warp + encode)
  d.every_by_split = ml_collections.ConfigDict(dict(labeled=1, unlabeled=1, test=1))
  d.subjects = ml_collections.ConfigDict(dict(
      labeled=['S1', 'S5', 'S6'], unlabeled=['S7', 'S8'], test=['S9', 'S11']))
  d.frames = ml_collections.ConfigDict(dict(labeled=600, unlabeled=1200, test=240))  # per split

  # Optional second dataset for the unlabeled split (e.g. configs/recording.py); None = data.
  c.unlabeled_data = ml_collections.config_dict.placeholder(ml_collections.ConfigDict)

  c.input = i = ml_collections.ConfigDict()
  i.num_threads = 4          # input pipeline threads (JPEG decode + augmentation)
  i.prefetch = 16            # examples read ahead
  i.augment = 'colour'       # none | colour | geometric (scale, rotation, flip + camera change)
  i.scale = (0.8, 1.2)       # geometric: zoom range
  i.rotation_deg = 30.0      # geometric: in-plane rotation range (+-)
  i.flip_prob = 0.5          # geometric: chance of a horizontal flip (L/R joints swapped)

  c.pseudo_label = p = ml_collections.ConfigDict()
  p.source = 'model'         # model (G) | detections (DLT of the dataset's 2D detections)
  p.min_score = 0.3          # detections: DLT weight 0 below this confidence

  c.model = m = ml_collections.ConfigDict()
  m.resnet_depth = 18        # 18 | 34 | 50 | 101 | 152 (paper: 50)
  m.num_filters = 16         # trunk width (paper: 64)
  m.deconv_channels = 64     # deconvolution channels (paper: 256)
  m.depth_bins = 16          # D (paper: 96 for 384 px inputs)
  m.num_joints = 17          # Human3.6M-17

  def stage(steps, batch_size, lr, warmup=50, **kw):
    return ml_collections.ConfigDict(dict(steps=steps, batch_size=batch_size, lr=lr,
                                          warmup=warmup, **kw))
  # batch_size counts multi-view frames (x num_views images).
  c.pretrain_single = stage(1500, 8, 2e-3)
  c.pretrain_multi = stage(1200, 8, 2e-3, weight_3d=0.01)  # weight_3d: per mm of 3D L1
  # mode (stage=finetune): gt_only | l1_only | mvc;
  # mvc_frames: which frames get the MVC term (all | unlabeled).
  c.finetune = stage(1200, 8, 1e-3, mode='mvc', l1_weight=1.0, mvc_weight=0.1,
                     mvc_frames='all')
  return c


def paper_sized(c):
  """The paper's model and input (ResNet-50, 384 px crops, 96^3 volumes, geometric
  augmentation) with GPU-sized schedules, in place (configs/human36m.py, mpi_inf_3dhp.py)."""
  c.data.image_size = 384
  c.model.update(resnet_depth=50, num_filters=64, deconv_channels=256, depth_bins=96)
  c.input.augment = 'geometric'
  c.log_every = 100
  c.save_every = 2000
  c.pretrain_single.update(steps=60000, batch_size=8, lr=1e-3, warmup=500)
  c.pretrain_multi.update(steps=40000, batch_size=8, lr=1e-3, warmup=500)
  c.finetune.update(steps=30000, batch_size=8, lr=5e-4, warmup=500)
  return c
