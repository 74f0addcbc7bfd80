"""The locks agree with pyproject.toml, and a changed pyproject.toml is caught."""

import importlib.util
import os
import shutil

import chex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location('tools_lock', os.path.join(ROOT, 'tools', 'lock.py'))
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)


class LockTest(chex.TestCase):

  def test_the_committed_locks_agree_with_pyproject(self):
    self.assertEqual(lock.problems(), [])
    pins = lock.pins(lock.CORE)
    self.assertIn('jax', pins)
    with open(os.path.join(ROOT, lock.CORE)) as f:
      text = f.read()
    self.assertIn('--hash=sha256:', text)
    self.assertTrue(lock.lock_digest().startswith('sha256:'))

  def test_a_changed_pyproject_or_an_unmet_pin_is_named_with_the_remedy(self):
    tmp = self.create_tempdir().full_path
    for name in ('pyproject.toml', lock.CORE):
      shutil.copy(os.path.join(ROOT, name), tmp)
    shutil.copytree(os.path.join(ROOT, 'requirements'), os.path.join(tmp, 'requirements'))
    old = lock.ROOT
    lock.ROOT = tmp
    try:
      path = os.path.join(tmp, 'pyproject.toml')
      text = open(path).read()
      with open(path, 'w') as f:
        f.write(text.replace('"jax>=0.10,<0.11",', '"jax>=0.11",'))
      found = lock.problems()
      self.assertTrue(any(p.startswith('requirements.lock: pyproject.toml [project] '
                                       'dependencies changed') for p in found), found)
      self.assertTrue(any('jax==0.10.2 does not satisfy' in p for p in found), found)
      self.assertTrue(all('python tools/lock.py compile' in p for p in found), found)
      os.remove(os.path.join(tmp, 'requirements', 'docs.lock'))
      self.assertIn('requirements/docs.lock: missing; run `python tools/lock.py compile` and '
                    'commit requirements/docs.lock', lock.problems())
    finally:
      lock.ROOT = old
