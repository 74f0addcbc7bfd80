"""MPI-INF-3DHP from the official training layout (paper protocol), paper-sized model.

  python launch.py --config=configs/mpi_inf_3dhp.py --workdir=runs/3dhp \\
      --config.data.manual_dir=/data/mpi_inf_3dhp

Reads S*/Seq*/annot.mat, camera.calibration and imageSequence/video_N.avi (decoded with OpenCV,
every k-th frame), or extracted JPEGs with --config.data.frames_from=jpeg; see
mvssl/data/mpi_inf_3dhp.py and the README. Split (paper): labeled S1-S3 / unlabeled S4-S7 /
test S8, cameras 0, 2, 7, 8.
"""

from configs import default


def get_config(arg=None):
  c = default.get_config(arg)
  c.title = 'mvssl on MPI-INF-3DHP'
  d = c.data
  d.dataset = 'mpi_inf_3dhp'
  d.manual_dir = ''                # required: the folder holding S1..S8
  d.layout = 'official'            # official (annot.mat + videos) | mmpose (npz + cameras pkl)
  d.frames_from = 'video'          # official: video (imageSequence/video_N.avi) | jpeg
  d.cameras = (0, 2, 7, 8)
  d.sequences = ('Seq1', 'Seq2')
  d.subjects.labeled = ['S1', 'S2', 'S3']
  d.subjects.unlabeled = ['S4', 'S5', 'S6', 'S7']
  d.subjects.test = ['S8']
  d.every_by_split.labeled = 10    # every k-th 25/50 fps frame per split
  d.every_by_split.unlabeled = 10
  d.every_by_split.test = 64
  d.box_scale = 1.2                # square box around the projected joints, scaled
  default.paper_sized(c)
  return c
