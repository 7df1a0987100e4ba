"""MICC Florence RMSE on cases with known answers, and the per-setting summary."""

import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facejax.evaluation.micc_protocol import micc_rmse, micc_summary
from facejax.evaluation.rigid_alignment import apply_similarity

ZERO_MM = 1e-6  # a prediction equal to the scan up to a similarity, after ICP
ICP_MM = 0.03  # ICP stops at a 1e-5 relative cost decrease; off-centre by delta costs
# only delta^2 / 3 mm^2 on a sphere, so it may stop ~0.02 mm from concentric
NOSE = 4  # index of the nose tip in LANDMARK_XY
LANDMARK_XY = [(-20, 10), (-7.5, 10), (7.5, 10), (20, 10), (0, -2), (-12.5, -22.5), (12.5, -22.5)]


def _landmarks(vertices):
    return vertices[[np.argmin(np.sum((vertices[:, :2] - xy) ** 2, 1)) for xy in LANDMARK_XY]]


def test_a_prediction_equal_to_the_scan_up_to_a_similarity_scores_zero(bumpy_surface):
    vertices, triangles = bumpy_surface
    landmarks = _landmarks(vertices)
    kwargs = {"nose_tip": NOSE, "crop_mm": 25.0}
    assert micc_rmse(vertices, triangles, landmarks, vertices, triangles, landmarks, **kwargs) < (
        ZERO_MM
    )
    R = Rotation.from_euler("xyz", [-20.0, 40.0, 5.0], degrees=True).as_matrix()
    pred, pred_lm = (apply_similarity(x, 0.9, R, [5.0, 1.0, -3.0]) for x in (vertices, landmarks))
    rmse = micc_rmse(pred, triangles, pred_lm, vertices, triangles, landmarks, **kwargs)
    assert rmse < ZERO_MM
    rmse = micc_rmse(
        pred, triangles, pred_lm, vertices, triangles, landmarks, symmetric=True, **kwargs
    )
    assert rmse < ZERO_MM
    # Without scale, the 10% size difference stays.
    assert (
        micc_rmse(pred, triangles, pred_lm, vertices, triangles, landmarks, scale=False, **kwargs)
        > 0.1
    )


def test_scan_parts_beyond_the_crop_do_not_count(bumpy_surface):
    vertices, triangles = bumpy_surface
    landmarks = _landmarks(vertices)
    # The scan has an extra patch far (> 95 mm) from the nose tip that the prediction lacks.
    patch = vertices[:50] + np.array([0.0, 0.0, 150.0])
    scan = np.concatenate([vertices, patch])
    patch_triangles = triangles[np.all(triangles < 50, axis=1)] + len(vertices)
    scan_triangles = np.concatenate([triangles, patch_triangles])
    args = (vertices, triangles, landmarks, scan, scan_triangles, landmarks)
    assert micc_rmse(*args, nose_tip=NOSE) < ZERO_MM
    assert micc_rmse(*args, nose_tip=NOSE, crop_mm=1000.0) > 10.0


def test_a_prediction_offset_along_its_normals_by_d_scores_d(sphere):
    vertices, triangles = sphere
    d = 2.0
    directions = np.array([[-1, 0, 0], [0, -1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]])
    landmarks = 80.0 * directions
    offset = vertices * (80.0 + d) / 80.0  # along the sphere's normals
    args = (offset, triangles, landmarks * (80.0 + d) / 80.0, vertices, triangles, landmarks)
    # Cropped to the whole sphere: the rigid optimum is concentric, every distance ~d.
    kwargs = {"nose_tip": 4, "crop_mm": 200.0, "scale": False}
    assert abs(micc_rmse(*args, **kwargs) - d) < 0.1 + ICP_MM
    assert abs(micc_rmse(*args, symmetric=True, **kwargs) - d) < 0.1 + ICP_MM
    # With scale, an offset sphere is a scaled sphere.
    assert micc_rmse(*args, nose_tip=4, crop_mm=200.0) < ZERO_MM


def test_summary_per_setting():
    summary = micc_summary(
        {
            ("subject_01", "Indoor-Cooperative"): 1.0,
            ("subject_02", "cooperative"): 3.0,
            ("subject_01", "PTZ-Outdoor"): 2.5,
        }
    )
    assert summary["cooperative"] == {"mean_mm": 2.0, "std_mm": 1.0, "n": 2}
    assert summary["outdoor"] == {"mean_mm": 2.5, "std_mm": 0.0, "n": 1}
    assert summary["indoor"]["n"] == 0 and math.isnan(summary["indoor"]["mean_mm"])
    with pytest.raises(ValueError, match="unknown setting"):
        micc_summary({("subject_01", "outside"): 1.0})
