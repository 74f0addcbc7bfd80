"""The entry point: every config's fields are declared in configs/default.py, an undeclared field
fails when parsed, a bad value fails before anything runs, with one line naming the field."""

import glob
import importlib
import os
import re
import subprocess
import sys
from unittest import mock

import chex

from configs import default
from mvssl import main

ROOT = os.path.join(os.path.dirname(__file__), '..')
CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(ROOT, 'configs', '*.py'))
                 if not p.endswith('__init__.py'))
DATA_BLOCKS = dict(rendered=default.rendered_data, human36m=default.human36m_data,
                   mpi_inf_3dhp=default.mpi_inf_3dhp_data, recording=default.recording_data,
                   h36m_2d=default.motion2d_data)


def _keys(c, prefix=''):
  out = set()
  for k, v in c.items():
    out.add(prefix + k)
    if hasattr(v, 'items') and k not in ('runs', 'schedules', 'data', 'unlabeled_data'):
      out |= _keys(v, f'{prefix}{k}.')
  return out


class ConfigFieldsTest(chex.TestCase):

  def test_every_config_uses_only_declared_fields(self):
    declared = _keys(default.get_config())
    run_fields = _keys(default.run('x', 'integral', 'finetune'))
    schedule_fields = set(default.schedule(1, 1, 1.0))
    self.assertGreaterEqual(len(CONFIGS), 7)
    for module in CONFIGS:
      mod = importlib.import_module(f'configs.{module}')
      for arg in getattr(mod, 'ARGS', None) or getattr(mod, 'PROTOCOLS', (None,)):
        self._check_declared(module, arg, declared, run_fields, schedule_fields)

  def _check_declared(self, module, arg, declared, run_fields, schedule_fields):
    c = importlib.import_module(f'configs.{module}').get_config(arg)
    name = f'{module}:{arg}'
    self.assertEqual(_keys(c) - declared, set(), name)
    for block in (c.data, c.unlabeled_data):
      if block is not None:
        self.assertEqual(set(block) - set(DATA_BLOCKS[block.dataset]()), set(), name)
    for r in c.runs.values():
      self.assertEqual(_keys(r) - run_fields, set(), name)
    for s in c.schedules.values():
      self.assertEqual(set(s) - schedule_fields, set(), name)
    main.validate(c)

  def test_every_field_of_default_has_a_comment(self):
    text = open(os.path.join(ROOT, 'configs', 'default.py')).read()
    lines = text[:text.index('def paper_sized')].splitlines()    # declarations, not overrides
    for i, line in enumerate(lines):
      if re.match(r'^\s+[a-z]\.\w+ = ', line) and 'ConfigDict()' not in line:
        self.assertTrue('#' in line or lines[i - 1].strip().startswith('#'),
                        f'configs/default.py:{i + 1}: field without a comment: {line.strip()}')

  def test_code_reads_config_fields_without_hidden_defaults(self):
    pattern = re.compile(r'\b(config|cfg|\w+_cfg|schedule)\.get\(')
    for path in glob.glob(os.path.join(ROOT, 'mvssl', '**', '*.py'), recursive=True):
      for i, line in enumerate(open(path), 1):
        self.assertIsNone(pattern.search(line), f'{path}:{i}: {line.strip()}')

  def test_launch_rejects_an_undeclared_field_and_names_a_bad_value(self):
    tmp = self.create_tempdir().full_path

    def launch(*overrides):
      return subprocess.run([sys.executable, os.path.join(ROOT, 'launch.py'),
                             '--config=' + os.path.join(ROOT, 'configs', 'smoke.py'),
                             f'--workdir={tmp}/run', *overrides],
                            capture_output=True, text=True, cwd=ROOT, timeout=300)
    old = launch('--config.finetune.mode=mvc')        # the old spelling of a fine-tune's mode
    self.assertNotEqual(old.returncode, 0)
    self.assertIn('config.finetune.mode', old.stderr)
    bad = launch('--config.stage=finetune')
    self.assertNotEqual(bad.returncode, 0)
    self.assertIn("error: config.stage must be one of all, build", bad.stderr)
    self.assertNotIn('Traceback', bad.stderr)
    self.assertFalse(os.path.exists(os.path.join(tmp, 'run')))


class ValidateTest(chex.TestCase):

  def _assert_named(self, cases):
    """Each (field, bad value, message): one ValueError line before anything is written."""
    tmp = self.create_tempdir().full_path
    for field, value, message in cases:
      c = default.get_config()
      *parents, leaf = field.split('.')
      node = c
      for p in parents:
        node = node[p]
      node[leaf] = value
      with self.assertRaisesRegex(ValueError, message):
        main.train_and_evaluate(c, os.path.join(tmp, field))
      self.assertFalse(os.path.exists(os.path.join(tmp, field)), field)   # nothing written

  def test_bad_values_are_named_before_anything_runs(self):
    cases = [('experiment', 'ablation', r'config.experiment must be one of g_variants, paper, pose2sim'),
             ('stage', 'finetune', r"config.stage must be one of all, build, evaluate, "
                                   r"pseudo_label, base, base_gt, l1_only, multi, ours; "
                                   r"got 'finetune'"),
             ('parallel', 'vmap', r'config.parallel must be one of shard_map, pmap'),
             ('optimizer.name', 'sgd', r'config.optimizer.name must be one of adam, adamw'),
             ('input.augment', 'mixup', r'config.input.augment must be one of none, colour'),
             ('input.shift', 0.6, r'config.input.shift must be in \[0, 0.5\)'),
             ('pseudo_label.source', 'oracle', r'config.pseudo_label.source must be one of'),
             ('data.dataset', 'coco',
              r"config.data.dataset must be one of \['h36m_2d', 'human36m'"),
             ('model.padding', 'reflect', r'config.model.padding must be one of same, '
                                          r'torchvision'),
             ('model.dtype', 'float16', r'config.model.dtype must be one of bfloat16, float32'),
             ('model.init_from', 'imagenet:/w.pth', r'config.model.init_from must be "" or '
                                                    r'"torchvision:PATH"'),
             ('model.init_from', 'torchvision:/w.pth',
              r"loads torchvision weights: set config.model.padding='torchvision'")]
    self._assert_named(cases)

  def test_bad_heatmap_sigmas_are_named(self):
    for field, value, message in (('sigma', 'set3', r"config.model.g.sigma: sigma must be a "
                                                    r"positive number or one of \['set1'"),
                                  ('fixed_sigma', '-1', r'config.model.g.fixed_sigma: ')):
      c = default.get_config()
      c.model.g.target = 'gaussian'
      c.model.g[field] = value
      with self.assertRaisesRegex(ValueError, message):
        main.validate(c)

  def test_bad_sizes_and_counts_are_named(self):
    cases = [('model.image_size', 48, r'config.model.image_size must be a multiple of 32 .*'
                                      r'got 48, e.g. use 64'),
             ('model.image_size', 30, r'got 30, e.g. use 32'),
             ('schedules.finetune.batch_size', 0,
              r'config.schedules.finetune.batch_size must be a whole number >= 1; got 0'),
             ('schedules.pretrain_single.steps', -5,
              r'config.schedules.pretrain_single.steps must be a whole number >= 1; got -5')]
    self._assert_named(cases)

  def test_the_config_is_recorded_once_and_earlier_ones_kept(self):
    tmp = self.create_tempdir().full_path
    c = default.get_config()
    self.assertIsNone(main.record_config(c, tmp))
    first = open(os.path.join(tmp, 'config.json')).read()
    mtime = os.stat(os.path.join(tmp, 'config.json')).st_mtime_ns
    self.assertIsNone(main.record_config(c, tmp))                     # the same: untouched
    self.assertEqual(os.stat(os.path.join(tmp, 'config.json')).st_mtime_ns, mtime)
    c.stage = 'evaluate'
    kept = main.record_config(c, tmp)
    self.assertEqual(kept, os.path.join(tmp, 'config.1.json'))
    self.assertEqual(open(kept).read(), first)
    self.assertIn('"stage": "evaluate"', open(os.path.join(tmp, 'config.json')).read())
    # A read-only workdir (a finished run re-evaluated): a warning, nothing raised.
    with mock.patch('builtins.open', side_effect=PermissionError(13, 'Permission denied')):
      with self.assertLogs('mvssl', 'WARNING') as logs:
        self.assertIsNone(main.record_config(default.get_config(), tmp))
    self.assertIn('could not record the config', logs.output[0])


class DiskFullTest(chex.TestCase):
  """A full disk is one line naming what could not be written and the remedy (measured: a
  checkpoint write on a full disk printed 1296 lines and 150 tracebacks before)."""

  def test_a_full_disk_is_recognised_however_it_is_raised(self):
    sys.path.insert(0, ROOT)
    launch = importlib.import_module('launch')
    orbax = ValueError('RESOURCE_EXHAUSTED: Error writing local file "/w/checkpoints/base/4.tmp/'
                       '_sharding": Failed writing: "/w/x.__lock": Failed to write 70051 bytes '
                       "to file 11: No space left on device [os_error_code='28']")
    self.assertEqual(launch.disk_full(orbax),
                     'no space left writing /w/checkpoints/base/4.tmp/_sharding')
    try:
      try:
        raise OSError(28, 'No space left on device', '/w/pgt/pgt.npz')
      except OSError as e:
        raise RuntimeError('saving the P-GT failed') from e
    except RuntimeError as e:
      self.assertEqual(launch.disk_full(e), 'no space left writing /w/pgt/pgt.npz')
    self.assertIsNone(launch.disk_full(ValueError('config.model.image_size must be ...')))
    self.assertIsNone(launch.disk_full(OSError(13, 'Permission denied', '/w/config.json')))

  def test_events_that_cannot_be_flushed_are_a_warning(self):
    from mvssl.train import summaries
    events = summaries.Summaries(self.create_tempdir().full_path)
    events.scalars(1, {'loss': 1.0})
    event_writer = events.writer.file_writer.event_writer
    worker = event_writer._worker
    with mock.patch.object(event_writer._ev_writer, 'flush',
                           side_effect=OSError(28, 'No space left on device')):
      with self.assertLogs('mvssl', 'WARNING') as logs:
        events.close()
      self.assertIn('TensorBoard events in', logs.output[0])
      # tensorboardX's exit hook closes the writer again: it must not retry the failed write
      # (a traceback after the run's one-line error), and its thread has stopped.
      event_writer.close()
    self.assertFalse(worker.is_alive())
