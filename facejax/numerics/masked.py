"""Weighted means that stay finite when every weight is zero.

Every masked loss in ``facejax.losses`` and every weighted data term of ``facejax.fitting`` ends
in :func:`masked_mean`: a per-element average over the positions a mask, a visibility or a
landmark weight keeps, which must give 0 (with a zero gradient) for an empty mask instead of
0 / 0, and must not let a NaN at a masked-out position reach the value or the gradient.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from facejax.numerics.precision import at_least_float32

Array = Any


def keep(mask, x) -> Array:
    """``x`` where ``mask`` is non-zero, else 0, so values and cotangents there never mix in.

    Guard the *inputs* of a non-linear per-point penalty with this (not only its output): a NaN
    target at a masked-out point would otherwise come back as ``0 * NaN`` through the
    penalty's derivative. ``mask`` has the leading shape of ``x`` and broadcasts over its
    trailing axes.
    """
    mask = jnp.asarray(mask)
    mask = mask.reshape(mask.shape + (1,) * (jnp.ndim(x) - mask.ndim))
    return jnp.where(mask != 0, x, jnp.zeros((), jnp.result_type(x)))


def masked_mean(values, weights=None, axis=-1) -> Array:
    """Weighted mean of ``values`` over ``axis``: ``sum(w * v) / sum(w)``, 0 where ``sum(w) = 0``.

    Args:
      values: ``[..., N]`` per-position values (any shape with ``axis``).
      weights: non-negative weights of the shape of ``values``, or ``None`` for a plain mean.
        Positions of weight 0 contribute nothing, even if their value is NaN or infinite.
      axis: axis or axes to average over.

    Returns:
      ``values`` reduced over ``axis``; 0 (with zero gradient) where all weights are 0.
    """
    values = at_least_float32(values)
    if weights is None:
        return jnp.mean(values, axis=axis)
    weights = jnp.asarray(weights, values.dtype)
    if weights.shape != values.shape:
        raise ValueError(
            f"masked_mean: weights shape {weights.shape} differs from values shape {values.shape}"
        )
    total = jnp.sum(weights, axis=axis)
    weighted = jnp.sum(weights * keep(weights, values), axis=axis)
    # Double `where`: the untaken 0/0 branch is never formed, so its cotangent cannot be NaN.
    return jnp.where(total > 0, weighted / jnp.where(total > 0, total, 1.0), 0.0)
