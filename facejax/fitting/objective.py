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
``0.5 z`` for small residuals.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

Array = Any

# A face smaller than this (pixels) is degenerate (all targets on one point, or no weight):
# the normaliser is clamped so the objective stays finite.
MIN_FACE_SIZE_PX = 1e-3


def squared(z) -> Array:
    """``0.5 z``: least squares on the squared residual norm ``z = |r|^2``."""
    return 0.5 * z


def huber(z, delta) -> Array:
    """Huber loss of the residual norm ``|r| = sqrt(z)``: quadratic below ``delta``, linear above.

    ``0.5 z`` for ``sqrt(z) <= delta``, ``delta (sqrt(z) - 0.5 delta)`` above. Finite gradient
    at ``z = 0`` (the square root is only taken above ``delta^2``).
    """
    root = jnp.sqrt(jnp.maximum(z, delta**2))
    return jnp.where(z <= delta**2, 0.5 * z, delta * (root - 0.5 * delta))


def geman_mcclure(z, scale) -> Array:
    """Geman-McClure loss ``0.5 z / (1 + z / c^2)``: quadratic near 0, saturating at ``0.5 c^2``.

    A point far from the model (an outlier, a badly annotated landmark) costs at most
    ``0.5 c^2`` and pulls with a force that vanishes as it goes farther (Geman and McClure 1987;
    the form of Black and Rangarajan 1996, scaled to match ``0.5 z`` at 0).
    """
    return 0.5 * z / (1.0 + z / scale**2)


def robust_loss(z, loss: str, scale) -> Array:
    """Dispatches ``"squared"``, ``"huber"`` or ``"geman_mcclure"`` (``scale``: delta or c)."""
    if loss == "squared":
        return squared(z)
    if loss == "huber":
        return huber(z, scale)
    if loss == "geman_mcclure":
        return geman_mcclure(z, scale)
    raise ValueError(f"unknown loss {loss!r}; one of 'squared', 'huber', 'geman_mcclure'")


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
    total = jnp.sum(weights)
    safe_total = jnp.where(total > 0, total, 1.0)
    centroid = jnp.einsum("l,lc->c", weights, landmarks) / safe_total
    spread = jnp.sum(weights * jnp.sum(jnp.square(landmarks - centroid[None, :]), -1))
    return jnp.sqrt(jnp.maximum(spread / safe_total, MIN_FACE_SIZE_PX**2))


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
    total = jnp.sum(weights)
    return jnp.sum(weights * robust_loss(z, loss, loss_scale)) / jnp.where(total > 0, total, 1.0)


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
    count = jnp.sum(used, axis=-1)
    return jnp.sum(used * distance, axis=-1) / jnp.where(count > 0, count, jnp.nan)
