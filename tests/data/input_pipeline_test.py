"""The grain input pipeline: deterministic order, exact resume, per-process sharding."""

import chex
import numpy as np

from mvssl.data import input_pipeline


def _arrays(n=10):
  rng = np.random.default_rng(0)
  return dict(idx=np.arange(n), images=rng.integers(0, 255, (n, 2, 8, 8, 3), dtype=np.uint8))


def _take(it, k):
  return [next(it) for _ in range(k)]


class InputPipelineTest(chex.TestCase):

  def test_every_epoch_is_a_new_permutation_and_runs_repeat(self):
    ds = input_pipeline.make_dataset(_arrays(), batch_size=5, seed=3, process_count=1,
                                     process_index=0)
    a = np.concatenate([b['idx'] for b in _take(input_pipeline.iterator(ds), 6)])
    b = np.concatenate([b['idx'] for b in _take(input_pipeline.iterator(ds), 6)])
    np.testing.assert_array_equal(a, b)
    epochs = a.reshape(3, 10)
    for e in epochs:
      np.testing.assert_array_equal(np.sort(e), np.arange(10))
    self.assertFalse(np.array_equal(epochs[0], epochs[1]))
    other = input_pipeline.make_dataset(_arrays(), batch_size=5, seed=4, process_count=1,
                                        process_index=0)
    self.assertFalse(np.array_equal(next(input_pipeline.iterator(other))['idx'], a[:5]))

  def test_resume_from_state_continues_the_exact_sequence(self):
    ds = input_pipeline.make_dataset(_arrays(), batch_size=4, seed=0,
                                     augment_fn=input_pipeline.colour_jitter, process_count=1,
                                     process_index=0)
    it = input_pipeline.iterator(ds, num_threads=2)
    _take(it, 3)
    state = it.get_state()
    rest = _take(it, 4)
    resumed = _take(input_pipeline.iterator(ds, num_threads=2, state=state), 4)
    for x, y in zip(rest, resumed):
      np.testing.assert_array_equal(x['idx'], y['idx'])
      np.testing.assert_array_equal(x['images'], y['images'])

  def test_thread_count_does_not_change_examples(self):
    ds = input_pipeline.make_dataset(_arrays(), batch_size=4, seed=0,
                                     augment_fn=input_pipeline.colour_jitter, process_count=1,
                                     process_index=0)
    one = _take(input_pipeline.iterator(ds, num_threads=1), 5)
    three = _take(input_pipeline.iterator(ds, num_threads=3), 5)
    for x, y in zip(one, three):
      np.testing.assert_array_equal(x['images'], y['images'])

  def test_processes_together_read_the_global_batch(self):
    kw = dict(batch_size=4, seed=1, augment_fn=input_pipeline.colour_jitter)
    single = _take(input_pipeline.iterator(input_pipeline.make_dataset(
        _arrays(), process_index=0, process_count=1, **kw)), 5)
    per = [_take(input_pipeline.iterator(input_pipeline.make_dataset(
        _arrays(), process_index=p, process_count=2, **kw)), 5) for p in range(2)]
    for k in range(5):
      self.assertEqual(per[0][k]['idx'].shape, (2,))
      idx = np.concatenate([per[0][k]['idx'], per[1][k]['idx']])
      self.assertEqual(sorted(idx.tolist()), sorted(single[k]['idx'].tolist()))
      # Same example, same augmentation, whichever process reads it.
      for p in range(2):
        for row, i in enumerate(per[p][k]['idx']):
          j = int(np.nonzero(single[k]['idx'] == i)[0][0])
          np.testing.assert_array_equal(per[p][k]['images'][row], single[k]['images'][j])

  def test_bad_input_is_named(self):
    with self.assertRaisesRegex(ValueError, 'same length'):
      input_pipeline.make_dataset(dict(a=np.zeros(3), b=np.zeros(4)), batch_size=1, seed=0)
    with self.assertRaisesRegex(ValueError, 'empty dataset'):
      input_pipeline.make_dataset(dict(a=np.zeros(0)), batch_size=1, seed=0)
    with self.assertRaisesRegex(ValueError, 'does not divide by 2 processes'):
      input_pipeline.make_dataset(_arrays(), batch_size=3, seed=0, process_index=0,
                                  process_count=2)
