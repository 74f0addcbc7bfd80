"""MPI-INF-3DHP from the official training layout (paper protocol), paper-sized model.

  python launch.py --config=configs/mpi_inf_3dhp.py --workdir=runs/3dhp \\
      --config.data.manual_dir=/data/mpi_inf_3dhp

Reads S*/Seq*/annot.mat, camera.calibration and imageSequence/video_N.avi (decoded with OpenCV,
every k-th frame), or extracted JPEGs with --config.data.frames_from=jpeg; see
mvssl/data/mpi_inf_3dhp.py and the README. Split (paper): labeled S1-S3 / unlabeled S4-S7 /
test S8, cameras 0, 2, 7, 8. The fields of the data block are declared in configs/default.py
(mpi_inf_3dhp_data).
"""

from configs import default


def get_config(arg=None):
  c = default.get_config(arg)
  c.title = 'mvssl on MPI-INF-3DHP'
  c.data = default.mpi_inf_3dhp_data()
  default.paper_sized(c)
  return c
