"""3D reconstruction error on MICC Florence (Bagdanov, Del Bimbo, Masi, "The Florence 2D/3D
Hybrid Face Dataset", 2011): one ground-truth scan per subject, videos in three settings.

The field has several variants (Tran et al. CVPR 2017; Genova et al. CVPR 2018; Deng et al.
CVPRW 2019 and later follow one or another). This one, every parameter stated:

1. **Crop** the scan to the vertices within ``crop_mm`` (95) of its nose tip landmark, and the
   prediction, after step 2, to the vertices within ``crop_mm`` of its own (aligned) nose tip;
   a triangle is kept when all three of its vertices are.
2. **Landmark alignment**: the similarity (``scale=True``; rigid otherwise) that best maps the
   prediction's landmarks onto the scan's (Umeyama, reflections excluded).
3. **ICP with scale** (isotropic; rigid if ``scale=False``): the cropped prediction moved onto
   the fixed cropped scan vertices, minimising the mean squared point-to-surface distance
   (:func:`~facejax.evaluation.rigid_alignment.icp_to_mesh`, started from step 2).
4. **Error**: the distance from every cropped scan vertex to the nearest point of the aligned,
   cropped prediction's surface (point to triangle; direction scan -> prediction, as NoW), and
   the subject's **RMSE** ``sqrt(mean d_i^2)`` in mm. ``symmetric=True`` also measures every
   cropped prediction vertex against the cropped scan's surface and takes the RMSE over both
   sets of distances pooled.
5. **Summary** per video setting (cooperative, indoor, outdoor): mean and standard deviation
   (``ddof=0``) over subjects of the per-subject RMSE (:func:`micc_summary`).

MICC scans ship no landmarks: the caller gives corresponding landmarks on scan and prediction
(e.g. the iBUG-68 points, nose tip index 30, picked on the scan or fitted), ``L >= 3``.
"""

from collections.abc import Mapping

import numpy as np

from facejax.evaluation.point_to_mesh import point_to_mesh_distances
from facejax.evaluation.rigid_alignment import (
    apply_similarity,
    icp_to_mesh,
    similarity_from_landmarks,
)

CROP_MM = 95.0
NOSE_TIP = 30  # iBUG-68, 0-based: the tip of the nose

# The builder's video names (facejax.data.builders.micc_florence.SETTINGS) -> setting.
SETTINGS = {
    "Indoor-Cooperative": "cooperative",
    "PTZ-Indoor": "indoor",
    "PTZ-Outdoor": "outdoor",
}


def _cropped_mesh(vertices, triangles, centre, radius):
    keep = np.linalg.norm(vertices - centre, axis=1) <= radius
    kept_triangles = triangles[np.all(keep[triangles], axis=1)]
    return keep, kept_triangles


def micc_rmse(
    pred_vertices,
    pred_triangles,
    pred_landmarks,
    scan_vertices,
    scan_triangles,
    scan_landmarks,
    *,
    crop_mm: float = CROP_MM,
    scale: bool = True,
    nose_tip: int = NOSE_TIP,
    symmetric: bool = False,
) -> float:
    """One subject's MICC Florence RMSE in mm (module docstring, steps 1-4).

    Args:
      pred_vertices: ``[V, 3]`` predicted mesh (any pose and scale; mm if ``scale=False``).
      pred_triangles: ``[T, 3]`` its int triangles.
      pred_landmarks: ``[L, 3]`` landmarks on the prediction.
      scan_vertices: ``[S, 3]`` ground-truth scan (mm).
      scan_triangles: ``[F, 3]`` its triangles (used with ``symmetric``).
      scan_landmarks: ``[L, 3]`` the same landmarks on the scan.
      crop_mm: crop radius around the nose tip.
      scale: similarity (True) or rigid alignment in steps 2 and 3.
      nose_tip: index of the nose tip among the landmarks (30 for iBUG-68).
      symmetric: pool the prediction -> scan distances too.

    Returns:
      The RMSE in mm.
    """
    pred_vertices = np.asarray(pred_vertices, dtype=np.float64)
    scan_vertices = np.asarray(scan_vertices, dtype=np.float64)
    pred_triangles, scan_triangles = np.asarray(pred_triangles), np.asarray(scan_triangles)
    pred_lm = np.asarray(pred_landmarks, dtype=np.float64)
    scan_lm = np.asarray(scan_landmarks, dtype=np.float64)
    if pred_lm.shape != scan_lm.shape or pred_lm.ndim != 2 or pred_lm.shape[1] != 3:
        raise ValueError(
            f"micc_rmse: pred_landmarks {pred_lm.shape} and scan_landmarks {scan_lm.shape} must "
            "both be [L, 3]"
        )
    if not 0 <= nose_tip < pred_lm.shape[0]:
        raise ValueError(f"micc_rmse: nose_tip {nose_tip} is not one of {pred_lm.shape[0]} rows")
    scan_keep, scan_tri = _cropped_mesh(scan_vertices, scan_triangles, scan_lm[nose_tip], crop_mm)
    scan_points = scan_vertices[scan_keep]
    initial = similarity_from_landmarks(pred_lm, scan_lm, scale=scale)
    aligned = apply_similarity(pred_vertices, *initial)
    aligned_tip = apply_similarity(pred_lm[nose_tip], *initial)
    _, pred_tri = _cropped_mesh(aligned, pred_triangles, aligned_tip, crop_mm)
    if scan_points.shape[0] == 0 or pred_tri.shape[0] == 0:
        raise ValueError(
            f"micc_rmse: nothing of the {'scan' if scan_points.shape[0] == 0 else 'prediction'} "
            f"lies within {crop_mm} mm of its nose tip"
        )
    # Steps 3-4 on the landmark-aligned prediction; the ICP starts from the identity.
    s, R, t = icp_to_mesh(scan_points, aligned, pred_tri, scale=scale)
    final = apply_similarity(aligned, s, R, t)
    distances, _ = point_to_mesh_distances(scan_points, final, pred_tri)
    if symmetric:
        used = np.unique(pred_tri)
        if scan_tri.shape[0] == 0:
            raise ValueError("micc_rmse: the cropped scan keeps no triangle (symmetric=True)")
        back, _ = point_to_mesh_distances(final[used], scan_vertices, scan_tri)
        distances = np.concatenate([distances, back])
    return float(np.sqrt(np.mean(distances**2)))


def micc_summary(per_subject: Mapping[tuple[str, str], float]) -> dict:
    """Mean and standard deviation over subjects of the RMSE, per video setting.

    Args:
      per_subject: ``{(subject, setting): rmse_mm}``; ``setting`` is ``"cooperative"``,
        ``"indoor"``, ``"outdoor"`` or the builder's video name (``"Indoor-Cooperative"``,
        ``"PTZ-Indoor"``, ``"PTZ-Outdoor"``).

    Returns:
      ``{setting: {"mean_mm", "std_mm" (ddof 0), "n"}}`` for the three settings (NaN means and
      ``n = 0`` for a setting without subjects).
    """
    values: dict[str, list[float]] = {name: [] for name in SETTINGS.values()}
    for (subject, setting), rmse in per_subject.items():
        name = SETTINGS.get(setting, setting)
        if name not in values:
            raise ValueError(
                f"micc_summary: unknown setting {setting!r} for {subject!r}; one of "
                f"{sorted(values)} or {sorted(SETTINGS)}"
            )
        if not np.isfinite(rmse):
            raise ValueError(f"micc_summary: the RMSE of {subject!r}, {setting!r} is {rmse}")
        values[name].append(float(rmse))
    return {
        name: {
            "mean_mm": float(np.mean(v)) if v else float("nan"),
            "std_mm": float(np.std(v)) if v else float("nan"),
            "n": len(v),
        }
        for name, v in values.items()
    }
