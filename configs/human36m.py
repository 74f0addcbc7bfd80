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
damaged S9 sequences are left out unless --config.data.with_damaged=True. The fields of the data
block are declared in configs/default.py (human36m_data).
Step counts are for a GPU/TPU. ImageNet weights: --config.model.init_from=torchvision:PATH (a
torchvision ResNet-50 .pth or .safetensors; README "Paper scale"); without it the trunk starts
from scratch.
"""

from configs import default


def get_config(arg=None):
  c = default.get_config(arg)
  c.title = 'mvssl on Human3.6M'
  c.data = default.human36m_data()
  default.paper_sized(c)
  return c
