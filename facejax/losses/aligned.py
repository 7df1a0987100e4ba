"""A vertex loss that asks only for what an image can show: shape up to position and size.

Under a perspective camera at an unknown distance, an image cannot tell a large head far away
from a small head close by, nor where the model-frame origin sits: a shape's translation and
uniform scale are not in the picture. A plain vertex loss still asks the network for them, and
in the embedded model the largest identity component is almost exactly a uniform scale (about a
third of the identity variance): a network trained on raw millimetres spends its capacity on
noise. :func:`scale_aligned_squared_error` first moves and scales the prediction onto the target
by least squares, then measures what is left, the same way the evaluation aligns before its
RMSE (which also removes a rotation; a canonical-frame shape has none to remove).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from facejax.losses.masked import at_least_float32, keep, masked_mean

Array = Any


def scale_aligned_squared_error(pred, target, weights=None) -> Array:
    """Weighted mean squared vertex distance after the best translation and scale of ``pred``.

    With ``w`` the weights and ``p``, ``t`` the weighted-centred points, the prediction is
    scaled by ``s = sum_i w_i <p_i, t_i> / sum_i w_i |p_i|^2`` (the least-squares scale) and
    the loss is ``sum_i w_i |s p_i - t_i|^2 / sum_i w_i`` (mm^2 for shapes in mm). Its square
    root is a lower bound of the scale-and-translation-aligned RMSE over the same weights.

    Args:
      pred: ``[..., V, 3]`` predicted vertices.
      target: ``[..., V, 3]`` target vertices.
      weights: optional non-negative ``[V]`` (e.g. a face-region mask) or ``[..., V]``;
        ``None`` weighs every vertex equally. The same weights fit the alignment.

    Returns:
      ``[...]`` losses; 0 for a face whose weights are all 0 or whose prediction is a point.
    """
    p, t, weights = _centred_pair("scale_aligned_squared_error", pred, target, weights, 3)
    w = weights[..., None]
    spread = jnp.sum(w * p * p, axis=(-2, -1))
    ok = spread > 0
    scale = jnp.where(ok, jnp.sum(w * p * t, axis=(-2, -1)) / jnp.where(ok, spread, 1.0), 1.0)
    residual = jnp.sum(jnp.square(scale[..., None, None] * p - t), axis=-1)
    return masked_mean(residual, weights)


def similarity_aligned_landmark_loss(pred, target, visibility=None) -> Array:
    """Mean squared 2D landmark distance after the best in-plane similarity of ``pred``.

    The prediction is moved, scaled and rotated in the image plane onto the target by least
    squares (closed form: with ``p``, ``t`` the weighted-centred points as complex numbers, the
    similarity is ``z = sum_i w_i conj(p_i) t_i / sum_i w_i |p_i|^2``), then the loss is
    ``sum_i w_i |z p_i - t_i|^2 / sum_i w_i``. What is left is the landmarks' *shape*: an error
    of the head's position, size or roll costs nothing here, so a network whose pose is still
    off gets a shape gradient that its pose error does not drown (the identity's share of a
    landmark error is about a pixel at 64 px). Use it beside :func:`landmark_loss`, which still
    asks for the pose.

    Args:
      pred: ``[..., L, 2]`` predicted landmarks (pixels).
      target: ``[..., L, 2]`` target landmarks.
      visibility: optional non-negative ``[..., L]`` (or ``[L]``) weights; hidden landmarks
        (weight 0) count for nothing, NaN targets included.

    Returns:
      ``[...]`` losses (squared pixels); 0 where every weight is 0 or the prediction is a point.
    """
    name = "similarity_aligned_landmark_loss"
    p, t, weights = _centred_pair(name, pred, target, visibility, 2)
    px, py, tx, ty = p[..., 0], p[..., 1], t[..., 0], t[..., 1]
    spread = jnp.sum(weights * (px * px + py * py), axis=-1)
    ok = spread > 0
    safe = jnp.where(ok, spread, 1.0)
    # z = a + ib: the scaled rotation that takes p onto t in the least-squares sense.
    a = jnp.where(ok, jnp.sum(weights * (px * tx + py * ty), axis=-1) / safe, 1.0)[..., None]
    b = jnp.where(ok, jnp.sum(weights * (px * ty - py * tx), axis=-1) / safe, 0.0)[..., None]
    residual = jnp.square(a * px - b * py - tx) + jnp.square(b * px + a * py - ty)
    return masked_mean(residual, weights)


def _centred_pair(name, pred, target, weights, dims):
    """``(p, t, weights)``: ``pred`` and ``target`` checked to be ``[..., N, dims]``, points of
    weight 0 zeroed (NaN included), each centred on its weighted mean."""
    pred, target = at_least_float32(pred), at_least_float32(target)
    if pred.shape != target.shape or pred.ndim < 2 or pred.shape[-1] != dims:
        points = "V, 3" if dims == 3 else "L, 2"
        raise ValueError(
            f"{name}: pred and target must both be [..., {points}], got "
            f"{pred.shape} and {target.shape}"
        )
    if weights is None:
        weights = jnp.ones(pred.shape[:-1], pred.dtype)
    weights = jnp.broadcast_to(jnp.asarray(weights, pred.dtype), pred.shape[:-1])
    pred, target = keep(weights, pred), keep(weights, target)

    def centred(points):
        centre = masked_mean(points, weights[..., None] * jnp.ones_like(points), axis=-2)
        return points - centre[..., None, :]

    return centred(pred), centred(target), weights
