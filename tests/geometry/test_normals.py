"""Mesh normals and areas against a float64 numpy loop; degenerate triangles; vmap; grads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import geometry

face_normals = jax.jit(geometry.face_normals)
vertex_normals = jax.jit(geometry.vertex_normals)
triangle_areas = jax.jit(geometry.triangle_areas)

ATOL_F64 = 1e-12
ATOL_F32 = 1e-5
GRAD_TOL = 1e-5


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    """``assert_allclose`` with no hidden relative tolerance: the named tolerance is the test."""
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


# A unit octahedron, counter-clockwise seen from outside.
OCTA_VERTICES = np.array(
    [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], np.float64
)
OCTA_TRIANGLES = np.array(
    [[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]],
    np.int32,
)


def _noisy_octahedron(seed=0):
    return OCTA_VERTICES + 0.1 * np.random.default_rng(seed).normal(size=OCTA_VERTICES.shape)


def _reference(vertices, triangles):
    """Slow float64 loop: per-face cross products, areas and area-weighted vertex sums."""
    face_n, areas = [], []
    vert_sum = np.zeros_like(vertices)
    for tri in triangles:
        v0, v1, v2 = vertices[tri]
        c = np.cross(v1 - v0, v2 - v0)
        length = np.linalg.norm(c)
        face_n.append(c / length if length > 0 else np.zeros(3))
        areas.append(0.5 * length)
        for i in tri:
            vert_sum[i] += c
    lengths = np.linalg.norm(vert_sum, axis=-1, keepdims=True)
    vert_n = np.where(lengths > 0, vert_sum / np.where(lengths > 0, lengths, 1), 0)
    return np.array(face_n), np.array(areas), vert_n


def test_matches_numpy_loop(x64):
    v = _noisy_octahedron()
    ref_face, ref_area, ref_vert = _reference(v, OCTA_TRIANGLES)
    assert_close(face_normals(v, OCTA_TRIANGLES), ref_face, atol=ATOL_F64)
    assert_close(triangle_areas(v, OCTA_TRIANGLES), ref_area, atol=ATOL_F64)
    assert_close(vertex_normals(v, OCTA_TRIANGLES), ref_vert, atol=ATOL_F64)


def test_counter_clockwise_is_outward(x64):
    n = np.asarray(face_normals(OCTA_VERTICES, OCTA_TRIANGLES))
    centroids = OCTA_VERTICES[OCTA_TRIANGLES].mean(axis=1)
    assert np.all(np.sum(n * centroids, axis=-1) > 0)
    vn = np.asarray(vertex_normals(OCTA_VERTICES, OCTA_TRIANGLES))
    assert_close(vn, OCTA_VERTICES, atol=ATOL_F64)  # symmetric: radial normals


def test_degenerate_triangle_and_isolated_vertex():
    # Octahedron plus a collapsed triangle (two equal corners) and a vertex nobody uses.
    v = np.concatenate([OCTA_VERTICES, [[0.5, 0.5, 0.5], [3.0, 3.0, 3.0]]]).astype(np.float32)
    tri = np.concatenate([OCTA_TRIANGLES, [[6, 6, 0]]]).astype(np.int32)

    n = np.asarray(face_normals(v, tri))
    np.testing.assert_array_equal(n[-1], np.zeros(3))
    assert triangle_areas(v, tri)[-1] == 0.0
    vn = np.asarray(vertex_normals(v, tri))
    np.testing.assert_array_equal(vn[7], np.zeros(3))  # isolated
    np.testing.assert_array_equal(vn[6], np.zeros(3))  # only in the degenerate triangle

    def total(vertices):
        return (
            jnp.sum(geometry.face_normals(vertices, tri))
            + jnp.sum(geometry.vertex_normals(vertices, tri) ** 2)
            + jnp.sum(geometry.triangle_areas(vertices, tri))
        )

    grad = jax.jit(jax.grad(total))(v)
    assert np.all(np.isfinite(grad))
    # The same with a fully collapsed triangle (all three corners equal).
    tri_point = np.concatenate([OCTA_TRIANGLES, [[6, 6, 6]]]).astype(np.int32)
    grad = jax.jit(jax.grad(lambda x: jnp.sum(geometry.vertex_normals(x, tri_point))))(v)
    assert np.all(np.isfinite(grad))


def test_gradients(x64):
    v = _noisy_octahedron(seed=1)
    for fn in (face_normals, vertex_normals, triangle_areas):
        check_grads(
            lambda x, fn=fn: fn(x, OCTA_TRIANGLES), (v,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL
        )


def test_vmap_matches_loop():
    batch = jnp.asarray(np.stack([_noisy_octahedron(seed=s) for s in range(3)]), jnp.float32)
    tri = jnp.asarray(OCTA_TRIANGLES)
    out = jax.jit(jax.vmap(geometry.vertex_normals, in_axes=(0, None)))(batch, tri)
    loop = np.stack([vertex_normals(b, tri) for b in batch])
    assert out.dtype == jnp.float32
    assert_close(out, loop, atol=ATOL_F32)


def test_leading_batch_dims_match_the_float64_loop(x64):
    batch = np.stack([[_noisy_octahedron(seed=3 * i + j) for j in range(3)] for i in range(2)])
    out = vertex_normals(batch, OCTA_TRIANGLES)  # [2, 3, V, 3] natively
    assert out.shape == batch.shape
    for i in range(2):
        for j in range(3):
            assert_close(out[i, j], _reference(batch[i, j], OCTA_TRIANGLES)[2], atol=ATOL_F64)


def test_gradients_of_a_native_batch(x64):
    batch = np.stack([_noisy_octahedron(seed=s) for s in range(2)])
    check_grads(
        lambda x: geometry.vertex_normals(x, OCTA_TRIANGLES),
        (batch,),
        order=1,
        modes=["fwd", "rev"],
        atol=GRAD_TOL,
        rtol=GRAD_TOL,
    )


def test_bad_input():
    with pytest.raises(ValueError, match=r"vertices must have shape \[N, 3\]"):
        geometry.face_normals(jnp.zeros((2, 6, 3)), OCTA_TRIANGLES)
    with pytest.raises(ValueError, match="triangles must be integer"):
        geometry.vertex_normals(OCTA_VERTICES, OCTA_TRIANGLES.astype(np.float32))
    with pytest.raises(ValueError, match=r"vertices must have shape \[\.\.\., N, 3\]"):
        geometry.vertex_normals(jnp.zeros((3,)), OCTA_TRIANGLES)
    with pytest.raises(ValueError, match=r"vertices must have shape \[N, 3\]"):
        geometry.vertex_normals(jnp.zeros((2, 6, 4)), OCTA_TRIANGLES)
    with pytest.raises(ValueError, match=r"triangles must have shape \[N, 3\]"):
        geometry.triangle_areas(OCTA_VERTICES, OCTA_TRIANGLES[:, :2])
