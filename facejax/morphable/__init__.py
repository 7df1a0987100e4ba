"""Differentiable 3D morphable models: the model pytree and the functions over it.

Functions take one unbatched model and one face's coefficients and are batched with
``jax.vmap`` over the coefficients (``in_axes=(None, 0)``). They run under ``jax.jit`` and
``jax.grad`` in float32 and, with x64 enabled, float64.
"""

from facejax.morphable.decode import (
    Face,
    albedo,
    composite_shape,
    decode,
    decode_batch,
    expression_offset,
    identity_offset,
    landmarks,
    linear_offset,
    normals,
    pose,
    project,
    rotation_matrix,
    shape,
)
from facejax.morphable.model import (
    NUM_IBUG_LANDMARKS,
    MorphableModel,
    Skinning,
    create_model,
    fingerprint,
    landmarks_from_vertices,
    to_device,
    truncate,
)
from facejax.morphable.params import (
    FaceParams,
    default_camera,
    neutral_params,
    random_params,
)
from facejax.morphable.prior import gaussian_prior, prior_terms
from facejax.morphable.skinning import (
    articulate,
    articulated_joints,
    joint_positions,
    kinematic_chain,
    linear_blend_skinning,
    pose_feature,
)

__all__ = [
    "NUM_IBUG_LANDMARKS",
    "Face",
    "FaceParams",
    "MorphableModel",
    "Skinning",
    "albedo",
    "articulate",
    "articulated_joints",
    "composite_shape",
    "create_model",
    "decode",
    "decode_batch",
    "default_camera",
    "expression_offset",
    "fingerprint",
    "gaussian_prior",
    "identity_offset",
    "joint_positions",
    "kinematic_chain",
    "landmarks",
    "landmarks_from_vertices",
    "linear_blend_skinning",
    "linear_offset",
    "neutral_params",
    "normals",
    "pose",
    "pose_feature",
    "prior_terms",
    "project",
    "random_params",
    "rotation_matrix",
    "shape",
    "to_device",
    "truncate",
]
