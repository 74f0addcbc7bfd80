"""Fusing and normalising the views' world poses: the fixed targets and the scale normalisation
of the forms of L_MVC without the trivial minimum (mvssl.losses): the geometric median
(Weiszfeld), each pose at a fixed scale (Rhodin et al. 2018), the views' Gaussian
(inverse-variance) fusion. Poses in mm, world frame; V views, J joints, K points."""

import jax
import jax.numpy as jnp


def geometric_median(points: jax.Array, weight: jax.Array, *, iters: int = 64,
                     eps: float = 1e-3) -> jax.Array:
  """Weighted geometric median of K points per joint (Weiszfeld 1937), ``iters`` fixed steps from
  the weighted mean; a distance below ``eps`` (mm) counts as ``eps``, so a point that is the median
  holds it.

  points [K, J, 3] (mm); weight [K] >= 0 (0 leaves a point out; all 0 gives 0) -> [J, 3] (mm).
  """
  w = weight[:, None]                                                        # [K, 1]
  y = jnp.sum(w[..., None] * points, axis=0) / jnp.maximum(jnp.sum(w), 1e-12)

  def step(y, _):
    d = jnp.maximum(jnp.linalg.norm(points - y[None], axis=-1), eps)          # [K, J]
    a = w / d
    return jnp.sum(a[..., None] * points, axis=0) / jnp.maximum(
        jnp.sum(a, axis=0)[:, None], 1e-12), None

  y, _ = jax.lax.scan(step, y, None, length=iters)
  return y


SCALE_ANCHOR_MM = 500.0   # about the RMS root distance of an adult's Human3.6M-17 pose (mm)


def scale_anchored(world: jax.Array, *, root: int = 0, eps: float = 1e-6) -> jax.Array:
  """Each view's root-relative pose brought to one fixed scale (mvssl.losses, routing scale_anchored).

  ``Y_c = (X_c - X_c,root) * S / s_c``, ``s_c = sqrt(mean_j |X_c,j - X_c,root|^2)`` (mm), ``S`` =
  :data:`SCALE_ANCHOR_MM`: Rhodin et al. 2018's scale normalisation (their N-MPJPE), in mm of a
  standard-size body, so that the loss is exactly invariant (value and gradient) to each view's
  scale about its root.
  world [V, J, 3] (mm) -> [V, J, 3] (mm).
  """
  rel = world - world[:, root:root + 1, :]
  s = jnp.sqrt(jnp.mean(jnp.sum(rel ** 2, axis=-1), axis=-1) + eps)         # [V]
  return rel * (SCALE_ANCHOR_MM / s)[:, None, None]


def fused_targets(world: jax.Array, sigma: jax.Array, rot: jax.Array, m: jax.Array):
  """Each view's target under L_MVC's ``uncertainty`` routing (mvssl.losses): the other present views' Gaussian
  fusion ``(sum_{c' != c} P_c')^-1 sum_{c' != c} P_c' X_c'``, ``P_c' = R_c'^T diag(sigma_c'^-2)
  R_c'``. world [V, J, 3] (mm); sigma [V, J, 3] (mm, camera axes); rot [V, 3, 3]; m [V] 1.0 for
  present views -> [V, J, 3] (mm; a view without another present view gets 0)."""
  prec = jnp.einsum('vai,vja,vab->vjib', rot, 1.0 / sigma ** 2, rot)       # [V, J, 3, 3]
  others = (1.0 - jnp.eye(world.shape[0], dtype=world.dtype)) * m[None, :]   # [V (c), V (c')]
  info = jnp.einsum('cv,vjib->cjib', others, prec)
  vec = jnp.einsum('cv,vjib,vjb->cji', others, prec, world)
  info = info + jnp.eye(3, dtype=world.dtype) * 1e-9
  return jnp.linalg.solve(info, vec[..., None])[..., 0]
