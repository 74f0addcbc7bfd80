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
  c.stage = 'all'            # all | pretrain_single | pretrain_multi | pseudo_label | finetune | evaluate
  c.dataset = 'multiview'    # multiview (rendered) | pose2sim (see configs/pose2sim.py)
  c.seed = 0                 # model init, data order and rendering seed
  c.parallel = 'shard_map'   # shard_map (jit of shard_map over a 1-D mesh) | pmap
  c.num_devices = 0          # devices of the data-parallel mesh; 0 = all
  c.log_every = 50           # steps between log lines (loss, steps/s, ETA)
  c.save_every = 500         # steps between Orbax checkpoints
  c.cube_mm = 2000.0         # depth extent of the heatmap volume around the root (mm)

  c.data = d = ml_collections.ConfigDict()
  d.source = 'procedural'    # procedural | h36m_motion
  d.data_dir = ''            # TFDS data_dir; '' = WORKDIR/data
  d.image_size = 64          # network input crop S (px); heatmaps are S/4
  d.num_views = 4            # cameras per subject
  d.box_scale = 1.3          # crop side / extent of the projected joints (GT box)
  d.seed = 0                 # rendering and procedural-pose seed
  d.every = 1                # temporal subsampling of motion sequences (h36m_motion)
  d.motion_path = ''         # h36m_real_motion_17j_10hz.npz (h36m_motion only)
  d.cameras_path = ''        # h36m_cameras.json (h36m_motion only)
  d.subjects = ml_collections.ConfigDict(dict(
      labeled=['S1', 'S5', 'S6'], unlabeled=['S7', 'S8'], test=['S9', 'S11']))
  d.frames = ml_collections.ConfigDict(dict(labeled=600, unlabeled=1200, test=240))  # per split

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
