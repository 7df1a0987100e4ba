"""The loss terms that the joint reconstruction + recognition recipes share.

Both the disentangled encoder-decoder (Liu et al.) and the Siamese regressor (Luo et al.) are
trained on the same targets: the neutral (identity) shape and the full shape of the image's
ground-truth coefficients, the 2D landmarks, and the training subject's class. What differs
between the recipes is the network and the terms each adds on top (the Siamese contrastive
loss). Every function here gives per-example values ``[B]``; the recipe weights and averages.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from facejax import losses, morphable

SHAPE_LOSSES = ("scale_aligned", "squared", "distance")
SHAPE_REGIONS = ("face", "head")


def target_shapes(model3d, identity_coeffs, expression_coeffs):
    """``(neutral [B, V, 3], full [B, V, 3])`` shapes of the ground-truth coefficients (mm)."""
    decode = jax.vmap(morphable.shape, in_axes=(None, 0, 0))
    neutral = jax.vmap(morphable.shape, in_axes=(None, 0))(model3d, identity_coeffs)
    return neutral, decode(model3d, identity_coeffs, expression_coeffs)


def identification_loss(outputs, labels, kind: str, *, scale: float, margin: float):
    """Per-example identification loss ``[B]`` of ``kind``.

    ``outputs`` has ``logits`` and ``cosines`` ``[B, C]``; ``kind`` is ``"softmax"`` (on the
    logits) or a margin softmax ``"arcface"`` / ``"cosface"`` (on the cosines, with ``scale``
    and ``margin``; unused by the softmax).
    """
    if kind == "softmax":
        return losses.softmax_cross_entropy_with_integer_labels(outputs.logits, labels)
    return losses.margin_softmax_loss(
        outputs.cosines, labels, kind=kind, scale=scale, margin=margin
    )


def face_region_weights(model3d):
    """``[V]`` float32: 1 on the model's face mask (``face_mask > 0.5``), 0 elsewhere.

    Raises:
      ValueError: the model has no face mask.
    """
    if model3d.face_mask is None:
        raise ValueError(f"the face region needs a face mask; '{model3d.name}' has none")
    return (model3d.face_mask > 0.5).astype(jnp.float32)


def make_shape_loss(model3d, loss_config):
    """``shape_loss(pred [B, V, 3], target [B, V, 3]) -> [B]`` of ``loss_config``.

    ``shape_loss``: ``"scale_aligned"`` (squared error after the prediction's best translation
    and scale, which no image shows: ``losses.scale_aligned_squared_error``), ``"squared"``
    (mean squared vertex distance, raw millimetres) or ``"distance"`` (mean Euclidean vertex
    distance, the first version's loss). ``shape_region``: ``"face"`` weighs the model's face
    mask only (what a photo shows), ``"head"`` every vertex.
    """
    kind, region = loss_config.shape_loss, loss_config.shape_region
    if kind not in SHAPE_LOSSES:
        raise ValueError(f"config.loss.shape_loss must be one of {SHAPE_LOSSES}, got {kind!r}")
    if region not in SHAPE_REGIONS:
        raise ValueError(f"config.loss.shape_region must be one of {SHAPE_REGIONS}, got {region!r}")
    weights = None
    if region == "face":
        if model3d.face_mask is None:
            raise ValueError(
                f"config.loss.shape_region='face' needs a face mask; '{model3d.name}' has none"
            )
        weights = face_region_weights(model3d)
    if kind == "scale_aligned":
        return lambda pred, target: losses.scale_aligned_squared_error(pred, target, weights)
    if kind == "squared":
        return lambda pred, target: losses.squared_vertex_error(pred, target, weights)
    return lambda pred, target: losses.mean_vertex_distance(pred, target, weights)


def landmark_percent_loss(pred, target, visibility, image_size: int):
    """``[B]`` mean squared 2D landmark error in percent of the image side (squared %).

    In percent, so that a landmark weight does not depend on the image size. ``pred`` and
    ``target`` are ``[B, L, 2]`` pixels, ``visibility`` ``[B, L]`` (bool or weights).
    """
    scale = 100.0 / image_size
    return losses.landmark_loss(
        pred * scale, target * scale, jnp.asarray(visibility).astype(jnp.float32)
    )
