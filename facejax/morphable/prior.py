"""Gaussian priors on morphable-model coefficients.

Coefficients are in units of standard deviation, so the prior of each group is a standard
normal and its negative log density is ``0.5 * |c|^2`` up to a constant.
"""

from __future__ import annotations

import jax.numpy as jnp

from facejax.morphable.params import FaceParams


def gaussian_prior(coeffs):
    """Negative log density (up to a constant) of ``N(0, I)`` coefficients.

    ``[..., K] -> [...]``.
    """
    return 0.5 * jnp.sum(jnp.square(coeffs), axis=-1)


def prior_terms(params: FaceParams) -> dict:
    """Per-group Gaussian prior terms of a face: ``{"identity", "expression", "albedo"}``.

    Returned unweighted and unreduced over batch axes; the caller weights and averages.
    """
    return {
        "identity": gaussian_prior(params.identity),
        "expression": gaussian_prior(params.expression),
        "albedo": gaussian_prior(params.albedo),
    }
