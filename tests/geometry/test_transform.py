"""Rigid and similarity transforms against float64 numpy, inverses, composition, vmap."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.spatial.transform import Rotation

from facejax import geometry

rigid_transform = jax.jit(geometry.rigid_transform)
similarity_transform = jax.jit(geometry.similarity_transform)
inverse_rigid = jax.jit(geometry.inverse_rigid)
inverse_similarity = jax.jit(geometry.inverse_similarity)
compose_rigid = jax.jit(geometry.compose_rigid)
compose_similarity = jax.jit(geometry.compose_similarity)
rotate_points = jax.jit(geometry.rotate_points)

ATOL_F64 = 1e-12
ATOL_F32 = 1e-4  # points of size ~100 (mm)
GRAD_TOL = 1e-5


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    """``assert_allclose`` with no hidden relative tolerance: the named tolerance is the test."""
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _pose(seed):
    rng = np.random.default_rng(seed)
    rotation = Rotation.from_rotvec(rng.normal(size=3)).as_matrix()
    return rng.uniform(0.5, 2.0), rotation, rng.normal(size=3) * 10.0


def _points(shape=(5, 3), seed=0):
    return np.random.default_rng(seed).normal(size=shape) * 50.0


def test_rigid_and_similarity_match_numpy(x64):
    s, r, t = _pose(1)
    p = _points((2, 5, 3))
    assert_close(rigid_transform(p, r, t), p @ r.T + t, atol=ATOL_F64)
    assert_close(similarity_transform(p, s, r, t), s * (p @ r.T) + t, atol=ATOL_F64)
    # A single point [3] works too.
    assert_close(rigid_transform(p[0, 0], r, t), r @ p[0, 0] + t, atol=ATOL_F64)
    assert_close(rotate_points(p, r), p @ r.T, atol=ATOL_F64)


def test_inverses_undo(x64):
    s, r, t = _pose(2)
    p = _points()
    ri, ti = inverse_rigid(r, t)
    assert_close(rigid_transform(rigid_transform(p, r, t), ri, ti), p, atol=1e-10)
    si, ri, ti = inverse_similarity(s, r, t)
    back = similarity_transform(similarity_transform(p, s, r, t), si, ri, ti)
    assert_close(back, p, atol=1e-10)


def test_compose_is_b_then_a(x64):
    sa, ra, ta = _pose(3)
    sb, rb, tb = _pose(4)
    p = _points()
    r, t = compose_rigid(ra, ta, rb, tb)
    assert_close(
        rigid_transform(p, r, t), rigid_transform(rigid_transform(p, rb, tb), ra, ta), atol=1e-10
    )
    s, r, t = compose_similarity(sa, ra, ta, sb, rb, tb)
    two_steps = similarity_transform(similarity_transform(p, sb, rb, tb), sa, ra, ta)
    assert_close(similarity_transform(p, s, r, t), two_steps, atol=1e-10)


def test_vmap_over_poses_matches_loop():
    poses = [_pose(i) for i in range(3)]
    s = jnp.asarray([p[0] for p in poses], jnp.float32)
    r = jnp.asarray(np.stack([p[1] for p in poses]), jnp.float32)
    t = jnp.asarray(np.stack([p[2] for p in poses]), jnp.float32)
    p = jnp.asarray(_points(), jnp.float32)
    out = jax.jit(jax.vmap(geometry.similarity_transform, in_axes=(None, 0, 0, 0)))(p, s, r, t)
    assert out.dtype == jnp.float32
    loop = np.stack([similarity_transform(p, s[i], r[i], t[i]) for i in range(3)])
    assert_close(out, loop, atol=ATOL_F32)
    points = jnp.stack([p, 2.0 * p, -p])  # a point set per rotation, as decode_batch has
    rotated = jax.jit(jax.vmap(geometry.rotate_points))(points, r)
    assert_close(
        rotated, np.stack([rotate_points(points[i], r[i]) for i in range(3)]), atol=ATOL_F32
    )


def test_gradients(x64):
    s, r, t = _pose(5)
    p = _points((3, 3))
    check_grads(similarity_transform, (p, s, r, t), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    check_grads(rotate_points, (p, r), order=2, atol=GRAD_TOL, rtol=GRAD_TOL)


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"rotation must have shape \[3, 3\].*jax.vmap"):
        rigid_transform(jnp.zeros((4, 3)), jnp.zeros((2, 3, 3)), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"translation must have shape \[3\]"):
        rigid_transform(jnp.zeros((4, 3)), jnp.eye(3), jnp.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"points must have shape \[\.\.\., 3\]"):
        rigid_transform(jnp.zeros((3, 4)), jnp.eye(3), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"scale must have shape \[\]"):
        similarity_transform(jnp.zeros((4, 3)), jnp.ones(1), jnp.eye(3), jnp.zeros(3))
    with pytest.raises(ValueError, match=r"rotate_points: rotation must have shape \[3, 3\]"):
        rotate_points(jnp.zeros((4, 3)), jnp.eye(4))
    with pytest.raises(ValueError, match=r"rotate_points: points must have shape \[\.\.\., 3\]"):
        rotate_points(jnp.zeros((4, 2)), jnp.eye(3))
