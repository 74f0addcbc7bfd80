"""--config.model.init_from=torchvision:PATH end to end on the smoke config (issue 11, item 1):
the fresh runs (Base, G) start from the file's trunk, fine-tunes from their init_from run, and a
finished workdir evaluates without the file."""

import os
from unittest import mock

import chex
import numpy as np
import pytest

from configs import smoke
from mvssl import main
from mvssl.models import torchvision_weights
from mvssl.train.context import Context

torch = pytest.importorskip('torch', reason='pip install torch==2.13.0 (weight import tests)')
from mvssl.models import torch_reference  # noqa: E402

pytestmark = pytest.mark.slow   # end to end: the slow tier (pyproject.toml)


class InitFromTest(chex.TestCase):

  def test_smoke_run_from_a_converted_torchvision_checkpoint(self):
    tmp = self.create_tempdir().full_path
    weights = os.path.join(tmp, 'resnet18.pth')
    torch.manual_seed(0)
    net = torch_reference.resnet(18, width=4)            # smoke trunk width, torchvision layout
    torch.save(net.state_dict(), weights)
    config = smoke.get_config()
    config.model.update(init_from='torchvision:' + weights, padding='torchvision')
    for row in ('base_gt', 'l1_only'):   # Base, G and Ours cover fresh runs and fine-tunes
      del config.runs[row]
    work = os.path.join(tmp, 'work')
    # The template a fresh run starts from holds the file's trunk.
    ctx = Context(config, work)
    state = ctx.new_state(ctx.runs['base'], pretrained=True)
    np.testing.assert_array_equal(
        np.asarray(state.params['backbone']['stem']['kernel'].value),
        net.conv1.weight.detach().numpy().transpose(2, 3, 1, 0))
    np.testing.assert_array_equal(
        np.asarray(state.batch_stats['backbone']['blocks'][7]['bn2']['var'].value),
        net.layer4[1].bn2.running_var.numpy())
    loaded = []
    real = torchvision_weights.init_from
    with mock.patch.object(torchvision_weights, 'init_from',
                           side_effect=lambda m, s: loaded.append(s) or real(m, s)):
      results = main.train_and_evaluate(config, work)
    self.assertEqual(sum(bool(x) for x in loaded), 2)   # base and G (multi) only: fresh runs
    for m in results['models'].values():
      self.assertTrue(all(np.isfinite(v['mpjpe']) for v in m.values()))
    # Evaluating the finished workdir needs no weights file.
    os.remove(weights)
    config.stage = 'evaluate'
    again = main.train_and_evaluate(config, work)
    self.assertEqual(again['models']['Ours']['mean'], results['models']['Ours']['mean'])
