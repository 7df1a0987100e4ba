"""What a landmark fit optimises, and how it maps back to a pose and a camera.

The optimiser does not move Euler angles and millimetres directly: near the closed-form start
(:mod:`facejax.fitting.initialize`) it moves small, similarly scaled increments, which keeps
Adam's single learning rate and L-BFGS's curvature model meaningful for every variable and
avoids the gimbal lock of Euler angles at large yaw:

* ``rotation``: an axis-angle increment (radians) applied on the camera side of the start,
  ``R = exp(omega) @ R0``;
* ``translation``: ``(dx, dy, dz)``: an image-plane shift in face sizes (``dx = 1`` moves the
  face by its own size in the image) and the log of the change in distance (``dz > 0`` moves
  a perspective face away, a weak-perspective face gets smaller by ``exp(-dz)``).

Coefficients stay in units of standard deviation.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import struct

from facejax import geometry

Array = Any


@struct.dataclass
class FitVariables:
    """The unknowns of one person's fit over ``N`` images (``N = 1`` for a single image).

    Attributes:
      identity: ``[Ki]`` shared identity coefficients.
      expression: ``[N, Ke]`` per-image expression coefficients.
      rotation: ``[N, 3]`` axis-angle increments (radians).
      translation: ``[N, 3]`` position increments (module docstring).
    """

    identity: Array
    expression: Array
    rotation: Array
    translation: Array


@struct.dataclass
class Start:
    """The closed-form start of each image (batched over ``N`` images).

    Attributes:
      rotation: ``[N, 3, 3]``.
      translation: ``[N, 3]`` mm, camera frame.
      camera: ``[N]`` cameras (perspective: fixed; weak perspective: the solved start).
      face_size: ``[N]`` face size of the targets, pixels.
    """

    rotation: Array
    translation: Array
    camera: Any
    face_size: Array


def zero_variables(num_images: int, num_identity: int, num_expression: int, dtype) -> FitVariables:
    """All increments and coefficients at zero: the start itself with the mean face."""
    return FitVariables(
        identity=jnp.zeros((num_identity,), dtype),
        expression=jnp.zeros((num_images, num_expression), dtype),
        rotation=jnp.zeros((num_images, 3), dtype),
        translation=jnp.zeros((num_images, 3), dtype),
    )


def image_pose(
    rotation_increment, translation_increment, start_rotation, start_translation, camera, face_size
):
    """Pose and camera of one image from its increments (unbatched; vmap over images).

    Args:
      rotation_increment: ``[3]`` axis-angle.
      translation_increment: ``[3]`` ``(dx, dy, dz)``.
      start_rotation: ``[3, 3]``.
      start_translation: ``[3]`` mm.
      camera: one camera (the start's).
      face_size: ``[]`` pixels.

    Returns:
      ``(rotation [3, 3], translation [3], camera)``.
    """
    rotation = geometry.rotation_from_axis_angle(rotation_increment) @ start_rotation
    dx, dy, dz = translation_increment[0], translation_increment[1], translation_increment[2]
    if isinstance(camera, geometry.WeakPerspectiveCamera):
        moved = geometry.WeakPerspectiveCamera(
            scale=camera.scale * jnp.exp(-dz),
            translation=camera.translation + face_size * jnp.stack([dx, -dy]),
        )
        return rotation, start_translation, moved
    # Millimetres per face size at the face's distance.
    unit = face_size * jnp.abs(start_translation[2]) / jnp.mean(camera.focal)
    translation = jnp.stack(
        [
            start_translation[0] + unit * dx,
            start_translation[1] + unit * dy,
            start_translation[2] * jnp.exp(dz),
        ]
    )
    return rotation, translation, camera
