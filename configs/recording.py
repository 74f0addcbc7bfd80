"""Bring your own recording: your calibrated multi-view videos or image folders are the unlabeled
data (P-GT by DLT of your 2D detections, or by G), next to a labeled dataset.

  python launch.py --config=configs/recording.py --workdir=runs/myrec \\
      --config.unlabeled_data.manual_dir=/data/myrec \\
      --config.unlabeled_data.calibration=calib.toml \\
      --config.unlabeled_data.images='images/{camera}/{frame}.jpg' \\
      --config.unlabeled_data.detections='openpose:openpose/{camera}/{frame}_keypoints.json'

Without overrides it reads the real Pose2Sim demo recording in $MVSSL_SHARED_DATA (default
../shared/data)/pose2sim_balancing (calibration.json, frames/camXX_fNNN.jpg and the h36m17_2d
detections). The labeled and test splits come from ``config.data``: the embedded rendered
default, or Human3.6M / MPI-INF-3DHP with ``--config=configs/recording.py:human36m`` (then also
``--config.data.manual_dir=...``). Fields: configs/default.py (recording_data); formats: README
and mvssl/data/recording.py.
"""

import importlib
import os

from configs import default


def get_config(arg=None):
  """arg: the labeled/test dataset, '' (embedded default), 'human36m' or 'mpi_inf_3dhp'."""
  if arg in (None, '', 'default'):
    c = default.get_config()
  elif arg in ('human36m', 'mpi_inf_3dhp'):
    c = importlib.import_module(f'configs.{arg}').get_config()
    c.data.undistort = True    # pinhole crops, so the labeled and unlabeled sets share a model
  else:
    raise ValueError(f'configs/recording.py:ARG must be human36m or mpi_inf_3dhp, got {arg!r}')
  c.title = 'mvssl with a user recording as unlabeled data'
  shared = os.environ.get('MVSSL_SHARED_DATA', '../shared/data')
  c.unlabeled_data = default.recording_data(os.path.join(shared, 'pose2sim_balancing'))
  c.pseudo_label.source = 'detections'   # 'model' runs G (trained on config.data) instead
  c.pseudo_label.robust.method = 'pose2sim'   # real detections: reject views outside the gate
  return c
