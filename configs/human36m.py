"""Human3.6M at full scale from the files on disk (paper protocol), paper-sized model.

  python launch.py --config=configs/human36m.py --workdir=runs/h36m \\
      --config.data.manual_dir=/data/human36m

The first run builds the TFDS dataset under WORKDIR/data (a progress bar per split; an
interrupted build is redone, never half-used), then runs every stage. Layouts
(``--config.data.layout``), see mvssl/data/human36m.py and the README:

  learnable_triangulation  extra/human36m-multiview-labels-GTbboxes.npy + h36m-fetch's
                           processed/S*/Action-N/imageSequence/CAMERA/img_NNNNNN.jpg
  mmpose                   annotation_body3d/fps50/h36m_{train,test}.npz + cameras.pkl +
                           images/S*/S*_Action.CAMERA/*.jpg

Split (paper): labeled S1,S5,S6 / unlabeled S7,S8 / test S9,S11 every 64th frame; the three
damaged S9 sequences are left out unless --config.data.with_damaged=True.
Step counts are for a GPU/TPU; ImageNet weights are not loaded (the trunk starts from scratch).
"""

from configs import default


def get_config(arg=None):
  c = default.get_config(arg)
  c.title = 'mvssl on Human3.6M'
  d = c.data
  d.dataset = 'human36m'
  d.manual_dir = ''                # required: the Human3.6M folder
  d.layout = 'learnable_triangulation'   # learnable_triangulation | mmpose
  d.labels_file = 'extra/human36m-multiview-labels-GTbboxes.npy'   # learnable_triangulation
  d.image_dir = 'imageSequence'    # or imageSequence-undistorted (then the lens model is off)
  d.with_damaged = False           # keep S9 Greeting-2, SittingDown-2, Waiting-1
  d.every_by_split.labeled = 5     # every k-th 50 Hz frame per split (test: protocol's 64)
  d.every_by_split.unlabeled = 5
  d.every_by_split.test = 64
  d.image_size = 384               # paper: 384 x 384 crops
  d.box_scale = 1.0                # the labels' GT boxes are already squared around the person
  d.undistort = False              # True: pinhole crops (needed to mix with other datasets)
  c.model.resnet_depth = 50
  c.model.num_filters = 64
  c.model.deconv_channels = 256
  c.model.depth_bins = 96          # 96^3 volumes for 384 px crops
  c.input.augment = 'geometric'
  c.log_every = 100
  c.save_every = 2000
  c.pretrain_single.update(steps=60000, batch_size=8, lr=1e-3, warmup=500)
  c.pretrain_multi.update(steps=40000, batch_size=8, lr=1e-3, warmup=500)
  c.finetune.update(steps=30000, batch_size=8, lr=5e-4, warmup=500)
  return c
