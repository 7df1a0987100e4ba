"""What a fit returns: the fitted parameters and how well they explain the landmarks."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import struct

from facejax import geometry, lighting
from facejax.morphable.model import MorphableModel
from facejax.morphable.params import FaceParams

Array = Any

# The Euler convention of FitResult.params.rotation (docs/conventions.md).
ROTATION_CONVENTION = geometry.DEFAULT_EULER_CONVENTION


@struct.dataclass
class FitResult:
    """Fitted parameters and diagnostics.

    Leading dimensions ``[...]``: ``[]`` or ``[B]`` for :func:`facejax.fitting.fit_landmarks`;
    ``[N]`` or ``[P, N]`` (persons, images) for :func:`facejax.fitting.fit_joint`, where every
    image of a person carries the same identity coefficients.

    Attributes:
      params: ``FaceParams`` with leading ``[...]``: identity, expression (in standard
        deviations; components that were not fitted are 0), rotation (Euler ``(pitch, yaw,
        roll)`` radians, convention ``"xyz"``), translation (mm), camera, albedo (0 unless
        photometric) and SH lighting (ambient unless photometric).
      loss: final objective: per face for single-image fits ``[...]``, per person for joint
        fits (``[]`` or ``[P]``).
      landmark_error: ``[...]`` mean distance in pixels between the fitted and the target
        landmarks over the points with weight > 0 (NaN for an image without any).
      landmarks_2d: ``[..., L, 2]`` fitted landmarks, pixels.
      loss_history: objective before each iteration, ``[..., steps]`` (per person for joint
        fits, like ``loss``).
      iterations: optimizer iterations run (static; every face runs them all).
    """

    params: FaceParams
    loss: Array
    landmark_error: Array
    landmarks_2d: Array
    loss_history: Array
    iterations: int = struct.field(pytree_node=False, default=0)


def face_params(model: MorphableModel, identity, expression, rotation, translation, camera):
    """``FaceParams`` of one image (unbatched) from fitted values.

    Args:
      model: gives the coefficient counts; fitted coefficients shorter than the model's are
        padded with zeros.
      identity: ``[ki]``, ``ki <= Ki``.
      expression: ``[ke]``, ``ke <= Ke``.
      rotation: ``[3, 3]`` rotation matrix.
      translation: ``[3]`` mm.
      camera: the image's camera.
    """
    dtype = translation.dtype
    articulation = None
    if model.skinning is not None:
        articulation = jnp.zeros((model.skinning.num_joints, 3), dtype)
    return FaceParams(
        identity=_padded(identity, model.num_identity),
        expression=_padded(expression, model.num_expression),
        albedo=jnp.zeros((model.num_albedo,), dtype),
        rotation=geometry.euler_from_rotation(rotation, ROTATION_CONVENTION),
        translation=translation,
        camera=camera,
        sh_coeffs=lighting.ambient(1.0, dtype=dtype),
        articulation=articulation,
        rotation_convention=ROTATION_CONVENTION,
    )


def _padded(coeffs, size: int):
    return jnp.pad(coeffs, (0, size - coeffs.shape[-1]))
