"""The landmark objective: robust per-point losses, the face-size normaliser and the data term.

For one image with target landmarks ``y_i`` (pixels), weights ``w_i`` and projected model
landmarks ``p_i``, the data term is

    E = sum_i w_i rho(|p_i - y_i|^2 / S^2) / sum_i w_i,

where ``S`` is the face size in pixels (the weighted RMS distance of the targets from their
weighted centroid, :func:`face_size`). Dividing by ``S`` makes the objective, and so the prior
weights, independent of the image resolution: a face 100 px or 1,000 px wide is fitted the same.
The fitted objective adds Gaussian priors ``0.5 |c|^2`` on the coefficients (in standard
deviations), weighted by :class:`facejax.fitting.FitConfig`.

Losses follow the optax convention: they take per-element squared residuals ``z`` and return
per-element values (``[...] -> [...]``); the caller weights and averages. All three agree with
``0.5 z`` for small residuals: they are half the penalties of :mod:`facejax.numerics.robust`
(which ``facejax.losses`` uses as they are), with the same scale. The weighted means are
:func:`facejax.numerics.masked_mean`.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from facejax.numerics import geman_mcclure_penalty, huber_penalty, masked_mean

Array = Any

# A face smaller than this (pixels) is degenerate (all targets on one point, or no weight):
# the normaliser is clamped so the objective stays finite.
MIN_FACE_SIZE_PX = 1e-3


def squared(z) -> Array:
    """``0.5 z``: least squares on the squared residual norm ``z = |r|^2``."""
    return 0.5 * z


def huber(z, delta) -> Array:
    """Huber loss of the residual norm ``|r| = sqrt(z)``: quadratic below ``delta``, linear above.

    ``0.5 z`` for ``sqrt(z) <= delta``, ``delta (sqrt(z) - 0.5 delta)`` above: half of
    :func:`facejax.numerics.huber_penalty`. Finite gradient at ``z = 0``.
    """
    return 0.5 * huber_penalty(z, delta)


def geman_mcclure(z, scale) -> Array:
    """Geman-McClure loss ``0.5 z / (1 + z / c^2)``: quadratic near 0, saturating at ``0.5 c^2``.

    Half of :func:`facejax.numerics.geman_mcclure_penalty`: a point far from the model (an
    outlier, a badly annotated landmark) costs at most ``0.5 c^2`` and pulls with a force that
    vanishes as it goes farther.
    """
    return 0.5 * geman_mcclure_penalty(z, scale)


# FitConfig.loss -> the penalty of facejax.numerics it halves.
_PENALTIES = {
    "squared": lambda z, scale: z,
    "huber": huber_penalty,
    "geman_mcclure": geman_mcclure_penalty,
}


def robust_loss(z, loss: str, scale) -> Array:
    """Dispatches ``"squared"``, ``"huber"`` or ``"geman_mcclure"`` (``scale``: delta or c)."""
    if loss not in _PENALTIES:
        raise ValueError(f"unknown loss {loss!r}; one of 'squared', 'huber', 'geman_mcclure'")
    return 0.5 * _PENALTIES[loss](z, scale)


def sanitize(landmarks, weights) -> tuple[Array, Array]:
    """NaN/infinite target rows become zeros with weight 0; weights default to ones.

    Args:
      landmarks: ``[..., L, 2]`` targets (pixels); rows with a non-finite value are missing.
      weights: ``[..., L]`` non-negative weights, or ``None``.

    Returns:
      ``(landmarks, weights)`` with finite values only (so that no NaN reaches a gradient).
    """
    landmarks = jnp.asarray(landmarks)
    finite = jnp.all(jnp.isfinite(landmarks), axis=-1)
    if weights is None:
        weights = jnp.ones(landmarks.shape[:-1], landmarks.dtype)
    weights = jnp.where(finite, jnp.asarray(weights, landmarks.dtype), 0.0)
    landmarks = jnp.where(finite[..., None], landmarks, 0.0)
    return landmarks, weights


def face_size(landmarks, weights) -> Array:
    """Face size in pixels: the weighted RMS distance of ``[L, 2]`` points from their centroid.

    Args:
      landmarks: ``[L, 2]`` finite points.
      weights: ``[L]`` non-negative weights.

    Returns:
      ``[]``, at least ``MIN_FACE_SIZE_PX`` (also when every weight is 0).
    """
    centroid = masked_mean(landmarks, jnp.broadcast_to(weights[:, None], landmarks.shape), axis=0)
    spread = masked_mean(jnp.sum(jnp.square(landmarks - centroid[None, :]), -1), weights)
    return jnp.sqrt(jnp.maximum(spread, MIN_FACE_SIZE_PX**2))


def landmark_data_term(predicted, target, weights, size, *, loss="squared", loss_scale=0.05):
    """The data term ``E`` of one image (module docstring).

    Args:
      predicted: ``[L, 2]`` projected model landmarks, pixels.
      target: ``[L, 2]`` target landmarks, pixels (finite: see :func:`sanitize`).
      weights: ``[L]`` non-negative weights; a zero weight removes the point.
      size: ``[]`` face size in pixels (:func:`face_size` of the targets).
      loss: robust loss name.
      loss_scale: its scale, as a fraction of the face size.

    Returns:
      ``[]``: the weighted mean robust loss; 0 when every weight is 0.
    """
    z = jnp.sum(jnp.square(predicted - target), axis=-1) / jnp.square(size)
    return masked_mean(robust_loss(z, loss, loss_scale), weights)


def landmark_error(predicted, target, weights) -> Array:
    """Mean distance in pixels over the points with weight > 0 (NaN when there are none).

    Args:
      predicted: ``[..., L, 2]``.
      target: ``[..., L, 2]``.
      weights: ``[..., L]``.

    Returns:
      ``[...]`` mean Euclidean distance, pixels.
    """
    used = (weights > 0).astype(predicted.dtype)
    distance = jnp.sqrt(jnp.sum(jnp.square(predicted - target), axis=-1))
    mean = masked_mean(distance, used)
    return jnp.where(jnp.any(used > 0, axis=-1), mean, jnp.nan)
