"""The NoW challenge's scan-to-mesh error (Sanyal et al., "Learning to Regress 3D Face Shape and
Expression from an Image without 3D Supervision", CVPR 2019), as its own evaluation computes it
(github.com/soubhiksanyal/now_evaluation, ``scan2mesh_computations.py``):

1. crop the ground-truth scan to a ball around the face (:func:`now_crop`);
2. align the prediction to the scan by the similarity (Procrustes with scale) from the
   prediction's 7 landmarks to the scan's;
3. refine with scale by minimising the squared scan-to-mesh distances of the cropped scan's
   vertices, the scan fixed and the prediction moved (:func:`~facejax.evaluation.
   rigid_alignment.icp_to_mesh`);
4. the error of each cropped scan vertex is its distance to the nearest point of the aligned
   prediction's surface (point to triangle).

The challenge reports the median, mean and standard deviation of all distances of all scans
(:func:`now_summary`). The metrical variant (``metrical=True``, "NoW metrical") uses no scale in
steps 2 and 3: the prediction must then be in millimetres.

Differences from the reference code, none of which changes a correct prediction's score: the
landmark fit excludes reflections (the reference allows one when it fits better, which only a
mirrored prediction can need); the refinement is Gauss-Newton ICP, not chumpy's dogleg (both
minimise the same sum to their tolerances); the metrical landmark fit is the best rigid motion
(the reference takes the rotation and translation of the fit with scale, then drops the scale).
Landmark order and file layouts: :mod:`facejax.formats.now_files`.
"""

import numpy as np

from facejax.evaluation.point_to_mesh import point_to_mesh_distances
from facejax.evaluation.rigid_alignment import (
    apply_similarity,
    icp_to_mesh,
    similarity_from_landmarks,
)

# Indices into the 7 NoW landmarks (facejax.formats.now_files.NOW_LANDMARK_NAMES).
OUTER_EYE_CORNERS = (0, 3)
INNER_EYE_CORNERS = (1, 2)
NOSE_BOTTOM = 4

# The crop of the reference code: the face centre sits this fraction of the way from the nose
# bottom to the midpoint of the inner eye corners; the radius is this factor times the mean of
# the outer-eye-corner distance and the nose length (nose bottom to that midpoint).
CENTRE_FRACTION = 0.3
RADIUS_FACTOR = 1.4


def _landmarks(landmarks, name: str) -> np.ndarray:
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (7, 3) or not np.all(np.isfinite(landmarks)):
        raise ValueError(f"{name} must be [7, 3] finite NoW landmarks, got {landmarks.shape}")
    return landmarks


def now_face_sphere(scan_landmarks7) -> tuple[np.ndarray, float]:
    """The centre and radius of the NoW crop, from the scan's 7 landmarks.

    ``bridge`` is the midpoint of the inner eye corners (landmarks 1 and 2); ``centre = nose +
    0.3 (bridge - nose)`` with ``nose`` the nose bottom (landmark 4, subnasale); ``radius = 1.4
    (|outer_right - outer_left| + |bridge - nose|) / 2`` with the outer eye corners landmarks 0
    and 3.

    Args:
      scan_landmarks7: ``[7, 3]`` landmarks in :data:`~facejax.formats.now_files.
        NOW_LANDMARK_NAMES` order (right eye outer, right eye inner, left eye inner, left eye
        outer, subnasale, right mouth corner, left mouth corner).

    Returns:
      ``(centre [3], radius)`` in the scan's units (mm).
    """
    lm = _landmarks(scan_landmarks7, "now_face_sphere: scan_landmarks7")
    nose = lm[NOSE_BOTTOM]
    bridge = (lm[INNER_EYE_CORNERS[0]] + lm[INNER_EYE_CORNERS[1]]) / 2
    centre = nose + CENTRE_FRACTION * (bridge - nose)
    outer = np.linalg.norm(lm[OUTER_EYE_CORNERS[0]] - lm[OUTER_EYE_CORNERS[1]])
    radius = RADIUS_FACTOR * (outer + np.linalg.norm(bridge - nose)) / 2
    return centre, float(radius)


def now_crop(scan_vertices, scan_landmarks7) -> np.ndarray:
    """Which scan vertices the NoW error is measured on: those within the face sphere.

    Args:
      scan_vertices: ``[S, 3]`` ground-truth scan vertices (mm).
      scan_landmarks7: ``[7, 3]`` scan landmarks (see :func:`now_face_sphere`).

    Returns:
      ``[S]`` bool, True where ``|vertex - centre| <= radius``.
    """
    vertices = np.asarray(scan_vertices, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise ValueError(f"now_crop: scan_vertices must have shape [S, 3], got {vertices.shape}")
    centre, radius = now_face_sphere(scan_landmarks7)
    return np.linalg.norm(vertices - centre, axis=1) <= radius


def now_align(
    pred_vertices, pred_triangles, pred_landmarks7, cropped_scan, scan_landmarks7, *, metrical=False
) -> tuple[float, np.ndarray, np.ndarray]:
    """Steps 2 and 3: the similarity (rigid if ``metrical``) moving the prediction onto the scan.

    Args:
      pred_vertices: ``[V, 3]`` predicted mesh.
      pred_triangles: ``[T, 3]`` its triangles.
      pred_landmarks7: ``[7, 3]`` the prediction's landmarks, NoW order.
      cropped_scan: ``[S', 3]`` the scan vertices kept by :func:`now_crop`.
      scan_landmarks7: ``[7, 3]`` the scan's landmarks.
      metrical: no scale (the prediction in mm).

    Returns:
      ``(s, R, t)``: ``apply_similarity(pred_vertices, s, R, t)`` is the aligned prediction.
    """
    pred_lm = _landmarks(pred_landmarks7, "now_align: pred_landmarks7")
    scan_lm = _landmarks(scan_landmarks7, "now_align: scan_landmarks7")
    initial = similarity_from_landmarks(pred_lm, scan_lm, scale=not metrical)
    return icp_to_mesh(
        cropped_scan, pred_vertices, pred_triangles, scale=not metrical, initial=initial
    )


def now_scan_to_mesh_errors(
    pred_vertices,
    pred_triangles,
    pred_landmarks7,
    scan_vertices,
    scan_landmarks7,
    *,
    metrical: bool = False,
) -> np.ndarray:
    """The NoW errors of one prediction: the distance from each cropped scan vertex to the
    aligned prediction's surface (module docstring, steps 1-4).

    Args:
      pred_vertices: ``[V, 3]`` predicted mesh (any units and pose; mm if ``metrical``).
      pred_triangles: ``[T, 3]`` int triangles of the prediction.
      pred_landmarks7: ``[7, 3]`` the prediction's 7 landmarks in NoW order.
      scan_vertices: ``[S, 3]`` ground-truth scan vertices in mm.
      scan_landmarks7: ``[7, 3]`` the scan's landmarks (its ``.pp`` file).
      metrical: the metrical variant (no scale).

    Returns:
      ``[S_cropped]`` float64 distances in mm, in the scan's vertex order.
    """
    scan_vertices = np.asarray(scan_vertices, dtype=np.float64)
    cropped = scan_vertices[now_crop(scan_vertices, scan_landmarks7)]
    if cropped.shape[0] == 0:
        raise ValueError("now_scan_to_mesh_errors: no scan vertex lies within the face sphere")
    s, R, t = now_align(
        pred_vertices,
        pred_triangles,
        pred_landmarks7,
        cropped,
        scan_landmarks7,
        metrical=metrical,
    )
    distances, _ = point_to_mesh_distances(
        cropped, apply_similarity(pred_vertices, s, R, t), pred_triangles
    )
    return distances


def now_summary(distances_per_scan) -> dict:
    """The challenge's figures over all distances of all scans (pooled, not per-scan means).

    Args:
      distances_per_scan: a list of ``[S_i]`` distance arrays, one per evaluated prediction.

    Returns:
      ``{"median_mm", "mean_mm", "std_mm"}`` (``std`` with ``ddof=0``, as ``np.std`` in the
      reference code; NaN when there is no distance), ``"num_scans"`` (the arrays given) and
      ``"num_distances"``.
    """
    arrays = [np.asarray(d, dtype=np.float64).reshape(-1) for d in distances_per_scan]
    pooled = np.concatenate(arrays) if arrays else np.zeros(0)
    if not np.all(np.isfinite(pooled)):
        raise ValueError("now_summary: distances contain NaN or infinite values")
    empty = pooled.size == 0
    return {
        "median_mm": float("nan") if empty else float(np.median(pooled)),
        "mean_mm": float("nan") if empty else float(np.mean(pooled)),
        "std_mm": float("nan") if empty else float(np.std(pooled)),
        "num_scans": len(arrays),
        "num_distances": int(pooled.size),
    }
