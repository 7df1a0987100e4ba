"""Cycle consistency: something sent around a cycle of transformations must come back to itself.

In the cycle-consistent recipe (Yang et al., IEEE TMM 2023) a pose or expression change is
injected into one frame's reconstruction, re-extracted and reversed; the image (or the parameter
vector) at the end of the cycle must equal the one at the start.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from facejax.losses.masked import at_least_float32, keep, masked_mean

Array = Any

CYCLE_KINDS = ("l1", "squared")


def cycle_consistency_loss(a, b, mask=None, *, kind: str = "l1") -> Array:
    """Per-example mean difference between the start ``a`` and the end ``b`` of a cycle.

    Every axis but the first is averaged: an image ``[B, H, W, C]`` or a parameter vector
    ``[B, K]`` gives ``[B]``.

    Args:
      a: ``[B, ...]`` what went into the cycle.
      b: ``[B, ...]`` what came out, same shape.
      mask: optional non-negative weights over the leading axes of ``a``, e.g. ``[B, H, W]`` for
        images (broadcast over the channels) or ``[B, K]`` for parameters; positions of weight 0
        contribute nothing, and an all-zero mask gives 0.
      kind: ``"l1"`` (mean absolute difference, default) or ``"squared"``.

    Returns:
      ``[B]`` losses.
    """
    if kind not in CYCLE_KINDS:
        raise ValueError(f"cycle_consistency_loss: unknown kind {kind!r}; known: {CYCLE_KINDS}")
    a, b = at_least_float32(a), at_least_float32(b)
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(
            f"cycle_consistency_loss: a {a.shape} and b {b.shape} must have one shape [B, ...]"
        )
    if mask is None:
        mask = jnp.ones(a.shape[:1], a.dtype)
    mask = jnp.asarray(mask)
    if mask.ndim < 1 or mask.shape != a.shape[: mask.ndim]:
        raise ValueError(
            f"cycle_consistency_loss: mask {mask.shape} must be the leading part of {a.shape}"
        )
    diff = keep(mask, a - b)
    per_element = jnp.abs(diff) if kind == "l1" else jnp.square(diff)
    # The axes the mask does not cover are averaged first (channels of a pixel), then the
    # masked positions.
    per_position = jnp.mean(per_element, axis=tuple(range(mask.ndim, a.ndim)))
    batch = a.shape[0]
    return masked_mean(
        per_position.reshape(batch, -1), mask.astype(a.dtype).reshape(batch, -1), axis=-1
    )
