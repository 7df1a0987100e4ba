"""Head-pose error in degrees: absolute error per Euler angle and the geodesic rotation angle."""

from typing import NamedTuple

import jax
import jax.numpy as jnp

from facejax.geometry import geodesic_distance, rotation_from_euler
from facejax.geometry._validation import as_float, check_trailing


class PoseError(NamedTuple):
    """Per-face pose errors in degrees, each ``[...]``; average with ``jax.tree.map(jnp.mean, e)``.

    Attributes:
      pitch: absolute pitch error.
      yaw: absolute yaw error.
      roll: absolute roll error.
      geodesic: angle of the rotation between the predicted and the true head rotation.
    """

    pitch: jax.Array
    yaw: jax.Array
    roll: jax.Array
    geodesic: jax.Array


def pose_error_degrees(pred_euler, target_euler, *, convention: str = "xyz") -> PoseError:
    """Pose errors between predicted and ground-truth Euler angles, in degrees.

    The per-angle error is ``|pred - target|`` wrapped to ``[0, 180]`` (a difference of 350
    degrees is 10); it is the plain absolute difference whenever that is below 180, as in the
    AFLW2000 head-pose protocol of Hopenet / FSA-Net, whose mean over faces ("MAE") is the
    published number. Euler angles are not unique (and ill-conditioned near ``|yaw| = 90``), so
    ``geodesic`` also gives the convention-free error: the angle of
    ``R(pred).T @ R(target)`` (:func:`facejax.geometry.geodesic_distance`). Works under
    ``jax.jit`` (``convention`` static), ``jax.vmap`` and ``jax.grad``.

    Args:
      pred_euler: ``[..., 3]`` predicted ``(pitch, yaw, roll)`` in radians.
      target_euler: ``[..., 3]`` ground truth in radians, same shape.
      convention: Euler convention of both (``"xyz"``, ``"3ddfa"``; see
        :func:`facejax.geometry.rotation_from_euler`); only ``geodesic`` depends on it.

    Returns:
      A :class:`PoseError` of ``[...]`` arrays in degrees.
    """
    pred, target = as_float(pred_euler), as_float(target_euler)
    check_trailing(pred, (3,), "pred_euler", "pose_error_degrees")
    if target.shape != pred.shape:
        raise ValueError(
            f"pose_error_degrees: target_euler must have the shape of pred_euler {pred.shape}, "
            f"got {target.shape}"
        )
    difference = jnp.rad2deg(pred - target)
    wrapped = jnp.abs(jnp.mod(difference + 180.0, 360.0) - 180.0)
    geodesic = geodesic_distance(
        rotation_from_euler(pred, convention), rotation_from_euler(target, convention)
    )
    return PoseError(
        pitch=wrapped[..., 0],
        yaw=wrapped[..., 1],
        roll=wrapped[..., 2],
        geodesic=jnp.rad2deg(geodesic),
    )
