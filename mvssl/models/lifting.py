"""The 2D-to-3D lifting network of Martinez, Hossain, Romero, Little, "A simple yet effective
baseline for 3d human pose estimation" (ICCV 2017).

2D joints [B, J, 2] (px) -> normalised (per coordinate by the training set's mean and std,
optionally after a per-pose centring and scaling) -> Linear(2J, H) -> BN -> ReLU -> Dropout ->
``num_blocks`` residual blocks of 2 x (Linear(H, H) -> BN -> ReLU -> Dropout) -> Linear(H, 3(J-1))
-> de-normalised root-relative 3D of the J-1 non-root joints in the camera frame (mm); the root
is 0. The paper's sizes: H = 1024, 2 blocks, dropout 0.5, a max-norm constraint on the weights.
The constraint differs in form from the authors' code, which clips each whole weight matrix to
norm 1 inside the forward pass (``tf.clip_by_norm(w, 1)``): here every unit's incoming weights
are projected to norm <= 1 after every update (:func:`max_norm`, the max-norm of Srivastava et
al. 2014), so the stored weights are the used ones.

With ``scale_head`` the network also predicts, per non-root joint and camera axis, the scale b
(mm) of a Laplace distribution of its error: a Linear(H, 3(J-1)) on the last hidden features,
held fixed (stop-gradient), so that the head learns from the pose head's errors without changing
them (Kendall & Gal, NeurIPS 2017, aleatoric uncertainty; trained by the Laplace negative
log-likelihood, :func:`mvssl.train.lifting_family.lifting_loss`). Its b, not dropout's spread,
is then the uncertainty that L_MVC's 'uncertainty' routing takes.

The normalisation statistics are :class:`NormStat` variables: not trained, set once from the
training set (:meth:`LiftingNet.set_statistics`) and saved with the batch-norm statistics.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

_kaiming = nnx.initializers.variance_scaling(2.0, 'fan_in', 'normal')


class NormStat(nnx.BatchStat):
  """A fixed normalisation statistic (carried and checkpointed with the batch statistics)."""


def pose_frame(kp: jax.Array, eps: float = 1e-3):
  """Per-pose centre and scale of 2D joints [..., J, 2] px: the centre and side of their
  bounding square, as a person crop would give. -> (centre [..., 1, 2] px, side [..., 1, 1] px)."""
  lo, hi = kp.min(axis=-2, keepdims=True), kp.max(axis=-2, keepdims=True)
  side = jnp.maximum(jnp.max(hi - lo, axis=-1, keepdims=True), eps)
  return (lo + hi) / 2, side


class LiftingNet(nnx.Module):
  """Call: kp [B, J, 2] px, train, key (dropout, training only) -> [B, J, 3] root-relative
  camera-frame joints (mm), root joint 0 exactly zero. ``scale_head``: also the Laplace scale of
  the error (:meth:`log_scale`; module docstring)."""

  def __init__(self, *, num_joints: int = 17, hidden: int = 1024, num_blocks: int = 2,
               dropout: float = 0.5, pose_norm: bool = False, root: int = 0, axis_name=None,
               scale_head: bool = False, rngs: nnx.Rngs):
    self.num_joints, self.dropout, self.pose_norm, self.root = num_joints, dropout, pose_norm, root
    din, dout = 2 * num_joints, 3 * (num_joints - 1)

    def linear(a, b):
      return nnx.Linear(a, b, kernel_init=_kaiming, rngs=rngs)

    def bn():
      return nnx.BatchNorm(hidden, momentum=0.9, axis_name=axis_name, rngs=rngs)

    self.inp, self.inp_bn = linear(din, hidden), bn()
    self.layers = nnx.List([linear(hidden, hidden) for _ in range(2 * num_blocks)])
    self.bns = nnx.List([bn() for _ in range(2 * num_blocks)])
    self.out = linear(hidden, dout)
    self.in_mean, self.in_std = NormStat(jnp.zeros(din)), NormStat(jnp.ones(din))
    self.out_mean, self.out_std = NormStat(jnp.zeros(dout)), NormStat(jnp.ones(dout))
    # created last, so that every other weight is drawn as without it; zero: b starts at the
    # training set's standard deviation of each coordinate
    self.error_scale = nnx.Linear(hidden, dout, kernel_init=nnx.initializers.zeros,
                                  rngs=rngs) if scale_head else None

  def inputs(self, kp: jax.Array) -> jax.Array:
    """2D joints [B, J, 2] px -> the network's flat input [B, 2J] before the dataset statistics
    (per-pose centred and scaled when ``pose_norm``)."""
    if self.pose_norm:
      centre, side = pose_frame(kp)
      kp = (kp - centre) / side
    return kp.reshape(kp.shape[0], -1)

  def targets(self, pose_rel: jax.Array) -> jax.Array:
    """Root-relative 3D [B, J, 3] mm -> flat [B, 3(J-1)] of the non-root joints."""
    keep = [j for j in range(self.num_joints) if j != self.root]
    return pose_rel[:, keep].reshape(pose_rel.shape[0], -1)

  def set_statistics(self, kp: np.ndarray, pose_rel: np.ndarray, eps: float = 1e-6):
    """Input and output normalisation from training pairs: kp [N, J, 2] px, pose_rel [N, J, 3]
    root-relative camera-frame mm (per coordinate mean and standard deviation)."""
    x = np.asarray(self.inputs(jnp.asarray(kp, jnp.float32)))
    y = np.asarray(self.targets(jnp.asarray(pose_rel, jnp.float32)))
    self.in_mean.value, self.in_std.value = jnp.asarray(x.mean(0)), jnp.asarray(x.std(0) + eps)
    self.out_mean.value, self.out_std.value = jnp.asarray(y.mean(0)), jnp.asarray(y.std(0) + eps)

  def normalised(self, flat_3d: jax.Array) -> jax.Array:
    """Flat non-root 3D [B, 3(J-1)] mm -> the network's output units."""
    return (flat_3d - self.out_mean.value) / self.out_std.value

  def _drop(self, x, train, key):
    if not train or key is None or self.dropout <= 0:
      return x
    keep = jax.random.bernoulli(key, 1.0 - self.dropout, x.shape)
    return jnp.where(keep, x / (1.0 - self.dropout), 0.0)

  def features(self, kp: jax.Array, train: bool = False, key=None,
               sample: bool = False) -> jax.Array:
    """kp [B, J, 2] px -> the last hidden features [B, H]. ``sample``: one Monte-Carlo dropout
    draw (dropout from ``key``, BatchNorm on its running statistics, which it leaves unchanged)."""
    keys = [None] * (1 + len(self.layers)) if key is None else \
        list(jax.random.split(key, 1 + len(self.layers)))
    drop = train or sample
    x = (self.inputs(kp) - self.in_mean.value) / self.in_std.value
    x = self._drop(nnx.relu(self.inp_bn(self.inp(x), use_running_average=not train)), drop,
                   keys[0])
    for i in range(0, len(self.layers), 2):
      h = x
      for k in (i, i + 1):
        h = self._drop(nnx.relu(self.bns[k](self.layers[k](h), use_running_average=not train)),
                       drop, keys[1 + k])
      x = x + h
    return x

  def raw(self, kp: jax.Array, train: bool = False, key=None, sample: bool = False) -> jax.Array:
    """kp [B, J, 2] px -> normalised output [B, 3(J-1)] (``sample``: as :meth:`features`)."""
    return self.out(self.features(kp, train, key, sample))

  def log_scale(self, features: jax.Array) -> jax.Array:
    """The scale head on the last hidden features [B, H] (held fixed) -> log b [B, J-1, 3] of
    the non-root joints, b in mm along the camera's x, y, z.

    Raises:
      ValueError: the network was built without ``scale_head``.
    """
    if self.error_scale is None:
      raise ValueError('LiftingNet.log_scale: built without a scale head; set '
                       'config.model.lifting.scale_head=True')
    s = self.error_scale(jax.lax.stop_gradient(features)) + jnp.log(self.out_std.value)
    return jnp.clip(s, -5.0, 12.0).reshape(s.shape[0], self.num_joints - 1, 3)

  def from_raw(self, raw: jax.Array) -> jax.Array:
    """Normalised output [B, 3(J-1)] -> root-relative pose [B, J, 3] mm (root exactly 0)."""
    y = raw * self.out_std.value + self.out_mean.value
    y = y.reshape(y.shape[0], self.num_joints - 1, 3)
    return jnp.insert(y, self.root, 0.0, axis=1)

  def __call__(self, kp: jax.Array, train: bool = False, key=None) -> jax.Array:
    return self.from_raw(self.raw(kp, train, key))


def max_norm(params, limit: float):
  """Rescales every Linear kernel's columns (the incoming weights of each unit) to an L2 norm of
  at most ``limit`` (the max-norm constraint); ``limit <= 0`` returns ``params`` unchanged."""
  if limit <= 0:
    return params

  def clip(path, w):
    if 'kernel' not in [getattr(k, 'key', None) for k in path] or w.ndim != 2:
      return w
    norm = jnp.linalg.norm(w, axis=0, keepdims=True)
    return w * jnp.minimum(1.0, limit / jnp.maximum(norm, 1e-12))
  return jax.tree_util.tree_map_with_path(clip, params)


def build(model_config, *, axis_name=None, seed: int = 0) -> LiftingNet:
  """The lifting network from ``config.model`` (fields num_joints and the block ``lifting``)."""
  lc = model_config.lifting
  return LiftingNet(num_joints=model_config.num_joints, hidden=lc.hidden,
                    num_blocks=lc.num_blocks, dropout=lc.dropout, pose_norm=lc.pose_norm,
                    axis_name=axis_name, scale_head=bool(lc.get('scale_head', False)),
                    rngs=nnx.Rngs(seed))
