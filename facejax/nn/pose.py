"""How the networks parameterise head pose and camera: weak perspective about the face centre.

A network predicts 9 numbers per image, ``code = (d6 [6], log_scale [1], shift [2])``:

* rotation ``R = rotation_from_6d(d6_identity + d6)`` (Zhou et al.'s continuous 6D
  representation, offset so that a zero code is the identity: a frontal, upright face);
* scale ``s = fill * S / extent * exp(log_scale)`` pixels per millimetre, where ``S`` is the
  shorter image side and ``extent`` the larger side of the mean face's landmark box (mm): a
  zero code makes the mean face's landmarks span ``fill`` of the image, as in the synthetic
  datasets (``fill`` 0.6 to 0.8);
* image position of the face centre ``(W / 2, H / 2) + S * shift`` pixels: a zero code puts it
  at the image centre.

The face centre (the *anchor*) is the centre of the mean face's landmark box in the model frame.
The pose rotates the face about it and projects with a weak-perspective camera::

    x_camera = R @ (x - anchor) = R @ x + t,  t = -R @ anchor   (mm)
    (u, v) = (tu + s * x_camera[0], tv - s * x_camera[1])      (pixels, y down)

which is exactly a :class:`facejax.morphable.FaceParams` with Euler angles of ``R``,
``translation = t`` and ``camera = WeakPerspectiveCamera(s, (tu, tv))``: a predicted pose can be
decoded, rendered and fitted with the rest of facejax. Because the scale and shift are relative
to the image size, an untrained network (codes near zero) projects the mean face into the
middle of any image at a plausible size.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from facejax import geometry, morphable

Array = Any

POSE_CODE_SIZE = 9
DEFAULT_FILL = 0.7


@struct.dataclass
class WeakPerspectivePose:
    """Pose and weak-perspective camera of a batch of ``B`` faces.

    Attributes:
      rotation: ``[B, 3, 3]`` model-to-camera rotation.
      angles: ``[B, 3]`` ``(pitch, yaw, roll)`` radians of ``rotation`` in facejax's ``"xyz"``
        Euler convention.
      translation: ``[B, 3]`` mm, ``-R @ anchor``: the anchor sits at the camera-frame origin.
      scale: ``[B]`` pixels per millimetre.
      image_translation: ``[B, 2]`` ``(x, y)`` pixels where the anchor lands.
    """

    rotation: Array
    angles: Array
    translation: Array
    scale: Array
    image_translation: Array

    def camera(self) -> geometry.WeakPerspectiveCamera:
        """The batched ``WeakPerspectiveCamera`` (fields with a leading ``[B]`` axis)."""
        return geometry.WeakPerspectiveCamera(scale=self.scale, translation=self.image_translation)

    def project(self, points) -> Array:
        """Model-frame points ``[B, N, 3]`` -> ``[B, N, 3]`` image ``(x, y, depth)``."""

        def one(rotation, translation, camera, pts):
            camera_points = geometry.rigid_transform(pts, rotation, translation)
            return geometry.project(camera, camera_points)

        return jax.vmap(one)(self.rotation, self.translation, self.camera(), points)

    def face_params(self, identity, expression, albedo, sh_coeffs) -> morphable.FaceParams:
        """Batched ``FaceParams`` ``[B]`` with this pose (for ``jax.vmap(morphable.decode)``).

        Args:
          identity: ``[B, Ki]``; expression: ``[B, Ke]``; albedo: ``[B, Ka]``;
          sh_coeffs: ``[B, 9, 3]``.
        """
        return morphable.FaceParams(
            identity=identity,
            expression=expression,
            albedo=albedo,
            rotation=self.angles,
            translation=self.translation,
            camera=self.camera(),
            sh_coeffs=sh_coeffs,
        )


def face_frame(model: morphable.MorphableModel) -> tuple[Array, Array]:
    """The anchor ``[3]`` (mm) and extent ``[]`` (mm) of the model's mean face.

    The anchor is the centre of the bounding box of the mean face's landmarks and the extent
    the larger of its x and y sides (the mean-shape vertices when the model has no landmarks),
    the same framing as the synthetic datasets'. Traceable: the model may be a jit argument.
    """
    mean = jnp.asarray(model.mean_shape)
    points = morphable.landmarks(model, mean) if model.num_landmarks else mean
    low, high = jnp.min(points, axis=0), jnp.max(points, axis=0)
    return 0.5 * (low + high), jnp.max(high[:2] - low[:2])


def weak_perspective_pose(
    code, *, image_size: tuple[int, int], anchor, extent, fill: float = DEFAULT_FILL
) -> WeakPerspectivePose:
    """Decodes pose codes ``[B, 9]`` (see the module docstring) into a pose.

    Args:
      code: ``[B, 9]`` ``(d6, log_scale, shift)``.
      image_size: ``(height, width)`` of the input images, pixels.
      anchor: ``[3]`` model-frame point the pose rotates about (see :func:`face_frame`).
      extent: ``[]`` mm of the mean face that a zero code spans ``fill`` of the image with.
      fill: share of the shorter image side the mean face spans at a zero code.

    Returns:
      The :class:`WeakPerspectivePose`.
    """
    code = jnp.asarray(code)
    if code.ndim != 2 or code.shape[-1] != POSE_CODE_SIZE:
        raise ValueError(f"weak_perspective_pose: code must be [B, 9], got {code.shape}")
    height, width = image_size
    side = float(min(height, width))
    identity_6d = geometry.rotation_to_6d(jnp.eye(3, dtype=code.dtype))
    rotation = geometry.rotation_from_6d(identity_6d[None, :] + code[:, 0:6])
    anchor = jnp.asarray(anchor, code.dtype)
    scale = fill * side / jnp.asarray(extent, code.dtype) * jnp.exp(code[:, 6])
    centre = jnp.array([0.5 * width, 0.5 * height], code.dtype)
    return WeakPerspectivePose(
        rotation=rotation,
        angles=geometry.euler_from_rotation(rotation),
        translation=-jnp.einsum("bij,j->bi", rotation, anchor),
        scale=scale,
        image_translation=centre[None, :] + side * code[:, 7:9],
    )
