"""Point-to-mesh distances against a slow float64 brute force and hand-made cases."""

import numpy as np
import pytest

from facejax.evaluation import point_to_mesh
from facejax.evaluation.point_to_mesh import closest_point_on_triangle, point_to_mesh_distances

ATOL_F64 = 1e-12  # two float64 computations of the same distance (coordinates of order 1-10)


def _segment(p, a, b):
    ab = b - a
    length2 = np.sum(ab * ab, axis=-1)
    t = np.clip(np.sum((p - a) * ab, axis=-1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    return a + t[:, None] * ab


def _brute_force(points, vertices, triangles):
    """Every point against every triangle: the nearest of the plane projection (when it falls
    inside the triangle) and the nearest points of the three edges. Independent of Ericson's
    regions."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    normal = np.cross(b - a, c - a)
    norm2 = np.sum(normal**2, axis=-1)
    distances, closest = [], []
    for p in points:
        candidates = [_segment(p, a, b), _segment(p, b, c), _segment(p, c, a)]
        ok = norm2 > 1e-30
        offset = np.sum((p - a) * normal, axis=-1) / np.where(ok, norm2, 1.0)
        q = p - offset[:, None] * normal
        # Barycentric coordinates of q from signed sub-areas.
        inside = ok.copy()
        for u, v in ((a, b), (b, c), (c, a)):
            inside &= np.sum(np.cross(v - u, q - u) * normal, axis=-1) >= 0
        candidates.append(np.where(inside[:, None], q, np.inf))
        cand = np.stack(candidates)  # [4, T, 3]
        d2 = np.sum((cand - p) ** 2, axis=-1)
        flat = np.argmin(d2)
        closest.append(cand.reshape(-1, 3)[flat])
        distances.append(np.sqrt(d2.reshape(-1)[flat]))
    return np.array(distances), np.array(closest)


def _height_field(n=7, seed=0, size=10.0):
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(0, size, n), np.linspace(0, size, n))
    z = rng.normal(scale=0.8, size=x.shape)
    vertices = np.stack([x.ravel(), y.ravel(), z.ravel()], axis=1)
    i = np.arange(n - 1)[:, None] * n + np.arange(n - 1)[None, :]
    i = i.ravel()
    triangles = np.concatenate(
        [np.stack([i, i + 1, i + n], 1), np.stack([i + 1, i + n + 1, i + n], 1)]
    )
    return vertices, triangles


def test_each_voronoi_region_of_one_triangle():
    a, b, c = np.array([0.0, 0, 0]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])
    cases = {  # point: its closest point (region)
        (-1.0, -1.0, 1.0): (0.0, 0.0, 0.0),  # vertex A
        (2.0, -0.5, 0.3): (1.0, 0.0, 0.0),  # vertex B
        (-0.5, 2.0, -1.0): (0.0, 1.0, 0.0),  # vertex C
        (0.5, -1.0, 2.0): (0.5, 0.0, 0.0),  # edge AB
        (-1.0, 0.5, 0.0): (0.0, 0.5, 0.0),  # edge AC
        (1.0, 1.0, -0.5): (0.5, 0.5, 0.0),  # edge BC
        (0.25, 0.25, 3.0): (0.25, 0.25, 0.0),  # face
        (0.2, 0.3, 0.0): (0.2, 0.3, 0.0),  # on the face
    }
    points = np.array(list(cases))
    expected = np.array(list(cases.values()))
    got = closest_point_on_triangle(points, a, b, c)
    np.testing.assert_allclose(got, expected, atol=ATOL_F64)
    distances, closest = point_to_mesh_distances(points, np.stack([a, b, c]), [[0, 1, 2]])
    np.testing.assert_allclose(closest, expected, atol=ATOL_F64)
    np.testing.assert_allclose(distances, np.linalg.norm(points - expected, axis=1), atol=ATOL_F64)


def test_degenerate_triangles_are_their_edges():
    # Collinear corners, and a triangle collapsed to a point.
    a, b, c = np.array([0.0, 0, 0]), np.array([2.0, 0, 0]), np.array([1.0, 0, 0])
    points = np.array([[1.5, 1.0, 0.0], [3.0, 0.0, 0.0], [-1.0, 0.0, 1.0]])
    expected = np.array([[1.5, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(closest_point_on_triangle(points, a, b, c), expected, atol=ATOL_F64)
    point = np.array([1.0, 2.0, 3.0])
    got = closest_point_on_triangle(points, point, point, point)
    np.testing.assert_allclose(got, np.broadcast_to(point, points.shape), atol=ATOL_F64)


def test_matches_brute_force_on_a_surface_with_points_near_and_far():
    vertices, triangles = _height_field()
    rng = np.random.default_rng(1)
    near = np.c_[rng.uniform(-2, 12, (150, 2)), rng.normal(scale=1.5, size=150)]
    on_vertices = vertices[rng.choice(len(vertices), 20)] + rng.normal(scale=1e-3, size=(20, 3))
    far = rng.normal(scale=60.0, size=(30, 3))  # many candidates needed: k must grow
    points = np.concatenate([near, on_vertices, far])
    distances, closest = point_to_mesh_distances(points, vertices, triangles)
    want_d, want_q = _brute_force(points, vertices, triangles)
    np.testing.assert_allclose(distances, want_d, atol=ATOL_F64)
    np.testing.assert_allclose(np.linalg.norm(closest - points, axis=1), distances, atol=ATOL_F64)
    # The closest point is unique for these generic points: it matches the reference's.
    np.testing.assert_allclose(closest, want_q, atol=1e-9)


def test_matches_brute_force_with_a_few_big_and_degenerate_triangles(monkeypatch):
    vertices, triangles = _height_field(n=9, seed=2)
    extra = np.array(
        [[-30.0, -30.0, 5.0], [40.0, -20.0, 4.0], [0.0, 45.0, -6.0], [5.0, 5.0, 9.0], [6, 6, 9.0]]
    )
    base = len(vertices)
    vertices = np.concatenate([vertices, extra])
    triangles = np.concatenate(
        [triangles, [[base, base + 1, base + 2], [base + 3, base + 4, base + 4]]]
    )
    # Few candidates at first, so the completeness check and the re-queries do the work.
    monkeypatch.setattr(point_to_mesh, "INITIAL_CANDIDATES", 2)
    rng = np.random.default_rng(3)
    points = np.concatenate(
        [rng.uniform(-5, 15, (150, 3)), rng.normal(scale=40.0, size=(50, 3)), extra]
    )
    distances, _ = point_to_mesh_distances(points, vertices, triangles)
    want, _ = _brute_force(points, vertices, triangles)
    np.testing.assert_allclose(distances, want, atol=ATOL_F64)
    assert np.all(distances[-len(extra) :] <= ATOL_F64)


def test_bad_input_is_named():
    vertices, triangles = _height_field(n=3)
    with pytest.raises(ValueError, match="points must have shape"):
        point_to_mesh_distances(np.zeros((4, 2)), vertices, triangles)
    with pytest.raises(ValueError, match="triangle indices"):
        point_to_mesh_distances(np.zeros((4, 3)), vertices, triangles + 100)
    with pytest.raises(ValueError, match="T >= 1"):
        point_to_mesh_distances(np.zeros((4, 3)), vertices, np.zeros((0, 3), int))
    with pytest.raises(ValueError, match="integer"):
        point_to_mesh_distances(np.zeros((4, 3)), vertices, triangles.astype(float))
