"""The working precision of losses, heads and reductions: float32, or wider when given wider."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

Array = Any


def at_least_float32(x) -> Array:
    """``x`` as a floating array of at least float32 precision.

    A bfloat16 (or float16) array becomes float32, float32 and float64 stay as they are, and an
    integer or boolean array becomes JAX's default float. Losses and the dense heads of the
    networks compute in float32 even when the encoder ran in bfloat16 (mixed precision): their
    outputs are coefficients, millimetres and pixels, which bfloat16's 8-bit mantissa rounds
    visibly.
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return x.astype(jnp.result_type(float))
    return x.astype(jnp.promote_types(x.dtype, jnp.float32))
