"""mvssl.provenance.write_json: a tool's results file carries who wrote it."""

import json
import os

from absl.testing import absltest

from mvssl import provenance


class WriteJsonTest(absltest.TestCase):

  def test_data_and_written_by_round_trip(self):
    path = os.path.join(self.create_tempdir().full_path, 'r.json')
    wrote = provenance.write_json(path, dict(table=[1.5, 2.0], name='x'), seeds=(0, 1))
    with open(path) as f:
      back = json.load(f)
    self.assertEqual(back, wrote)
    self.assertEqual((back['table'], back['name']), ([1.5, 2.0], 'x'))
    by = back['provenance']['written_by']
    self.assertEqual(by['seeds'], [0, 1])
    self.assertEqual(by['lock'], provenance.lock_digest())
    self.assertTrue(by['commit'] and by['command'])


if __name__ == '__main__':
  absltest.main()
