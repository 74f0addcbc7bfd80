"""The package's imports point one way and form no cycle; no module is over 400 lines.

Layers, lowest first: geometry, ops, parallel, plots <- models, losses, metrics, stats <- data <-
train <- experiments <- main, predict. A module may import its own layer or a lower one.
"""

import ast
import os

import chex

import mvssl

PACKAGE = os.path.dirname(mvssl.__file__)
LAYERS = {'geometry': 0, 'ops': 0, 'parallel': 0, 'plots': 0, 'provenance': 0,
          'compilation_cache': 0,
          'models': 1, 'losses': 1, 'metrics': 1, 'stats': 1,
          'data': 2, 'train': 3, 'experiments': 4, 'main': 5, 'predict': 5}


def _modules():
  out = {}
  for root, _, files in os.walk(PACKAGE):
    for f in files:
      if f.endswith('.py'):
        rel = os.path.relpath(os.path.join(root, f), os.path.dirname(PACKAGE))[:-3]
        name = rel.replace(os.sep, '.').removesuffix('.__init__')
        out[name] = os.path.join(root, f)
  return out


def _imports(path, modules):
  """Every mvssl module ``path`` imports, anywhere in the file (function bodies included)."""
  found = set()
  for node in ast.walk(ast.parse(open(path).read())):
    names = []
    if isinstance(node, ast.Import):
      names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [node.module] + [f'{node.module}.{a.name}' for a in node.names]
    for n in names:
      if n.startswith('mvssl.') and n in modules:
        found.add(n)
  return found


def _layer(module):
  return LAYERS[module.split('.')[1]]


def _upward(graph):
  """(importer, imported) pairs where a module imports from a higher layer."""
  return [(m, d) for m, deps in sorted(graph.items()) for d in sorted(deps)
          if d != 'mvssl' and _layer(d) > _layer(m)]


def _cycle(graph):
  """One import cycle as a list of modules, or None."""
  state = {}

  def visit(m, path):
    state[m] = 'open'
    for d in sorted(graph.get(m, ())):
      if state.get(d) == 'open':
        return path + [m, d]
      if d not in state:
        found = visit(d, path + [m])
        if found:
          return found
    state[m] = 'done'
    return None

  for m in sorted(graph):
    if m not in state:
      found = visit(m, [])
      if found:
        return found
  return None


def _graph():
  modules = _modules()
  return {m: _imports(p, modules) - {m} for m, p in modules.items() if m != 'mvssl'}


class LayeringTest(chex.TestCase):

  def test_every_module_has_a_layer(self):
    for m in _graph():
      self.assertIn(m.split('.')[1], LAYERS, f'{m}: add its package to LAYERS')

  def test_imports_point_down_and_form_no_cycle(self):
    graph = _graph()
    self.assertIn('mvssl.train.stages', graph['mvssl.experiments.paper'])   # the graph is real
    self.assertEqual(_upward(graph), [])
    self.assertIsNone(_cycle(graph))

  def test_the_checks_catch_an_upward_import_and_a_cycle(self):
    graph = {'mvssl.geometry.camera': {'mvssl.train.loop'}, 'mvssl.train.loop': set()}
    self.assertEqual(_upward(graph), [('mvssl.geometry.camera', 'mvssl.train.loop')])
    cyclic = {'mvssl.data.a': {'mvssl.data.b'}, 'mvssl.data.b': {'mvssl.data.a'}}
    self.assertEqual(_cycle(cyclic), ['mvssl.data.a', 'mvssl.data.b', 'mvssl.data.a'])

  def test_no_module_over_400_lines(self):
    for m, p in _modules().items():
      n = sum(1 for _ in open(p))
      self.assertLessEqual(n, 400, f'{p}: {n} lines')
