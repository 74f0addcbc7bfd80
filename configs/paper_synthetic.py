"""Paper-size training on the embedded rendered dataset: the paper's model and input (ResNet-50,
384 px crops, 96^3 volumes, geometric augmentation) for a short schedule, so that anyone with a
GPU/TPU measures the paper-size path end to end without downloading anything.

  python launch.py --config=configs/paper_synthetic.py --workdir=runs/paper_synthetic

Every stage runs (dataset build at 384 px, G, P-GT, Base / L1-only / Ours) with 200 steps per
run (``--config.schedules.<name>.steps`` to change); the log prints steps/s and the README's
accelerator table quotes them (benchmarks/accelerator.sh runs this). Add
``--config.model.init_from=torchvision:PATH`` for ImageNet weights and
``--config.model.dtype=bfloat16`` for mixed precision. The numbers it reports after 200 steps
measure speed, not accuracy.
"""

from configs import default


def get_config(arg=None):
  c = default.get_config(arg)
  c.title = 'mvssl paper-size model on the rendered dataset (speed run)'
  default.paper_sized(c)
  c.input.num_threads = 8
  c.log_every = 20
  c.save_every = 200
  for s in c.schedules.values():
    s.update(steps=200, warmup=20)
  return c
