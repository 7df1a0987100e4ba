"""Per-face parameters: what a fitter estimates and what a network regresses."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from facejax import lighting
from facejax.geometry import PerspectiveCamera, WeakPerspectiveCamera
from facejax.morphable.model import MorphableModel

Array = Any

# Deep3DFaceRecon's camera: focal 1015 px for a 224 px crop, the face 10 dm = 1000 mm away.
DEFAULT_IMAGE_SIZE = 224
DEFAULT_FOCAL_224 = 1015.0
DEFAULT_DISTANCE_MM = 1000.0


@struct.dataclass
class FaceParams:
    """The parameters of one face in one image.

    Attributes:
      identity: ``[Ki]`` identity coefficients, in units of standard deviation.
      expression: ``[Ke]`` expression coefficients, in units of standard deviation.
      albedo: ``[Ka]`` albedo coefficients, in units of standard deviation.
      rotation: ``[3]`` Euler angles ``(pitch, yaw, roll)`` in radians, in the convention named
        by ``rotation_convention`` (facejax's default ``"xyz"``: ``R = Rz Ry Rx``).
      translation: ``[3]`` position of the model origin in the camera frame, millimetres (the
        camera looks down -z: a visible face has ``translation[2] < 0``).
      camera: a ``PerspectiveCamera`` or ``WeakPerspectiveCamera`` of ``facejax.geometry``.
      sh_coeffs: ``[9, 3]`` spherical-harmonics lighting in the camera frame (facejax.lighting).
      articulation: optional ``[J, 3]`` axis-angle joint rotations of an articulated model
        (FLAME: global, neck, jaw, left eye, right eye), applied in the model frame before the
        pose; ``None`` for linear models.
      rotation_convention: the Euler convention of ``rotation`` (static).
    """

    identity: Array
    expression: Array
    albedo: Array
    rotation: Array
    translation: Array
    camera: PerspectiveCamera | WeakPerspectiveCamera
    sh_coeffs: Array
    articulation: Array | None = None
    rotation_convention: str = struct.field(pytree_node=False, default="xyz")


def default_camera(image_size: int = DEFAULT_IMAGE_SIZE, dtype=None) -> PerspectiveCamera:
    """The pinhole camera of Deep3DFaceRecon scaled to a square image of ``image_size`` pixels:
    focal ``1015 * image_size / 224`` px, principal point at the image centre."""
    dtype = dtype or jnp.result_type(float)
    focal = DEFAULT_FOCAL_224 * image_size / DEFAULT_IMAGE_SIZE
    return PerspectiveCamera(
        focal=jnp.full((2,), focal, dtype),
        principal_point=jnp.full((2,), image_size / 2.0, dtype),
        near=jnp.asarray(10.0, dtype),
        far=jnp.asarray(10000.0, dtype),
    )


def neutral_params(
    model: MorphableModel,
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
    camera: PerspectiveCamera | WeakPerspectiveCamera | None = None,
    distance: float = DEFAULT_DISTANCE_MM,
    dtype=None,
) -> FaceParams:
    """The mean face, frontal, ``distance`` mm in front of ``camera``, under white ambient light.

    Args:
      model: gives the number of coefficients of each kind.
      image_size: side of the square image the default camera is made for.
      camera: a camera to use instead of :func:`default_camera`.
      distance: millimetres from the camera to the model origin.
    """
    dtype = dtype or jnp.result_type(float)
    articulation = None
    if model.skinning is not None:
        articulation = jnp.zeros((model.skinning.num_joints, 3), dtype)
    return FaceParams(
        identity=jnp.zeros((model.num_identity,), dtype),
        expression=jnp.zeros((model.num_expression,), dtype),
        albedo=jnp.zeros((model.num_albedo,), dtype),
        rotation=jnp.zeros((3,), dtype),
        translation=jnp.array([0.0, 0.0, -distance], dtype),
        camera=camera if camera is not None else default_camera(image_size, dtype),
        sh_coeffs=lighting.ambient(1.0, dtype=dtype),
        articulation=articulation,
    )


def random_params(
    model: MorphableModel,
    key: jax.Array,
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
    scale: float = 1.0,
    max_angles=(0.3, 0.6, 0.2),
    distance: float = DEFAULT_DISTANCE_MM,
    dtype=None,
) -> FaceParams:
    """A random face: coefficients ``~ N(0, scale^2)`` (in standard deviations), pitch/yaw/roll
    uniform in ``+-max_angles`` radians, a small random translation and random soft light.

    Batch with ``jax.vmap(lambda k: random_params(model, k))(keys)``.
    """
    dtype = dtype or jnp.result_type(float)
    k_id, k_ex, k_al, k_rot, k_tr, k_sh = jax.random.split(key, 6)
    params = neutral_params(model, image_size=image_size, distance=distance, dtype=dtype)
    sh = params.sh_coeffs.at[1:4].set(
        0.5 * jax.random.normal(k_sh, (3, 1), dtype) * jnp.ones((1, 3), dtype)
    )
    max_angles = jnp.asarray(max_angles, dtype)
    return params.replace(
        identity=scale * jax.random.normal(k_id, (model.num_identity,), dtype),
        expression=scale * jax.random.normal(k_ex, (model.num_expression,), dtype),
        albedo=scale * jax.random.normal(k_al, (model.num_albedo,), dtype),
        rotation=jax.random.uniform(k_rot, (3,), dtype, -1.0, 1.0) * max_angles,
        translation=params.translation + jax.random.normal(k_tr, (3,), dtype) * 10.0,
        sh_coeffs=sh,
    )
