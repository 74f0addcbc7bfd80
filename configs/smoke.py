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
  c.data.image_size = 32
  c.data.num_workers = 2
  c.input.num_threads = 2
  c.model.resnet_depth = 18
  c.model.num_filters = 4
  c.model.deconv_channels = 8
  c.model.depth_bins = 8
  for s in (c.pretrain_single, c.pretrain_multi, c.finetune):
    s.steps = 4
    s.batch_size = 2
    s.warmup = 1
  return c


def get_config(arg=None):
  c = shrink(default.get_config(arg))
  c.title = 'mvssl smoke test'
  c.data.frames.labeled = 12
  c.data.frames.unlabeled = 8
  c.data.frames.test = 4
  return c
