"""Linear blend skinning against a float64 numpy transcription of smplx's ``lbs``."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax.morphable import Skinning, create_model
from facejax.morphable.skinning import (
    articulate,
    articulated_joints,
    kinematic_chain,
    linear_blend_skinning,
)

ATOL_F64 = 1e-10  # mm, on coordinates of ~100 mm
ATOL_F32 = 2e-3  # mm: float32 round-off on ~100 mm coordinates through a 5-joint chain
FLAME_PARENTS = np.array([-1, 0, 1, 1, 1])
CHAIN_PARENTS = np.array([-1, 0, 1, 2, 3])  # depth 4: every round of the chain is needed


def _rodrigues(v):
    theta = np.linalg.norm(v)
    if theta == 0.0:
        return np.eye(3)
    k = v / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * kx @ kx


def _lbs_reference(v_shaped, pose, regressor, posedirs, parents, weights):
    """smplx ``lbs`` (batch of one, numpy float64), 4x4 transforms and all.

    smplx's ``batch_rodrigues`` adds 1e-8 to the rotation vector before taking its norm; the exact
    formula is used here, so that the comparison can be tight.
    """
    num_joints = len(parents)
    joints = regressor @ v_shaped
    rot = np.stack([_rodrigues(p) for p in pose])
    pose_feature = (rot[1:] - np.eye(3)).reshape(-1)
    posedirs_flat = posedirs.reshape(-1, posedirs.shape[-1]).T  # [P, 3V] as smplx stores it
    v_posed = v_shaped + (pose_feature @ posedirs_flat).reshape(-1, 3)
    rel_joints = joints.copy()
    rel_joints[1:] -= joints[parents[1:]]
    local = np.tile(np.eye(4), (num_joints, 1, 1))
    local[:, :3, :3] = rot
    local[:, :3, 3] = rel_joints
    chain = [local[0]]
    for i in range(1, num_joints):
        chain.append(chain[parents[i]] @ local[i])
    transforms = np.stack(chain)
    joints_homogen = np.concatenate([joints, np.zeros((num_joints, 1))], axis=1)
    rel = transforms.copy()
    rel[:, :, 3] -= np.einsum("jab,jb->ja", transforms, joints_homogen)
    blended = (weights @ rel.reshape(num_joints, 16)).reshape(-1, 4, 4)
    v_homo = np.concatenate([v_posed, np.ones((len(v_posed), 1))], axis=1)
    return np.einsum("vab,vb->va", blended, v_homo)[:, :3], transforms[:, :3, 3]


def _skinning(parents, num_vertices=12, seed=0):
    rng = np.random.default_rng(seed)
    num_joints = len(parents)
    vertices = rng.normal(scale=60.0, size=(num_vertices, 3))
    regressor = rng.uniform(size=(num_joints, num_vertices))
    regressor /= regressor.sum(axis=1, keepdims=True)
    weights = rng.uniform(size=(num_vertices, num_joints)) ** 3
    weights /= weights.sum(axis=1, keepdims=True)
    posedirs = rng.normal(scale=2.0, size=(num_vertices, 3, 9 * (num_joints - 1)))
    skinning = Skinning(
        joint_regressor=regressor,
        weights=weights,
        pose_correctives=posedirs,
        parents=np.asarray(parents, np.int32),
        joint_names=tuple(f"j{i}" for i in range(num_joints)),
    )
    pose = rng.normal(scale=0.4, size=(num_joints, 3))
    return skinning, vertices, pose


def _float32(skinning):
    return skinning.replace(
        joint_regressor=np.float32(skinning.joint_regressor),
        weights=np.float32(skinning.weights),
        pose_correctives=np.float32(skinning.pose_correctives),
    )


@pytest.mark.parametrize("parents", [FLAME_PARENTS, CHAIN_PARENTS], ids=["flame", "chain"])
def test_articulate_matches_smplx_reference(x64, parents):
    skinning, vertices, pose = _skinning(parents)
    expected, expected_joints = _lbs_reference(
        vertices,
        pose,
        skinning.joint_regressor,
        skinning.pose_correctives,
        parents,
        skinning.weights,
    )
    got = articulate(skinning, vertices, pose)
    assert got.dtype == jnp.float64
    np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=ATOL_F64)
    joints = articulated_joints(skinning, vertices, pose)
    np.testing.assert_allclose(np.asarray(joints), expected_joints, rtol=0, atol=ATOL_F64)
    # The pose correctives and the chain both matter: a posed face is not the rest face.
    assert np.abs(expected - vertices).max() > 1.0


def test_articulate_float32_close_to_float64_reference():
    skinning, vertices, pose = _skinning(FLAME_PARENTS)
    expected, _ = _lbs_reference(
        vertices,
        pose,
        skinning.joint_regressor,
        skinning.pose_correctives,
        FLAME_PARENTS,
        skinning.weights,
    )
    to32 = _float32(skinning)
    got = articulate(to32, np.float32(vertices), np.float32(pose))
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=ATOL_F32)


def test_zero_pose_is_identity(x64):
    skinning, vertices, _ = _skinning(FLAME_PARENTS)
    got = articulate(skinning, vertices, np.zeros((5, 3)))
    np.testing.assert_allclose(np.asarray(got), vertices, rtol=0, atol=ATOL_F64)


def test_root_rotation_is_rigid(x64):
    # Only the root rotates: no pose correctives, every vertex turns about the root joint.
    skinning, vertices, _ = _skinning(FLAME_PARENTS)
    pose = np.zeros((5, 3))
    pose[0] = [0.1, -0.5, 0.3]
    root = skinning.joint_regressor[0] @ vertices
    expected = (vertices - root) @ _rodrigues(pose[0]).T + root
    got = articulate(skinning, vertices, pose)
    np.testing.assert_allclose(np.asarray(got), expected, rtol=0, atol=ATOL_F64)


def test_kinematic_chain_independent_of_joint_order(x64):
    skinning, vertices, pose = _skinning(CHAIN_PARENTS)
    rotations = np.stack([_rodrigues(p) for p in pose])
    joints = skinning.joint_regressor @ vertices
    rot, pos = kinematic_chain(rotations, joints, CHAIN_PARENTS)
    perm = np.array([3, 0, 4, 2, 1])  # new joint k is old joint perm[k]
    inverse = np.argsort(perm)
    parents = np.array([-1 if CHAIN_PARENTS[p] < 0 else inverse[CHAIN_PARENTS[p]] for p in perm])
    rot_p, pos_p = kinematic_chain(rotations[perm], joints[perm], parents)
    np.testing.assert_allclose(np.asarray(rot_p), np.asarray(rot)[perm], atol=ATOL_F64)
    np.testing.assert_allclose(np.asarray(pos_p), np.asarray(pos)[perm], atol=ATOL_F64)


def test_gradients(x64):
    skinning, vertices, pose = _skinning(FLAME_PARENTS, num_vertices=6)
    # jit: check_grads evaluates the function many times; compiled once it is fast.
    posed = jax.jit(lambda r, v: articulate(skinning, v, r))
    check_grads(posed, (pose, vertices), order=1, modes=("fwd", "rev"))
    # At the rest pose Rodrigues' formula switches to its series: gradients stay exact there.
    check_grads(posed, (np.zeros_like(pose), vertices), order=1, modes=("rev",))


def test_jit_vmap_match_loop():
    skinning, vertices, _ = _skinning(FLAME_PARENTS)
    to32 = _float32(skinning)
    poses = np.random.default_rng(3).normal(scale=0.3, size=(3, 5, 3)).astype(np.float32)
    batched = jax.jit(jax.vmap(articulate, in_axes=(None, None, 0)))(to32, vertices, poses)
    for b in range(3):
        np.testing.assert_allclose(
            np.asarray(batched[b]),
            np.asarray(articulate(to32, vertices, poses[b])),
            rtol=0,
            atol=1e-4,
        )


def test_accepts_model_and_rejects_bad_input():
    skinning, vertices, pose = _skinning(FLAME_PARENTS)
    triangles = np.array([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]])
    model = create_model(vertices, triangles, skinning=skinning)
    np.testing.assert_allclose(
        np.asarray(articulate(model, vertices, pose)),
        np.asarray(articulate(skinning, vertices, pose)),
    )
    with pytest.raises(ValueError, match="not articulated"):
        articulate(create_model(vertices, triangles), vertices, pose)
    with pytest.raises(ValueError, match=r"joint_rotations must have shape \[J=5, 3\]"):
        articulate(skinning, vertices, pose[:4])
    with pytest.raises(ValueError, match=r"vertices must have shape \[V=12, 3\]"):
        articulate(skinning, vertices[:5], pose)
    with pytest.raises(ValueError, match="one rotation per joint"):
        linear_blend_skinning(skinning, vertices, np.eye(3)[None])
    with pytest.raises(TypeError, match="MorphableModel or a Skinning"):
        articulate(vertices, vertices, pose)
