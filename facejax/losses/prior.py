"""Priors on morphable-model coefficients, as losses."""

from __future__ import annotations

from typing import Any

from facejax.losses.masked import at_least_float32
from facejax.morphable import gaussian_prior

Array = Any


def coefficient_prior(coeffs) -> Array:
    """``0.5 |c|^2``: the negative log density (up to a constant) of ``N(0, I)`` coefficients.

    Morphable-model coefficients are in units of standard deviation (docs/conventions.md), so
    the prior of every group (identity, expression, albedo) is a standard normal.

    Args:
      coeffs: ``[..., K]`` coefficients.

    Returns:
      ``[...]`` losses.
    """
    return gaussian_prior(at_least_float32(coeffs))
