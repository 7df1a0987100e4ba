"""Mixed precision by config: bfloat16 compute, float32 parameters, optimizer state and loss.

``precision="bfloat16"`` means:

* the model computes in bfloat16: build it with ``dtype=compute_dtype(config.precision)`` (Flax
  layers cast their float32 parameters and inputs to ``dtype`` before the matmul / convolution;
  ``param_dtype`` stays float32). BatchNorm reduces its statistics in float32 (Flax's
  ``force_float32_reductions``), so the running statistics stay float32 too;
* parameters, gradients (the cotangent of a cast is cast back), optimizer moments and the EMA
  stay float32: small updates are not lost to bfloat16's 8-bit mantissa;
* the loss and the metrics are float32: the train step casts the loss function's outputs
  (:func:`floats_at_least_float32`), and losses should reduce in float32 (cast per-element
  values before the mean).

bfloat16 keeps float32's exponent range, so no loss scaling is needed (unlike float16, which is
not offered). ``"float32"`` computes in float32 throughout.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from facejax import numerics

PRECISIONS = ("float32", "bfloat16")


def compute_dtype(precision: str) -> jnp.dtype:
    """The dtype a model computes in for a ``precision`` setting ("float32" | "bfloat16").

    Raises:
      ValueError: for any other setting.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    return jnp.dtype(precision)


def floats_at_least_float32(tree: Any) -> Any:
    """A pytree with its floating leaves at least float32 (:func:`facejax.numerics.
    at_least_float32`: bfloat16/float16 become float32, float64 stays); other leaves (integer
    counts, booleans) pass unchanged."""

    def cast(x):
        x = jnp.asarray(x)
        return numerics.at_least_float32(x) if jnp.issubdtype(x.dtype, jnp.floating) else x

    return jax.tree.map(cast, tree)


def cast_images(images: jax.Array, precision: str) -> jax.Array:
    """uint8 ``[..., H, W, C]`` images to ``[0, 1]`` in the compute dtype (floats: just cast)."""
    dtype = compute_dtype(precision)
    if jnp.issubdtype(images.dtype, jnp.integer):
        return images.astype(dtype) / jnp.asarray(255, dtype)
    return images.astype(dtype)
