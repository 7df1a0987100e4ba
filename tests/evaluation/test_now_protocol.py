"""NoW protocol: crop, alignment and errors on cases with known answers (the file readers:
tests/formats/test_now_files.py)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facejax.evaluation.now_protocol import (
    now_crop,
    now_face_sphere,
    now_scan_to_mesh_errors,
    now_summary,
)
from facejax.evaluation.point_to_mesh import point_to_mesh_distances
from facejax.evaluation.rigid_alignment import apply_similarity

ATOL_F64 = 1e-12
ZERO_MM = 1e-6  # a prediction equal to the scan (up to a similarity) after ICP
ICP_MM = 0.03  # ICP stops at a 1e-5 relative cost decrease; off-centre by delta costs
# only delta^2 / 3 mm^2 on a sphere, so it may stop ~0.02 mm from concentric

# (x, y) on the bumpy surface, NoW order: right eye outer, right eye inner, left eye inner,
# left eye outer, subnasale, right mouth corner, left mouth corner.
FACE_XY = [(-20, 10), (-7.5, 10), (7.5, 10), (20, 10), (0, -10), (-12.5, -22.5), (12.5, -22.5)]


def _face_landmarks(vertices):
    index = [np.argmin(np.sum((vertices[:, :2] - xy) ** 2, axis=1)) for xy in FACE_XY]
    return vertices[index]


def test_face_sphere_and_crop_on_a_hand_made_case():
    landmarks = np.array(
        [
            [-50.0, 0, 0],  # right eye outer
            [-15.0, 0, 0],  # right eye inner
            [15.0, 0, 0],  # left eye inner
            [50.0, 0, 0],  # left eye outer
            [0, -50.0, 0],  # subnasale
            [-20.0, -70, 0],
            [20.0, -70, 0],
        ]
    )
    # bridge (0, 0, 0); centre = (0, -50) + 0.3 (0, 50) = (0, -35); radius 1.4 (100 + 50) / 2
    centre, radius = now_face_sphere(landmarks)
    np.testing.assert_allclose(centre, [0.0, -35.0, 0.0], atol=ATOL_F64)
    assert abs(radius - 105.0) < ATOL_F64
    direction = np.array([0.6, 0.0, 0.8])
    scan = centre + np.outer([0.0, 50.0, 104.999, 105.0 - 1e-9, 105.001, 300.0], direction)
    assert now_crop(scan, landmarks).tolist() == [True, True, True, True, False, False]


def test_a_prediction_equal_to_the_scan_up_to_a_similarity_scores_zero(bumpy_surface):
    vertices, triangles = bumpy_surface
    landmarks = _face_landmarks(vertices)
    assert np.max(now_scan_to_mesh_errors(vertices, triangles, landmarks, vertices, landmarks)) < (
        ZERO_MM
    )
    R = Rotation.from_euler("xyz", [30.0, -50.0, 160.0], degrees=True).as_matrix()
    s, t = 0.0123, np.array([0.3, -0.1, 2.0])  # e.g. a prediction in metres, posed
    pred, pred_landmarks = (apply_similarity(x, s, R, t) for x in (vertices, landmarks))
    errors = now_scan_to_mesh_errors(pred, triangles, pred_landmarks, vertices, landmarks)
    assert errors.shape == (np.count_nonzero(now_crop(vertices, landmarks)),)
    assert np.max(errors) < ZERO_MM
    # Metrical: a rigid motion is undone, a wrong scale is not.
    rigid = now_scan_to_mesh_errors(
        apply_similarity(vertices, 1.0, R, t * 1000),
        triangles,
        apply_similarity(landmarks, 1.0, R, t * 1000),
        vertices,
        landmarks,
        metrical=True,
    )
    assert np.max(rigid) < ZERO_MM
    scaled = now_scan_to_mesh_errors(
        pred, triangles, pred_landmarks, vertices, landmarks, metrical=True
    )
    assert np.mean(scaled) > 1.0


def test_a_prediction_offset_along_its_normals_by_d_scores_d(sphere):
    vertices, triangles = sphere
    d = 3.0
    directions = np.array(
        [[-1, 0, 0], [0, -1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1], [-0.6, 0, 0.8], [0.6, 0, 0.8]]
    )
    # Outer eyes and inner eyes antipodal: the crop (radius 168 mm) keeps the whole sphere.
    landmarks = 80.0 * directions
    assert np.all(now_crop(vertices, landmarks))
    normals = vertices / np.linalg.norm(vertices, axis=1, keepdims=True)
    offset = vertices + d * normals
    offset_landmarks = landmarks * (80.0 + d) / 80.0
    errors = now_scan_to_mesh_errors(
        offset, triangles, offset_landmarks, vertices, landmarks, metrical=True
    )
    # Between d (to a vertex) and d minus the sagitta (to the middle of a face: the polyhedron
    # lies inside the sphere of its vertices, by at most its radius minus its inradius).
    inradius, _ = point_to_mesh_distances(np.zeros((1, 3)), offset, triangles)
    sagitta = 80.0 + d - inradius[0]
    assert 0 < sagitta < 0.1
    assert np.all(errors <= d + ICP_MM) and np.all(errors >= d - sagitta - ICP_MM)
    assert abs(np.median(errors) - d) < sagitta
    # With scale, an offset sphere is a scaled sphere: the alignment removes it.
    assert np.max(
        now_scan_to_mesh_errors(offset, triangles, offset_landmarks, vertices, landmarks)
    ) < (ZERO_MM)


def test_summary_pools_all_distances():
    summary = now_summary([np.array([1.0, 2.0]), np.array([3.0, 4.0, 10.0])])
    assert summary == {
        "median_mm": 3.0,
        "mean_mm": 4.0,
        "std_mm": pytest.approx(np.std([1.0, 2, 3, 4, 10]), abs=ATOL_F64),
        "num_scans": 2,
        "num_distances": 5,
    }
    empty = now_summary([])
    assert np.isnan(empty["median_mm"]) and empty["num_scans"] == 0
