"""Rotations against float64 numpy/scipy references, round trips and gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.spatial.transform import Rotation

from facejax import geometry
from facejax.geometry import EULER_CONVENTIONS

# The functions under test, compiled: eager dispatch compiles every primitive separately, which
# costs more than the tests themselves on a small CPU. Errors still raise while tracing.
rotation_from_euler = jax.jit(geometry.rotation_from_euler, static_argnames="convention")
euler_from_rotation = jax.jit(geometry.euler_from_rotation, static_argnames="convention")
rotation_from_axis_angle = jax.jit(geometry.rotation_from_axis_angle)
axis_angle_from_rotation = jax.jit(geometry.axis_angle_from_rotation)
rotation_from_quaternion = jax.jit(geometry.rotation_from_quaternion)
quaternion_from_rotation = jax.jit(geometry.quaternion_from_rotation)
rotation_from_6d = jax.jit(geometry.rotation_from_6d)
rotation_to_6d = jax.jit(geometry.rotation_to_6d)
geodesic_distance = jax.jit(geometry.geodesic_distance)

ATOL_F64 = 1e-12
ATOL_F32 = 2e-6
# Gimbal lock and angle-pi inputs are ill-conditioned: angles from float32 round-off matrices
# reconstruct the matrix to about sqrt(eps).
ATOL_F32_SINGULAR = 1e-3
GRAD_TOL = 1e-5


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    """``assert_allclose`` with no hidden relative tolerance: the named tolerance is the test."""
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _angles(n=8, seed=0, yaw_margin=0.1):
    rng = np.random.default_rng(seed)
    pitch = rng.uniform(-np.pi, np.pi, n)
    yaw = rng.uniform(-np.pi / 2 + yaw_margin, np.pi / 2 - yaw_margin, n)
    roll = rng.uniform(-np.pi, np.pi, n)
    return np.stack([pitch, yaw, roll], axis=-1)


def _rotvecs(n=8, seed=1, max_angle=np.pi - 0.1):
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis * rng.uniform(0.05, max_angle, (n, 1))


def _elementary(a):
    """Right-handed elementary rotations about x, y, z (float64 numpy)."""
    c, s = np.cos(a), np.sin(a)
    rx = np.array([[1, 0, 0], [0, c, -s], [0, s, c]])
    ry = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
    rz = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    return rx, ry, rz


def _deep3d_reference(angles):
    """Deep3DFaceRecon models/bfm.py compute_rotation, transposed back to column vectors."""
    p, y, r = angles
    rot_row = (_elementary(r)[2] @ _elementary(y)[1] @ _elementary(p)[0]).T  # what it returns
    return rot_row.T


def _3ddfa_reference(angles):
    """3DDFA RotationMatrix.m / face3d angle2matrix_3ddfa, transcribed literally."""
    phi, gamma, theta = angles
    r_x = np.array([[1, 0, 0], [0, np.cos(phi), np.sin(phi)], [0, -np.sin(phi), np.cos(phi)]])
    r_y = np.array(
        [[np.cos(gamma), 0, -np.sin(gamma)], [0, 1, 0], [np.sin(gamma), 0, np.cos(gamma)]]
    )
    r_z = np.array(
        [[np.cos(theta), np.sin(theta), 0], [-np.sin(theta), np.cos(theta), 0], [0, 0, 1]]
    )
    return r_x @ r_y @ r_z


def _assert_rotations(r, atol):
    r = np.asarray(r, np.float64)
    eye = np.broadcast_to(np.eye(3), r.shape)
    assert_close(np.swapaxes(r, -1, -2) @ r, eye, atol=atol)
    assert_close(np.linalg.det(r), 1.0, atol=atol)


# ---------------------------------------------------------------------------------------------
# Euler


def test_euler_xyz_matches_references(x64):
    angles = _angles()
    r = np.asarray(rotation_from_euler(angles))
    ref_scipy = Rotation.from_euler("xyz", angles).as_matrix()  # extrinsic x, y, z = Rz Ry Rx
    ref_deep3d = np.stack([_deep3d_reference(a) for a in angles])
    assert_close(r, ref_scipy, atol=ATOL_F64)
    assert_close(r, ref_deep3d, atol=ATOL_F64)
    _assert_rotations(r, ATOL_F64)


def test_euler_3ddfa_matches_published_formula(x64):
    angles = _angles()
    r = np.asarray(rotation_from_euler(angles, convention="3ddfa"))
    ref = np.stack([_3ddfa_reference(a) for a in angles])
    assert_close(r, ref, atol=ATOL_F64)
    # The documented relation to the facejax default: the transpose for the same numbers.
    assert_close(r, np.swapaxes(rotation_from_euler(angles), -1, -2), atol=ATOL_F64)
    _assert_rotations(r, ATOL_F64)


def test_euler_sign_semantics(x64):
    # Positive yaw turns the face normal (+z) towards +x, the subject's left.
    r = rotation_from_euler(np.array([0.0, 0.3, 0.0]))
    assert_close(r @ np.array([0.0, 0.0, 1.0]), [np.sin(0.3), 0, np.cos(0.3)], atol=ATOL_F64)


@pytest.mark.parametrize("convention", sorted(EULER_CONVENTIONS))
def test_euler_round_trip(x64, convention):
    angles = _angles(seed=2)
    back = euler_from_rotation(rotation_from_euler(angles, convention), convention)
    assert_close(back, angles, atol=1e-10)


@pytest.mark.parametrize("yaw", [np.pi / 2, -np.pi / 2])
def test_euler_gimbal_lock(x64, yaw):
    angles = np.array([[0.4, yaw, -0.7], [-2.0, yaw, 1.1]])
    r = rotation_from_euler(angles)
    back = np.asarray(euler_from_rotation(r))
    assert_close(back[:, 2], 0.0, atol=ATOL_F64)  # roll set to zero
    assert_close(back[:, 1], yaw, atol=1e-7)
    assert_close(rotation_from_euler(back), r, atol=1e-7)
    grad = jax.jit(jax.grad(lambda m: jnp.sum(euler_from_rotation(m))))(r)
    assert np.all(np.isfinite(grad))


def test_euler_near_gimbal_lock_float32():
    angles = jnp.array([[0.4, np.pi / 2 - 1e-4, -0.7], [0.4, np.pi / 2 - 3e-3, -0.7]])
    r = rotation_from_euler(angles)
    back = euler_from_rotation(r)
    assert back.dtype == jnp.float32
    assert_close(rotation_from_euler(back), r, atol=ATOL_F32_SINGULAR)


def test_euler_gradients(x64):
    angles = _angles(n=3, seed=3)
    check_grads(rotation_from_euler, (angles,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    r = rotation_from_euler(angles, "3ddfa")
    fn = jax.jit(lambda m: euler_from_rotation(m, "3ddfa"))
    check_grads(fn, (r,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)


def test_euler_bad_input():
    with pytest.raises(ValueError, match=r"unknown Euler convention 'zyx'.*'xyz', '3ddfa'"):
        rotation_from_euler(jnp.zeros(3), convention="zyx")
    with pytest.raises(ValueError, match="known"):
        euler_from_rotation(jnp.eye(3), convention="ZYX")
    with pytest.raises(ValueError, match=r"angles must have shape \[\.\.\., 3\], got \(4,\)"):
        rotation_from_euler(jnp.zeros(4))
    with pytest.raises(ValueError, match="rotation must have shape"):
        euler_from_rotation(jnp.zeros((3, 4)))


def test_euler_jit_vmap_match_loop():
    angles = jnp.asarray(_angles(n=4, seed=4), jnp.float32)
    batched = rotation_from_euler(angles)
    vmapped = jax.jit(jax.vmap(geometry.rotation_from_euler))(angles)
    looped = np.stack([np.asarray(rotation_from_euler(a)) for a in angles])
    assert batched.dtype == jnp.float32
    assert_close(batched, looped, atol=ATOL_F32)
    assert_close(vmapped, looped, atol=ATOL_F32)
    nested = rotation_from_euler(angles.reshape(2, 2, 3))
    assert_close(nested.reshape(4, 3, 3), looped, atol=ATOL_F32)


# ---------------------------------------------------------------------------------------------
# Axis-angle


def test_axis_angle_matches_scipy(x64):
    v = _rotvecs()
    r = rotation_from_axis_angle(v)
    assert_close(r, Rotation.from_rotvec(v).as_matrix(), atol=ATOL_F64)
    _assert_rotations(r, ATOL_F64)
    assert_close(axis_angle_from_rotation(r), v, atol=1e-10)
    # Across the small-angle Taylor switch and down to zero.
    tiny = np.array([[0.0, 0.0, 0.0], [1e-9, -2e-9, 0.0], [0.0, 9.9e-3, 0.0], [0.0, 0.0, 1.01e-2]])
    r_tiny = rotation_from_axis_angle(tiny)
    assert_close(r_tiny, Rotation.from_rotvec(tiny).as_matrix(), atol=ATOL_F64)
    assert_close(axis_angle_from_rotation(r_tiny), tiny, atol=ATOL_F64)


def test_axis_angle_near_pi(x64):
    axis = np.array([[1.0, 2.0, -2.0], [0.0, 0.0, 1.0], [-3.0, 1.0, 0.5]])
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    for angle in (2.6, 2.8, np.pi - 1e-6):
        v = axis * angle
        back = axis_angle_from_rotation(Rotation.from_rotvec(v).as_matrix())
        assert_close(back, v, atol=1e-9)
    # Exactly pi: +axis and -axis are the same rotation, so compare matrices.
    r_pi = Rotation.from_rotvec(axis * np.pi).as_matrix()
    back = axis_angle_from_rotation(r_pi)
    assert_close(np.linalg.norm(back, axis=-1), np.pi, atol=ATOL_F64)
    assert_close(rotation_from_axis_angle(back), r_pi, atol=ATOL_F64)


def test_axis_angle_float32_near_pi():
    v = jnp.array([[0.0, np.pi - 1e-3, 0.0], [0.6, 0.0, 0.8]]) * jnp.array([[1.0], [np.pi]])
    r = rotation_from_axis_angle(v)
    back = axis_angle_from_rotation(r)
    assert_close(rotation_from_axis_angle(back), r, atol=ATOL_F32_SINGULAR)


def test_axis_angle_gradient_at_zero_is_exact(x64):
    jac = jax.jit(jax.jacfwd(rotation_from_axis_angle))(jnp.zeros(3))  # [3, 3, 3]: dR/dv_k
    skew_basis = np.stack(
        [np.cross(np.eye(3)[k], np.eye(3)) * -1 for k in range(3)], axis=-1
    )  # skew(e_k) in column k
    assert_close(jac, skew_basis, atol=ATOL_F64)
    check_grads(rotation_from_axis_angle, (np.zeros(3),), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    # The inverse at the identity: dv/dR = vee, finite.
    jac_inv = jax.jit(jax.jacfwd(axis_angle_from_rotation))(jnp.eye(3))
    assert np.all(np.isfinite(jac_inv))
    assert_close(jac_inv[0, 2, 1], 0.5, atol=ATOL_F64)
    assert_close(jac_inv[0, 1, 2], -0.5, atol=ATOL_F64)


def test_axis_angle_gradient_float32_at_zero():
    grad = jax.jit(jax.grad(lambda v: jnp.sum(rotation_from_axis_angle(v) ** 3)))(jnp.zeros(3))
    assert np.all(np.isfinite(grad))
    grad = jax.jit(jax.grad(lambda m: jnp.sum(axis_angle_from_rotation(m))))(jnp.eye(3))
    assert np.all(np.isfinite(grad))


def test_axis_angle_gradients(x64):
    # Angles on both sides of the switch to the near-pi formula (cos < -0.9, about 2.69 rad).
    v = np.concatenate([_rotvecs(n=3, seed=5, max_angle=2.5), [[0.0, 0.6, -2.94]]])
    check_grads(rotation_from_axis_angle, (v,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    r = rotation_from_axis_angle(v)
    check_grads(axis_angle_from_rotation, (r,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)


# ---------------------------------------------------------------------------------------------
# Quaternions


def test_quaternion_matches_scipy(x64):
    rng = np.random.default_rng(7)
    q = rng.normal(size=(8, 4)) * 3.0  # not unit length: normalised inside
    r = rotation_from_quaternion(q)
    ref = Rotation.from_quat(q[:, [1, 2, 3, 0]]).as_matrix()  # scipy is scalar-last
    assert_close(r, ref, atol=ATOL_F64)
    _assert_rotations(r, ATOL_F64)
    back = np.asarray(quaternion_from_rotation(r))
    unit = q / np.linalg.norm(q, axis=-1, keepdims=True)
    assert_close(back, unit * np.sign(unit[:, :1]), atol=ATOL_F64)
    assert np.all(back[:, 0] >= 0)


def test_quaternion_from_rotation_all_branches(x64):
    # Identity and the three half-turns select each of Shepperd's four branches.
    v = np.array(
        [[0.0, 0.0, 0.0], [np.pi, 0.0, 0.0], [0.0, np.pi, 0.0], [0.0, 0.0, np.pi]]
    ) + np.array([[0.1, -0.2, 0.05]]) * np.array([[0.0], [1e-3], [1e-3], [1e-3]])
    r = Rotation.from_rotvec(v).as_matrix()
    q = np.asarray(quaternion_from_rotation(r))
    assert_close(np.linalg.norm(q, axis=-1), 1.0, atol=ATOL_F64)
    ref = Rotation.from_rotvec(v).as_quat(canonical=True)[:, [3, 0, 1, 2]]
    assert_close(q, ref, atol=ATOL_F64)
    assert_close(rotation_from_quaternion(q), r, atol=ATOL_F64)


def test_quaternion_gradients(x64):
    q = np.random.default_rng(8).normal(size=(3, 4))
    check_grads(rotation_from_quaternion, (q,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    r = rotation_from_quaternion(q)
    check_grads(quaternion_from_rotation, (r,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)


def test_quaternion_zero_is_identity_with_finite_grad():
    assert_close(rotation_from_quaternion(jnp.zeros(4)), np.eye(3), atol=ATOL_F32)
    grad = jax.jit(jax.grad(lambda q: jnp.sum(rotation_from_quaternion(q))))(jnp.zeros(4))
    assert np.all(np.isfinite(grad))


# ---------------------------------------------------------------------------------------------
# 6D


def _gram_schmidt_reference(d6):
    a1, a2 = d6[:3], d6[3:]
    b1 = a1 / np.linalg.norm(a1)
    b2 = a2 - b1.dot(a2) * b1
    b2 /= np.linalg.norm(b2)
    return np.stack([b1, b2, np.cross(b1, b2)], axis=-1)


def test_6d_matches_reference_and_round_trips(x64):
    d6 = np.random.default_rng(9).normal(size=(8, 6))
    r = rotation_from_6d(d6)
    assert_close(r, np.stack([_gram_schmidt_reference(d) for d in d6]), atol=ATOL_F64)
    _assert_rotations(r, ATOL_F64)
    # Columns, like Zhou et al.
    assert_close(rotation_to_6d(r)[:, :3], np.asarray(r)[:, :, 0], atol=ATOL_F64)
    r_true = Rotation.from_rotvec(_rotvecs()).as_matrix()
    assert_close(rotation_from_6d(rotation_to_6d(r_true)), r_true, atol=ATOL_F64)


def test_6d_gradients(x64):
    d6 = np.random.default_rng(10).normal(size=(3, 6))
    check_grads(rotation_from_6d, (d6,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    degenerate = jnp.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    assert np.all(
        np.isfinite(jax.jit(jax.grad(lambda d: jnp.sum(rotation_from_6d(d))))(degenerate))
    )


# ---------------------------------------------------------------------------------------------
# Geodesic distance


def test_geodesic_distance(x64):
    v = _rotvecs(seed=11)
    r = Rotation.from_rotvec(v).as_matrix()
    assert_close(
        geodesic_distance(np.eye(3)[None].repeat(8, 0), r), np.linalg.norm(v, axis=-1), atol=1e-10
    )
    grad = jax.jit(jax.grad(lambda a: geodesic_distance(a, jnp.eye(3))))(jnp.eye(3))
    assert np.all(np.isfinite(grad))
