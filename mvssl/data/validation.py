"""The held-out labeled validation split: whole sequences of the labeled subjects.

Every choice a method makes (a loss weight, G's heatmap multiplier, a routing of L_MVC) is made
on data the method is allowed to have: labeled frames it never trains on. The unlabeled split's
hidden GT is labels the method claims not to need, so it stays a diagnosis and never chooses.

Per labeled subject, a fixed share of its sequences is held out (``config.validation``:
``share``, ``seed``): the sequences ranked by SHA-1 of ``'{seed}/{subject}/{sequence}'``, the
first ``round(share * n)`` of the subject's n sequences held out (at least one when share > 0
and the subject has two or more, never all). Whole sequences, never frames of one sequence on
both sides: consecutive frames of a sequence are near-duplicates, so a frame-level split would
score the model on what it trained on. Frames of the procedural default are independent draws,
each its own sequence.
"""

from __future__ import annotations

import hashlib

import numpy as np


def check(share, seed) -> None:
  """Raises ValueError naming the field for a share outside [0, 0.5] or a seed that is not a
  whole number."""
  if not isinstance(share, (int, float)) or isinstance(share, bool) or not 0.0 <= share <= 0.5:
    raise ValueError(f'config.validation.share must be in [0, 0.5] (the share of each labeled '
                     f'subject\'s sequences held out; 0 = no validation split), got {share!r}')
  if not isinstance(seed, int) or isinstance(seed, bool):
    raise ValueError(f'config.validation.seed must be a whole number, got {seed!r}')


def _rank(seed: int, subject: str, sequence: str) -> str:
  return hashlib.sha1(f'{seed}/{subject}/{sequence}'.encode()).hexdigest()


def held_out_sequences(subjects, sequences, share: float, seed: int = 0) -> set:
  """The (subject, sequence) pairs held out (module docstring).

  Args:
    subjects, sequences: [N] per-frame subject and sequence names.
    share: fraction of each subject's sequences held out, in [0, 0.5].
    seed: which sequences (a different seed holds out others).
  """
  out = set()
  if share <= 0:
    return out
  by_subject = {}
  for s, q in set(zip(map(str, subjects), map(str, sequences))):
    by_subject.setdefault(s, []).append(q)
  for s, seqs in by_subject.items():
    n = len(seqs)
    k = min(n - 1, max(1, int(round(share * n)))) if n >= 2 else 0
    out.update((s, q) for q in sorted(seqs, key=lambda q: _rank(seed, s, q))[:k])
  return out


def mask(subjects, sequences, share: float, seed: int = 0) -> np.ndarray:
  """[N] bool: True for the frames of held-out sequences (:func:`held_out_sequences`)."""
  held = held_out_sequences(subjects, sequences, share, seed)
  return np.array([(str(s), str(q)) in held for s, q in zip(subjects, sequences)], bool)
