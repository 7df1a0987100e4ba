"""Geometry for 3D faces: safe numerics, rotations, transforms, cameras, normals, alignment.

Batching rule: functions over rotations and points (``safe``, ``rotation``, ``transform``,
``camera``) broadcast over leading ``...`` dimensions of their point/rotation arguments; functions
over meshes (``normals``, ``alignment``) are unbatched (``[V, 3]``, ``[N, 3]``) and batched with
``jax.vmap``. Transforms and cameras hold one pose or camera; batch several with ``jax.vmap`` too.

Frames, units, Euler angles and image coordinates follow ``docs/conventions.md``.
"""

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
    similarity_transform,
)

__all__ = [
    "Camera",
    "PerspectiveCamera",
    "WeakPerspectiveCamera",
    "face_normals",
    "triangle_areas",
    "vertex_normals",
    "look_at",
    "normalized_depth",
    "project",
    "unproject",
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
    "safe_arccos",
    "safe_arcsin",
    "safe_arctan2",
    "safe_norm",
    "safe_normalize",
    "compose_rigid",
    "compose_similarity",
    "inverse_rigid",
    "inverse_similarity",
    "rigid_transform",
    "similarity_transform",
]
