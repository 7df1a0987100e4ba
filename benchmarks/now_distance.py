"""Time of the NoW scan-to-mesh error on one synthetic NoW-sized case; prints JSON.

    python benchmarks/now_distance.py          # ~89k cropped scan points, 35k-vertex mesh
    python benchmarks/now_distance.py --scan-points 100000 --repeats 5

The case is synthetic and face-sized (millimetres): a smooth face-like height field (a cap with a
nose) as the prediction, a 187 x 187 grid (34,969 vertices, 69,192 triangles) whose shape
differs from the scan's by smooth bumps of up to ~1.5 mm, posed by a random similarity (scale
0.001: a prediction in metres); the scan is ``--scan-points`` random points of the true surface
with 0.2 mm noise, of which the NoW crop keeps about half. Timed: the crop, the alignment
(landmark similarity + ICP with scale, ``now_align``), one point-to-mesh distance evaluation of
the cropped scan (median of ``--repeats``), and the whole ``now_scan_to_mesh_errors``; the
whole-benchmark time is that last figure times ``--num-scans`` (default 2,054: every NoW image,
validation and test; the validation list alone is a fraction of it, scale accordingly).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
from scipy.spatial.transform import Rotation

from facejax.evaluation.now_protocol import now_align, now_crop, now_scan_to_mesh_errors
from facejax.evaluation.point_to_mesh import point_to_mesh_distances
from facejax.evaluation.rigid_alignment import apply_similarity

GRID = 187  # 187^2 = 34,969 prediction vertices
HALF_WIDTH = 100.0  # mm
# NoW order: right eye outer, right eye inner, left eye inner, left eye outer, subnasale, right
# and left mouth corner (x, y in mm).
LANDMARK_XY = np.array(
    [[-45.0, 30.0], [-15.0, 30.0], [15.0, 30.0], [45.0, 30.0], [0.0, -10.0], [-25, -40], [25, -40]]
)


def true_surface(x, y):
    """A face-like height field in mm: a 120 mm-radius cap and a nose."""
    cap = np.sqrt(np.maximum(120.0**2 - x**2 - (1.3 * y) ** 2, 0.0)) - 120.0
    nose = 25.0 * np.exp(-(x**2) / 150.0 - (y - 5.0) ** 2 / 600.0)
    return cap + nose


def predicted_surface(x, y):
    """The true surface with smooth errors of up to ~1.5 mm."""
    return true_surface(x, y) + 1.5 * np.sin(x / 17.0) * np.cos(y / 23.0)


def prediction_mesh():
    x, y = np.meshgrid(*2 * [np.linspace(-HALF_WIDTH, HALF_WIDTH, GRID)])
    vertices = np.stack([x.ravel(), y.ravel(), predicted_surface(x, y).ravel()], axis=1)
    i = (np.arange(GRID - 1)[:, None] * GRID + np.arange(GRID - 1)[None, :]).ravel()
    triangles = np.concatenate(
        [np.stack([i, i + 1, i + GRID], 1), np.stack([i + 1, i + GRID + 1, i + GRID], 1)]
    )
    landmarks = np.c_[LANDMARK_XY, predicted_surface(*LANDMARK_XY.T)]
    return vertices, triangles.astype(np.int32), landmarks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scan-points", type=int, default=180_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--num-scans", type=int, default=2054)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    xy = rng.uniform(-HALF_WIDTH, HALF_WIDTH, (args.scan_points, 2))
    scan = np.c_[xy, true_surface(*xy.T) + rng.normal(scale=0.2, size=len(xy))]
    scan_landmarks = np.c_[LANDMARK_XY, true_surface(*LANDMARK_XY.T)]
    vertices, triangles, landmarks = prediction_mesh()
    pose = (0.001, Rotation.from_euler("xyz", [10, -25, 5], degrees=True).as_matrix(), [0.1, 0, 1])
    pred, pred_landmarks = (apply_similarity(x, *pose) for x in (vertices, landmarks))
    load_before = os.getloadavg()

    start = time.perf_counter()
    mask = now_crop(scan, scan_landmarks)
    crop_s = time.perf_counter() - start
    cropped = scan[mask]

    start = time.perf_counter()
    s, R, t = now_align(pred, triangles, pred_landmarks, cropped, scan_landmarks)
    align_s = time.perf_counter() - start
    aligned = apply_similarity(pred, s, R, t)

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        distances, _ = point_to_mesh_distances(cropped, aligned, triangles)
        times.append(time.perf_counter() - start)
    distance_s = float(np.median(times))

    start = time.perf_counter()
    errors = now_scan_to_mesh_errors(pred, triangles, pred_landmarks, scan, scan_landmarks)
    per_scan_s = time.perf_counter() - start

    report = {
        "benchmark": "now_distance",
        "scan_points": args.scan_points,
        "cropped_scan_points": int(cropped.shape[0]),
        "prediction_vertices": int(vertices.shape[0]),
        "prediction_triangles": int(triangles.shape[0]),
        "crop_s": round(crop_s, 4),
        "distance_s_median": round(distance_s, 3),
        "distance_s_all": [round(x, 3) for x in times],
        "align_s": round(align_s, 2),
        "align_in_distance_evaluations": round(align_s / distance_s, 1),
        "per_scan_s": round(per_scan_s, 2),
        "assumed_num_scans": args.num_scans,
        "whole_benchmark_h": round(per_scan_s * args.num_scans / 3600, 2),
        "recovered_scale_x1000": round(s / 1000.0, 4),
        "median_mm": round(float(np.median(errors)), 4),
        "mean_mm": round(float(np.mean(errors)), 4),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
