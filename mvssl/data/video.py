"""Video frames for the dataset builders (MPI-INF-3DHP's .avi files, a user's recordings)."""

from __future__ import annotations

import os

import cv2
import numpy as np


def frame_count(path: str) -> int:
  """Number of frames OpenCV reports for the video at ``path``.

  Raises:
    FileNotFoundError: naming the file when it does not exist.
  """
  if not os.path.exists(path):
    raise FileNotFoundError(f'{path}: video not found')
  cap = cv2.VideoCapture(path)
  try:
    return int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
  finally:
    cap.release()


class VideoReader:
  """Sequential OpenCV decoding of one video, returning the frames asked for in increasing order.

  Args:
    path: the video file.
    hint: appended to the "not found" error (e.g. a dataset's download instructions).
  Raises:
    FileNotFoundError / ValueError: naming the file when it is missing or OpenCV cannot open it.
  """

  def __init__(self, path: str, hint: str = ''):
    if not os.path.exists(path):
      raise FileNotFoundError(f'{path}: video not found.' + (f'\n{hint}' if hint else ''))
    self.path, self.cap, self.pos = path, cv2.VideoCapture(path), 0
    if not self.cap.isOpened():
      raise ValueError(f'{path}: OpenCV cannot open this video')

  def read(self, index: int) -> np.ndarray:
    """Frame ``index`` (0-based) as uint8 BGR [H, W, 3]; indices must increase."""
    if index < self.pos:
      raise ValueError(f'{self.path}: frames must be read in increasing order')
    while self.pos < index:
      if not self.cap.grab():
        raise ValueError(f'{self.path}: video ends before frame {index}')
      self.pos += 1
    ok, img = self.cap.read()
    if not ok:
      raise ValueError(f'{self.path}: video ends before frame {index}')
    self.pos += 1
    return img

  def close(self):
    self.cap.release()
