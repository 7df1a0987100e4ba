"""Consistency of what must not change within a clip: one person's identity across its frames."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from facejax.losses.masked import at_least_float32

Array = Any


def clip_consistency_loss(codes) -> Array:
    """Spread of a per-frame code around its clip mean: ``mean_t |c_t - mean_s c_s|^2``.

    The identity branch of the cycle-consistent recipe (Yang et al., IEEE TMM 2023) reads the
    same person from every frame of a clip; this is zero exactly when it does. For two frames
    it is ``|c_a - c_b|^2 / 4``.

    Args:
      codes: ``[..., T, K]`` codes of the ``T`` frames of each clip.

    Returns:
      ``[...]`` losses (squared code units).
    """
    codes = at_least_float32(codes)
    if codes.ndim < 2:
        raise ValueError(f"clip_consistency_loss: codes must be [..., T, K], got {codes.shape}")
    deviation = codes - jnp.mean(codes, axis=-2, keepdims=True)
    return jnp.mean(jnp.sum(jnp.square(deviation), axis=-1), axis=-1)
