"""Numerics every layer shares: working precision, weighted means over masks, robust penalties.

The lowest layer, beside ``facejax.geometry``: pure ``jax.numpy`` functions that import nothing
else from facejax, so that fitting (which may not import ``facejax.losses``, a layer above it)
and the losses compute the same thing with the same code. ``facejax.losses`` re-exports
``masked_mean`` and ``robust_penalty``.

* :func:`at_least_float32`: an array in float32 or wider (bfloat16 networks, float32 losses).
* :func:`masked_mean`, :func:`keep`: weighted means that stay finite for an empty mask.
* :func:`robust_penalty`, :func:`huber_penalty`, :func:`geman_mcclure_penalty`: penalties of a
  squared distance that equal it near 0 and grow more slowly (or not at all) for outliers.
"""

from facejax.numerics.masked import keep, masked_mean
from facejax.numerics.precision import at_least_float32
from facejax.numerics.robust import (
    ROBUST_KINDS,
    geman_mcclure_penalty,
    huber_penalty,
    robust_penalty,
)

__all__ = [
    "ROBUST_KINDS",
    "at_least_float32",
    "geman_mcclure_penalty",
    "huber_penalty",
    "keep",
    "masked_mean",
    "robust_penalty",
]
