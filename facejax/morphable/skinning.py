"""Linear blend skinning (LBS) of articulated morphable models: FLAME's neck, jaw and eyes.

The formulation is SMPL's (Loper et al., SIGGRAPH Asia 2015), which FLAME (Li et al., SIGGRAPH
Asia 2017) reuses, and it matches the ``lbs`` function of the ``smplx`` package step for step:

1. joints ``J = joint_regressor @ v`` from the shaped (identity + expression) vertices ``v``;
2. pose correctives ``v_p = v + pose_correctives @ vec(R_1 - I, ..., R_{J-1} - I)`` (the root's
   rotation is excluded: a global rotation must not deform the face);
3. the world transform of each joint along the kinematic chain,
   ``G_j = G_parent(j) @ [R_j | J_j - J_parent(j)]`` (the root: ``[R_0 | J_0]``);
4. skinning transforms relative to the rest pose, ``A_j = [R^G_j | t^G_j - R^G_j @ J_j]``, blended
   per vertex by the weights: ``v'_i = sum_j w_ij (R^G_j @ v_p,i + t^G_j - R^G_j @ J_j)``.

Blending a rotation part and a translation part separately is the same linear blend as blending
the 4x4 matrices, without the homogeneous row. Joint rotations are axis-angle vectors in radians,
the model frame of docs/conventions.md; lengths keep the model's units (millimetres after loading).

``parents`` is an int32 pytree leaf (traced under ``jit``), so the chain is not walked with Python
indexing: starting from the local transforms, ``J - 1`` rounds of ``G = where(root, L, G[parents]
@ L)`` make every joint exact once its parent is (a joint at depth ``d`` is exact after ``d``
rounds), computing the same products in the same order as the sequential loop.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from facejax.geometry.rotation import rotation_from_axis_angle
from facejax.morphable.model import MorphableModel, Skinning


def _skinning_of(model_or_skinning, fn: str) -> Skinning:
    if isinstance(model_or_skinning, Skinning):
        return model_or_skinning
    if isinstance(model_or_skinning, MorphableModel):
        if model_or_skinning.skinning is None:
            raise ValueError(
                f"{fn}: model '{model_or_skinning.name}' is not articulated (it has no skinning)"
            )
        return model_or_skinning.skinning
    raise TypeError(
        f"{fn}: expected a MorphableModel or a Skinning, got {type(model_or_skinning).__name__}"
    )


def _check_shapes(skinning: Skinning, vertices, rotations, fn: str) -> None:
    """Shapes are static under jit: the checks cost nothing at run time."""
    num_vertices, num_joints = skinning.weights.shape
    if skinning.joint_regressor.shape != (num_joints, num_vertices):
        raise ValueError(
            f"{fn}: joint_regressor must have shape [J={num_joints}, V={num_vertices}], "
            f"got {tuple(skinning.joint_regressor.shape)}"
        )
    num_features = 9 * (num_joints - 1)
    if skinning.pose_correctives.shape != (num_vertices, 3, num_features):
        raise ValueError(
            f"{fn}: pose_correctives must have shape [V={num_vertices}, 3, 9 * (J - 1)="
            f"{num_features}], got {tuple(skinning.pose_correctives.shape)}"
        )
    if skinning.parents.shape != (num_joints,):
        raise ValueError(
            f"{fn}: parents must have shape [J={num_joints}], got {tuple(skinning.parents.shape)}"
        )
    if vertices.shape != (num_vertices, 3):
        raise ValueError(
            f"{fn}: vertices must have shape [V={num_vertices}, 3], got {tuple(vertices.shape)}"
        )
    if rotations.shape != (num_joints, 3, 3):
        raise ValueError(
            f"{fn}: expected one rotation per joint, [J={num_joints}, 3, 3], "
            f"got {tuple(rotations.shape)}"
        )


def kinematic_chain(rotations, joints, parents) -> tuple[jax.Array, jax.Array]:
    """World rotation and position of every joint of a posed skeleton.

    Args:
      rotations: ``[J, 3, 3]`` rotation of each joint relative to its parent.
      joints: ``[J, 3]`` rest positions of the joints.
      parents: ``[J]`` int parent of each joint, negative for the root (any tree order).

    Returns:
      ``(world_rotations [J, 3, 3], world_positions [J, 3])``: ``G_j`` of the module docstring;
      ``world_positions`` are the posed joint positions.
    """
    dtype = jnp.result_type(jnp.asarray(rotations).dtype, jnp.asarray(joints).dtype)
    rotations = jnp.asarray(rotations, dtype)
    joints = jnp.asarray(joints, dtype)
    parents = jnp.asarray(parents)
    num_joints = joints.shape[0]
    is_root = parents < 0
    parent = jnp.where(is_root, 0, parents)
    # Offsets from the parent joint; the root's local translation is its own rest position.
    offsets = joints - jnp.where(is_root[:, None], jnp.zeros_like(joints), joints[parent])

    def extend(_, chain):
        rot, pos = chain
        parent_rot, parent_pos = rot[parent], pos[parent]
        new_rot = jnp.einsum("jab,jbc->jac", parent_rot, rotations)
        new_pos = jnp.einsum("jab,jb->ja", parent_rot, offsets) + parent_pos
        rot = jnp.where(is_root[:, None, None], rotations, new_rot)
        pos = jnp.where(is_root[:, None], offsets, new_pos)
        return rot, pos

    return jax.lax.fori_loop(0, max(num_joints - 1, 0), extend, (rotations, offsets))


def pose_feature(rotations) -> jax.Array:
    """The pose-corrective drive ``vec(R_1 - I, ..., R_{J-1} - I)``, row-major per joint.

    Args:
      rotations: ``[J, 3, 3]`` joint rotations (the root's, ``R_0``, is not used).

    Returns:
      ``[9 * (J - 1)]``, entry ``9 * (j - 1) + 3 * r + c`` is ``(R_j - I)[r, c]``.
    """
    rotations = jnp.asarray(rotations)
    eye = jnp.eye(3, dtype=rotations.dtype)
    return (rotations[1:] - eye[None]).reshape(-1)


def joint_positions(model_or_skinning, vertices) -> jax.Array:
    """Rest joint positions ``joint_regressor @ vertices``.

    Args:
      model_or_skinning: a :class:`MorphableModel` with skinning, or a :class:`Skinning`.
      vertices: ``[V, 3]`` shaped, unposed vertices.

    Returns:
      ``[J, 3]`` in the units of ``vertices``.
    """
    skinning = _skinning_of(model_or_skinning, "joint_positions")
    return jnp.asarray(skinning.joint_regressor) @ jnp.asarray(vertices)


def linear_blend_skinning(model_or_skinning, vertices, rotations) -> jax.Array:
    """Poses shaped vertices by joint rotation matrices (SMPL/FLAME LBS with pose correctives).

    Args:
      model_or_skinning: a :class:`MorphableModel` with skinning, or a :class:`Skinning`.
      vertices: ``[V, 3]`` shaped, unposed vertices (mean + identity + expression).
      rotations: ``[J, 3, 3]`` rotation of each joint relative to its parent.

    Returns:
      ``[V, 3]`` posed vertices, same units and frame as ``vertices``.

    Raises:
      ValueError: if a shape does not match the skinning data.
    """
    skinning = _skinning_of(model_or_skinning, "linear_blend_skinning")
    vertices = jnp.asarray(vertices)
    rotations = jnp.asarray(rotations)
    _check_shapes(skinning, vertices, rotations, "linear_blend_skinning")
    dtype = jnp.result_type(vertices.dtype, rotations.dtype)
    vertices = vertices.astype(dtype)
    rotations = rotations.astype(dtype)
    regressor = jnp.asarray(skinning.joint_regressor, dtype)
    weights = jnp.asarray(skinning.weights, dtype)
    correctives = jnp.asarray(skinning.pose_correctives, dtype)

    joints = regressor @ vertices
    posed = vertices + correctives @ pose_feature(rotations)
    world_rot, world_pos = kinematic_chain(rotations, joints, skinning.parents)
    # Transforms relative to the rest pose: a vertex at rest moves with its joint.
    rel_trans = world_pos - jnp.einsum("jab,jb->ja", world_rot, joints)
    blend_rot = jnp.einsum("vj,jab->vab", weights, world_rot)
    blend_trans = weights @ rel_trans
    return jnp.einsum("vab,vb->va", blend_rot, posed) + blend_trans


def articulate(model_or_skinning, vertices, joint_rotations) -> jax.Array:
    """Poses shaped vertices by axis-angle joint rotations (FLAME's ``full_pose``).

    For FLAME the joints are (global, neck, jaw, left eye, right eye), so ``joint_rotations`` is
    FLAME's 15-number pose reshaped to ``[5, 3]``. All zeros leaves the vertices unchanged.

    Args:
      model_or_skinning: a :class:`MorphableModel` with skinning, or a :class:`Skinning`.
      vertices: ``[V, 3]`` shaped, unposed vertices (mean + identity + expression).
      joint_rotations: ``[J, 3]`` axis-angle rotation (radians) of each joint relative to its
        parent.

    Returns:
      ``[V, 3]`` posed vertices.

    Raises:
      ValueError: if the model is not articulated or a shape does not match.
    """
    skinning = _skinning_of(model_or_skinning, "articulate")
    joint_rotations = jnp.asarray(joint_rotations)
    num_joints = skinning.weights.shape[-1]
    if joint_rotations.shape != (num_joints, 3):
        raise ValueError(
            f"articulate: joint_rotations must have shape [J={num_joints}, 3] (axis-angle), "
            f"got {tuple(joint_rotations.shape)}"
        )
    return linear_blend_skinning(skinning, vertices, rotation_from_axis_angle(joint_rotations))


def articulated_joints(model_or_skinning, vertices, joint_rotations) -> jax.Array:
    """Posed joint positions (e.g. the eye centres) for axis-angle joint rotations.

    Args:
      model_or_skinning: a :class:`MorphableModel` with skinning, or a :class:`Skinning`.
      vertices: ``[V, 3]`` shaped, unposed vertices.
      joint_rotations: ``[J, 3]`` axis-angle rotations.

    Returns:
      ``[J, 3]`` world positions of the joints.
    """
    skinning = _skinning_of(model_or_skinning, "articulated_joints")
    joints = joint_positions(skinning, vertices)
    rotations = rotation_from_axis_angle(jnp.asarray(joint_rotations))
    if rotations.shape != (joints.shape[0], 3, 3):
        raise ValueError(
            f"articulated_joints: joint_rotations must have shape [J={joints.shape[0]}, 3], "
            f"got {tuple(jnp.shape(joint_rotations))}"
        )
    return kinematic_chain(rotations, joints, skinning.parents)[1]
