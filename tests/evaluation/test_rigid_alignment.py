"""Landmark similarity and ICP: known transforms are recovered."""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facejax.evaluation.point_to_mesh import point_to_mesh_distances
from facejax.evaluation.rigid_alignment import (
    apply_similarity,
    icp_to_mesh,
    similarity_from_landmarks,
)
from facejax.geometry import procrustes

ATOL_F64 = 1e-10  # closed-form fit of exact correspondences, coordinates of order 100
ICP_TOL = 1e-6  # ICP from a perturbed start on exact data: relative error of s, R, t


def _true_transform():
    R = Rotation.from_euler("xyz", [20.0, -35.0, 10.0], degrees=True).as_matrix()
    return 1.7, R, np.array([15.0, -4.0, 120.0])


def test_landmark_similarity_is_recovered_exactly():
    rng = np.random.default_rng(0)
    source = rng.normal(scale=40.0, size=(7, 3))
    s, R, t = _true_transform()
    target = apply_similarity(source, s, R, t)
    got_s, got_R, got_t = similarity_from_landmarks(source, target)
    assert abs(got_s - s) < ATOL_F64
    np.testing.assert_allclose(got_R, R, atol=ATOL_F64)
    np.testing.assert_allclose(got_t, t, atol=ATOL_F64 * 100)
    # Rigid: the scale is not estimated; a rigid motion is recovered exactly.
    got_s, got_R, got_t = similarity_from_landmarks(
        source, apply_similarity(source, 1.0, R, t), scale=False
    )
    assert got_s == 1.0
    np.testing.assert_allclose(got_R, R, atol=ATOL_F64)
    np.testing.assert_allclose(got_t, t, atol=ATOL_F64 * 100)


def test_landmark_similarity_excludes_reflections_and_matches_geometry_procrustes(x64):
    rng = np.random.default_rng(1)
    source = rng.normal(size=(9, 3))
    target = source * np.array([-1.0, 1.0, 1.0]) + rng.normal(scale=0.05, size=(9, 3))
    weights = rng.uniform(0.1, 1.0, 9)
    s, R, t = similarity_from_landmarks(source, target, weights=weights)
    assert np.isclose(np.linalg.det(R), 1.0, atol=1e-12)
    js, jR, jt = procrustes(jnp.asarray(source), jnp.asarray(target), jnp.asarray(weights))
    np.testing.assert_allclose([s], [float(js)], atol=1e-12)
    np.testing.assert_allclose(R, np.asarray(jR), atol=1e-12)
    np.testing.assert_allclose(t, np.asarray(jt), atol=1e-12)


def test_icp_undoes_a_known_similarity_from_a_perturbed_start(bumpy_surface):
    vertices, triangles = bumpy_surface
    rng = np.random.default_rng(2)
    # Fixed points: random points of the surface (not its vertices) moved by the truth.
    tri = triangles[rng.choice(len(triangles), 1500)]
    bary = rng.dirichlet(np.ones(3), size=1500)
    on_surface = np.einsum("pk,pkd->pd", bary, vertices[tri])
    s, R, t = _true_transform()
    points = apply_similarity(on_surface, s, R, t)
    start_R = Rotation.from_euler("xyz", [3.0, -2.0, 4.0], degrees=True).as_matrix() @ R
    start = (s * 1.04, start_R, t + np.array([2.0, -1.5, 1.0]))
    got_s, got_R, got_t = icp_to_mesh(points, vertices, triangles, initial=start)
    assert abs(got_s / s - 1) < ICP_TOL
    np.testing.assert_allclose(got_R, R, atol=ICP_TOL)
    np.testing.assert_allclose(got_t, t, atol=ICP_TOL * np.linalg.norm(t))
    distances, _ = point_to_mesh_distances(
        points, apply_similarity(vertices, got_s, got_R, got_t), triangles
    )
    assert np.max(distances) < 1e-4  # mm


def test_rigid_icp_keeps_unit_scale_and_lowers_the_error_on_noisy_points(bumpy_surface):
    vertices, triangles = bumpy_surface
    rng = np.random.default_rng(3)
    _, R, t = _true_transform()
    points = apply_similarity(vertices, 1.0, R, t) + rng.normal(scale=0.5, size=vertices.shape)
    start = (1.0, Rotation.from_euler("z", 5.0, degrees=True).as_matrix() @ R, t + 3.0)
    before, _ = point_to_mesh_distances(points, apply_similarity(vertices, *start), triangles)
    got_s, got_R, got_t = icp_to_mesh(points, vertices, triangles, scale=False, initial=start)
    after, _ = point_to_mesh_distances(
        points, apply_similarity(vertices, 1.0, got_R, got_t), triangles
    )
    assert got_s == 1.0
    assert np.mean(after**2) < 0.5 * np.mean(before**2)
    np.testing.assert_allclose(got_R, R, atol=0.01)  # noise of 0.5 mm on 625 points


def test_bad_landmarks_are_named():
    with pytest.raises(ValueError, match="N >= 3"):
        similarity_from_landmarks(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="shape of source"):
        similarity_from_landmarks(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="coincide"):
        similarity_from_landmarks(np.ones((4, 3)), np.random.default_rng(0).normal(size=(4, 3)))
