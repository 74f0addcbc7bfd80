"""Tiny CPU config for tests and CI smoke runs (big_vision's "runlocal").

  python launch.py --config=configs/smoke.py --workdir=/tmp/mvssl_smoke

``shrink(config)`` applies the same tiny sizes to any other config (tests use it on the
real-dataset configs).
"""

from configs import default


def shrink(c):
  """Tiny image, model and schedules, in place; returns ``c``."""
  c.log_every = 2
  c.save_every = 3
  c.input.num_threads = 2
  for d in (c.data, c.unlabeled_data):
    if d is not None and 'num_workers' in d:
      d.num_workers = 2
  c.model.update(image_size=32, resnet_depth=18, num_filters=4, deconv_channels=8, depth_bins=8)
  for s in c.schedules.values():
    s.update(steps=4, batch_size=2, warmup=1)
  return c


def get_config(arg=None):
  c = shrink(default.get_config(arg))
  c.title = 'mvssl smoke test'
  c.data.frames.update(labeled=12, unlabeled=8, test=4)
  return c
