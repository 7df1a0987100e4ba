"""Geometry for 3D faces: safe numerics, rotations, transforms, cameras, normals, alignment.

Batching rule: functions over rotations and points (``safe``, ``rotation``, ``transform``,
``camera``) broadcast over the leading ``...`` dimensions of their rotation/point arguments.
Functions over meshes and point sets (``normals``, ``alignment``) are unbatched (``[V, 3]``,
``[N, 3]``) and batched with ``jax.vmap``. A transform (``rotation [3, 3]``, ``translation [3]``)
or a camera pytree is one pose or one camera; batch several with ``jax.vmap`` too.

Frames, units, Euler angles and image coordinates follow ``docs/conventions.md``.
"""

from facejax.geometry.alignment import align, procrustes
from facejax.geometry.camera import (
    Camera,
    PerspectiveCamera,
    WeakPerspectiveCamera,
    look_at,
    normalized_depth,
    project,
    unproject,
)
from facejax.geometry.normals import face_normals, triangle_areas, vertex_normals
from facejax.geometry.rotation import (
    DEFAULT_EULER_CONVENTION,
    EULER_CONVENTIONS,
    EulerConvention,
    axis_angle_from_rotation,
    euler_from_rotation,
    geodesic_distance,
    quaternion_from_rotation,
    rotation_from_6d,
    rotation_from_axis_angle,
    rotation_from_euler,
    rotation_from_quaternion,
    rotation_to_6d,
)
from facejax.geometry.safe import (
    safe_arccos,
    safe_arcsin,
    safe_arctan2,
    safe_norm,
    safe_normalize,
)
from facejax.geometry.transform import (
    compose_rigid,
    compose_similarity,
    inverse_rigid,
    inverse_similarity,
    rigid_transform,
    rotate_points,
    similarity_transform,
)

__all__ = [
    # safe
    "safe_arccos",
    "safe_arcsin",
    "safe_arctan2",
    "safe_norm",
    "safe_normalize",
    # rotation
    "DEFAULT_EULER_CONVENTION",
    "EULER_CONVENTIONS",
    "EulerConvention",
    "axis_angle_from_rotation",
    "euler_from_rotation",
    "geodesic_distance",
    "quaternion_from_rotation",
    "rotation_from_6d",
    "rotation_from_axis_angle",
    "rotation_from_euler",
    "rotation_from_quaternion",
    "rotation_to_6d",
    # transform
    "compose_rigid",
    "compose_similarity",
    "inverse_rigid",
    "inverse_similarity",
    "rigid_transform",
    "rotate_points",
    "similarity_transform",
    # camera
    "Camera",
    "PerspectiveCamera",
    "WeakPerspectiveCamera",
    "look_at",
    "normalized_depth",
    "project",
    "unproject",
    # normals
    "face_normals",
    "triangle_areas",
    "vertex_normals",
    # alignment
    "align",
    "procrustes",
]
