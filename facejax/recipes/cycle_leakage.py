"""Leakage between pose and expression: the measure the cycle-consistent recipe is about.

From one image a head turn and a change of expression move the same pixels. On synthetic faces
the truth says which of the two changed, so a reconstruction network can be asked: when only the
pose changes, how much does its predicted expression change, and when only the expression
changes, how much does its predicted pose change? Both should be zero.

The synthetic clips change pose and expression together, so the pairs are made here: a test
frame's ground-truth parameters are rendered (``facejax.render``) as they are and with one
property taken from another frame of the same clip, either the pose (rotation and the framing
translation that goes with it) or the expression; everything else (identity, albedo, lighting,
camera) is the frame's own. Both images are rendered over the frame's mean colour, without the
datasets' blur and noise.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from facejax import geometry, morphable
from facejax.data.fixed_batches import map_fixed_batches
from facejax.render import render_face, to_uint8

Array = Any

# Per frame, the ground-truth fields of facejax_synthetic_clips that give its FaceParams.
TRUTH_FEATURES = (
    "identity_coeffs",
    "expression_coeffs",
    "albedo_coeffs",
    "pose",
    "translation",
    "camera_focal",
    "camera_principal_point",
    "sh_coeffs",
)


def truth_params(truth: dict, image_size: int) -> morphable.FaceParams:
    """Batched ``FaceParams`` ``[N]`` of the synthetic datasets' per-image ground truth
    (``truth[name]`` ``[N, ...]`` for each of :data:`TRUTH_FEATURES`)."""
    size = len(truth["pose"])
    camera = morphable.default_camera(image_size)
    camera = jax.tree.map(lambda x: jnp.broadcast_to(x, (size,) + x.shape), camera)
    camera = camera.replace(
        focal=jnp.asarray(truth["camera_focal"]),
        principal_point=jnp.asarray(truth["camera_principal_point"]),
    )
    return morphable.FaceParams(
        identity=jnp.asarray(truth["identity_coeffs"]),
        expression=jnp.asarray(truth["expression_coeffs"]),
        albedo=jnp.asarray(truth["albedo_coeffs"]),
        rotation=jnp.asarray(truth["pose"]),
        translation=jnp.asarray(truth["translation"]),
        camera=camera,
        sh_coeffs=jnp.asarray(truth["sh_coeffs"]),
    )


def single_change_pairs(params: morphable.FaceParams, partner) -> dict[str, morphable.FaceParams]:
    """``{"pose": ..., "expression": ...}``: ``params`` ``[N]`` with only the pose (rotation
    and translation) or only the expression of ``params[partner]`` (``partner`` ``[N]`` int)."""
    other = jax.tree.map(lambda x: x[partner], params)
    return {
        "pose": params.replace(rotation=other.rotation, translation=other.translation),
        "expression": params.replace(expression=other.expression),
    }


@functools.partial(jax.jit, static_argnames="size")
def render_over_colour(model, params: morphable.FaceParams, colours, *, size: int):
    """``[N, S, S, 3]`` uint8 renders of ``params`` ``[N]`` over plain ``colours`` ``[N, 3]``."""

    def one(p, colour):
        return to_uint8(render_face(model, p, size, size, background=colour).image)

    return jax.vmap(one)(params, colours)


def leakage_metrics(
    predict: Callable[[np.ndarray], dict],
    model,
    truth: dict,
    frames: np.ndarray,
    partner: np.ndarray,
    *,
    batch_size: int,
) -> dict[str, float]:
    """How much each prediction moves when only the other property changes.

    Args:
      predict: uint8 images ``[B, S, S, 3]`` -> ``{"expression": [B, Ke], "rotation": [B, 3,
        3]}`` (numpy), e.g. a recipe's network in fixed batches.
      model: the morphable model of the ground truth.
      truth: per-frame ground truth ``{name: [N, ...]}`` of :data:`TRUTH_FEATURES`.
      frames: ``[N, S, S, 3]`` uint8 the frames (only their mean colour is used).
      partner: ``[N]`` int, the frame each frame takes the changed property from.
      batch_size: images per call of ``predict`` (the last call padded).

    Returns:
      ``leakage_expression_under_pose`` (RMS over coefficients of the predicted expression's
      change, standard deviations, when only the pose changes) and
      ``leakage_pose_deg_under_expression`` (geodesic angle of the predicted rotation's change,
      degrees, when only the expression changes), each beside the response to the property that
      did change (``response_pose_deg_under_pose``, ``response_expression_under_expression``)
      and the truth's change (``truth_pose_change_deg``, ``truth_expression_change``); and
      ``num_leakage_pairs``.
    """
    size = frames.shape[1]
    params = truth_params(truth, size)
    colours = jnp.asarray(np.mean(frames, axis=(1, 2)) / 255.0, jnp.float32)
    pairs = single_change_pairs(params, jnp.asarray(partner))

    def run(p):
        images = np.asarray(render_over_colour(model, p, colours, size=size))
        return map_fixed_batches(predict, images, min(batch_size, len(images)))

    base, pose_changed, expression_changed = (
        run(p) for p in (params, pairs["pose"], pairs["expression"])
    )

    def rms_change(a, b):
        return float(np.mean(np.sqrt(np.mean(np.square(a - b), axis=-1))))

    def angle_change_deg(a, b):
        return float(np.mean(np.rad2deg(np.asarray(geometry.geodesic_distance(a, b)))))

    true_rotation = np.asarray(jax.vmap(geometry.rotation_from_euler)(params.rotation))
    partner_rotation = true_rotation[partner]
    expression = np.asarray(params.expression)
    return {
        "leakage_expression_under_pose": rms_change(pose_changed["expression"], base["expression"]),
        "leakage_pose_deg_under_expression": angle_change_deg(
            expression_changed["rotation"], base["rotation"]
        ),
        "response_pose_deg_under_pose": angle_change_deg(
            pose_changed["rotation"], base["rotation"]
        ),
        "response_expression_under_expression": rms_change(
            expression_changed["expression"], base["expression"]
        ),
        "truth_pose_change_deg": angle_change_deg(partner_rotation, true_rotation),
        "truth_expression_change": rms_change(expression[partner], expression),
        "num_leakage_pairs": len(partner),
    }


def clip_partners(num_clips: int, num_frames: int) -> np.ndarray:
    """``[num_clips * num_frames]``: for frames stored clip after clip, the frame half a clip
    away in the same clip (the pose and expression trajectories' far side)."""
    t = np.arange(num_frames)
    within = (t + num_frames // 2) % num_frames
    return (np.arange(num_clips)[:, None] * num_frames + within[None, :]).reshape(-1)
