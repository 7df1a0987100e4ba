"""Geometric reconstruction losses: 3D vertices and 2D landmarks.

Both average a per-point penalty over the points of one face (weighted by per-point weights or
landmark visibility) and never over the batch: ``[..., N, C]`` -> ``[...]``.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax.numpy as jnp

from facejax.geometry import safe_norm
from facejax.losses.masked import at_least_float32, keep, masked_mean
from facejax.numerics.robust import ROBUST_KINDS, robust_penalty

Array = Any

# The kinds of the deprecated vertex_loss.
VERTEX_KINDS = ("squared", "l2")


def _check_points(pred, target, width: int | None, fn: str):
    pred, target = at_least_float32(pred), at_least_float32(target)
    if pred.shape != target.shape:
        raise ValueError(f"{fn}: pred {pred.shape} and target {target.shape} differ in shape")
    if pred.ndim < 2 or (width is not None and pred.shape[-1] != width):
        want = f"[..., N, {width}]" if width is not None else "[..., N, C]"
        raise ValueError(f"{fn}: points must have shape {want}, got {pred.shape}")
    return pred, target


def _check_weights(weights, points_shape, name: str, fn: str):
    """Per-point weights broadcast to ``points_shape[:-1]``; ``None`` gives ones."""
    point_shape = points_shape[:-1]
    if weights is None:
        return jnp.ones(point_shape)
    weights = jnp.asarray(weights)
    if weights.ndim < 1 or weights.shape != point_shape[len(point_shape) - weights.ndim :]:
        raise ValueError(
            f"{fn}: {name} must have shape {point_shape} or a trailing part of it "
            f"(one weight per point), got {weights.shape}"
        )
    return jnp.broadcast_to(weights, point_shape)


def _vertex_differences(pred, target, weights, fn: str):
    pred, target = _check_points(pred, target, 3, fn)
    weights = _check_weights(weights, pred.shape, "weights", fn)
    return keep(weights, pred - target), weights


def squared_vertex_error(pred, target, weights=None) -> Array:
    """Per-face mean squared vertex error: the (weighted) mean over vertices of ``|p - t|^2``.

    In mm^2 for shapes in mm; its square root is the vertex RMSE
    (facejax.evaluation.vertex_rmse). Not halved: optax's ``l2_loss`` is ``0.5 |p - t|^2``.

    Args:
      pred: ``[..., V, 3]`` predicted vertices.
      target: ``[..., V, 3]`` target vertices.
      weights: optional non-negative ``[V]`` (e.g. a face-region mask) or ``[..., V]``; vertices
        of weight 0 contribute nothing. ``None`` weighs all vertices equally.

    Returns:
      ``[...]`` losses; 0 for a face whose weights are all 0.
    """
    diff, weights = _vertex_differences(pred, target, weights, "squared_vertex_error")
    per_vertex = jnp.sum(jnp.square(diff), axis=-1)
    return masked_mean(per_vertex, weights.astype(per_vertex.dtype))


def mean_vertex_distance(pred, target, weights=None) -> Array:
    """Per-face mean vertex distance: the (weighted) mean over vertices of ``|p - t|``.

    The Euclidean distance (mm for shapes in mm), not squared; its gradient is finite (zero)
    where a vertex is exact (facejax.geometry.safe_norm).

    Args:
      pred: ``[..., V, 3]`` predicted vertices.
      target: ``[..., V, 3]`` target vertices.
      weights: optional non-negative ``[V]`` or ``[..., V]`` per-vertex weights, as
        :func:`squared_vertex_error`.

    Returns:
      ``[...]`` losses; 0 for a face whose weights are all 0.
    """
    diff, weights = _vertex_differences(pred, target, weights, "mean_vertex_distance")
    per_vertex = safe_norm(diff, axis=-1)
    return masked_mean(per_vertex, weights.astype(per_vertex.dtype))


def vertex_loss(pred, target, weights=None, *, kind: str = "squared") -> Array:
    """Deprecated: :func:`squared_vertex_error` (``kind="squared"``) or
    :func:`mean_vertex_distance` (``kind="l2"``, a Euclidean distance, not optax's ``l2_loss``).
    """
    warnings.warn(
        "facejax.losses.vertex_loss is deprecated: use squared_vertex_error (kind='squared') "
        "or mean_vertex_distance (kind='l2')",
        DeprecationWarning,
        stacklevel=2,
    )
    if kind not in VERTEX_KINDS:
        raise ValueError(f"vertex_loss: unknown kind {kind!r}; known: {VERTEX_KINDS}")
    if kind == "squared":
        return squared_vertex_error(pred, target, weights)
    return mean_vertex_distance(pred, target, weights)


def landmark_loss(
    pred, target, visibility=None, *, robust: str | None = None, scale: float = 1.0
) -> Array:
    """Per-face 2D landmark reprojection error, averaged over the visible landmarks.

    The penalty of each landmark is ``rho(d^2)`` of its squared pixel distance ``d^2`` (see
    :func:`robust_penalty`: ``d^2`` without a robust function, so the default is the mean
    squared landmark error in px^2). Landmarks of visibility 0 contribute nothing, even when
    their target is NaN; a face with no visible landmark has loss 0 and zero gradient.

    Args:
      pred: ``[..., L, 2]`` predicted landmarks ``(x, y)`` in pixels.
      target: ``[..., L, 2]`` target landmarks.
      visibility: optional ``[..., L]`` (or ``[L]``) non-negative weights, 1 visible, 0 hidden.
      robust: ``None``, ``"huber"`` or ``"gm"``.
      scale: the robust function's scale in pixels (Huber's delta, Geman-McClure's sigma).

    Returns:
      ``[...]`` losses.
    """
    if robust not in ROBUST_KINDS:
        raise ValueError(f"landmark_loss: unknown robust {robust!r}; known: {ROBUST_KINDS}")
    pred, target = _check_points(pred, target, 2, "landmark_loss")
    visibility = _check_weights(visibility, pred.shape, "visibility", "landmark_loss")
    diff = keep(visibility, pred - target)
    per_point = robust_penalty(jnp.sum(jnp.square(diff), axis=-1), robust, scale)
    return masked_mean(per_point, visibility.astype(per_point.dtype))
