"""Model families: what network a run trains, on which codec, with which loss, and how it
predicts poses. Rows of the run table (:mod:`mvssl.train.runs`) name a family.

=========== =============================== ===================== ==========================
family      network                         codec                 predicts
=========== =============================== ===================== ==========================
integral    IntegralPoseNet (images)        HeatmapCodec (eq. 4-8) a world pose per view
algebraic   AlgebraicTriangulationNet (G)   HeatmapCodec           a triangulated pose per frame
lifting     LiftingNet (2D joints)          RootRelativeCodec      a world-oriented pose per view
metrabs     MetrabsNet (metric 3D + 2D)     CameraCodec            an absolute world pose per view
metro       MetrabsNet (metric 3D alone)    RootRelativeCodec      a world-oriented pose per view
rootnet     RootNet (root cell, gamma * k)  RootCodec              the world root per view
=========== =============================== ===================== ==========================

Losses run per device inside the one compiled step (:mod:`mvssl.train.step`) as
``loss(model, batch, codec, weights, rng)``; see :mod:`mvssl.train.heatmap_family` and
:mod:`mvssl.train.lifting_family`, :mod:`mvssl.train.absolute_family`.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import NamedTuple

from mvssl.geometry import root_relative
from mvssl.models import absolute_nets
from mvssl.models import lifting as lifting_model
from mvssl.models import pose_net
from mvssl.train import absolute_family
from mvssl.train import heatmap_family
from mvssl.train import lifting_family


class LossWeights(NamedTuple):
  """Weights of a run's loss terms: l1 (L1, or G's 2D L1), mvc (L_MVC, eq. 10), mm_3d (G's 3D L1
  per mm), l2 (lifting: MSE of the normalised outputs, Martinez et al.'s loss)."""
  l1: float = 1.0
  mvc: float = 0.0
  mm_3d: float = 0.0
  l2: float = 0.0


def _unchanged(state, arrays, codec):
  del arrays, codec
  return state


@dataclasses.dataclass(frozen=True)
class Family:
  """A model family.

  Attributes:
    name: the family's name.
    inputs: the split field the network reads ('images' or 'keypoints_2d').
    build: build(config.model, axis_name=, seed=) -> the NNX network.
    codec: codec(config.model) -> its codec (:mod:`mvssl.geometry.codec`).
    loss: loss(model, batch, codec, LossWeights, rng, mvc_options) -> (loss [], aux dict), per
      device (``mvc_options``: :class:`mvssl.losses.MvcOptions`).
    per_view: True when it predicts one pose per view (evaluated per camera), False when one
      pose per multi-view frame (evaluated as a whole).
    predict: predict(state, split, codec) -> world poses [N, V, J, 3] (per_view) or [N, J, 3].
    prepare: prepare(state, training arrays, codec) -> state, once before a fresh run trains.
    project: project(config.model) -> params -> params after every update, or None.
    root_relative: its world poses have the root at the origin (no root depth predicted).
    root_only: it predicts the root joint alone ([N, V, 1, 3]; RootNet), scored by MRPE.
    l1_name: what its L1 term is, for the report.
  """
  name: str
  inputs: str
  build: Callable
  codec: Callable
  loss: Callable
  per_view: bool
  predict: Callable
  prepare: Callable = _unchanged
  project: Callable | None = None
  root_relative: bool = False
  root_only: bool = False
  l1_name: str = 'L1'


def _absolute(name: str, loss, **kw) -> Family:
  return Family(name, 'images', functools.partial(absolute_nets.build, name),
                absolute_family.codec(name), loss, True, absolute_family.predictor(name), **kw)


FAMILIES = dict(
    integral=Family('integral', 'images', functools.partial(pose_net.build, 'integral'),
                    pose_net.heatmap_codec, heatmap_family.integral_loss, True,
                    heatmap_family.predict_views),
    algebraic=Family('algebraic', 'images', functools.partial(pose_net.build, 'algebraic'),
                     pose_net.heatmap_codec, heatmap_family.algebraic_loss, False,
                     lambda state, d, codec: heatmap_family.predict_triangulated(
                         state, d, codec)[0]),
    lifting=Family('lifting', 'keypoints_2d', lifting_model.build,
                   lambda model_cfg: root_relative.RootRelativeCodec(),
                   lifting_family.lifting_loss, True, lifting_family.predict_views,
                   prepare=lifting_family.prepare,
                   project=lambda model_cfg: functools.partial(
                       lifting_model.max_norm, limit=float(model_cfg.lifting.max_norm)),
                   root_relative=True),
    metrabs=_absolute('metrabs', absolute_family.metrabs_loss,
                      l1_name='L1 (metric 3D + 2D + absolute after the warm-up)'),
    metro=_absolute('metro', absolute_family.metro_loss, root_relative=True),
    rootnet=_absolute('rootnet', absolute_family.rootnet_loss, root_only=True,
                      l1_name='L1 (root cell x, y and depth)'),
)
