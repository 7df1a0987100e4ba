"""The scan benchmarks, NoW and MICC Florence: a method's meshes against 3D scans, through
``facejax.evaluation.now_protocol`` and ``micc_protocol``
(:class:`~facejax.evaluation.benchmark_runs.BenchmarkRun` results, exclusions by name).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from facejax.evaluation.benchmark_runs import BenchmarkRun, Excluded, protocol_module


def now_run(items, scans: Mapping, expected, excluded, *, metrical: bool = False) -> BenchmarkRun:
    """NoW scan-to-mesh errors (``facejax.evaluation.now_protocol``).

    Args:
      items: ``(image name "subject/challenge/IMG", vertices [V, 3], triangles [F, 3],
        landmarks [7, 3])`` per usable prediction.
      scans: ``{subject: (scan vertices [S, 3], scan landmarks [7, 3])}``.
      expected: every image name of the benchmark's list.
      excluded: images without a usable prediction (and those whose scan is missing).
      metrical: the metrical variant (no scale in the alignment).

    Returns:
      ``median_mm``, ``mean_mm``, ``std_mm`` over all distances of all scans (the challenge's
      numbers), also per challenge; every distance for the cumulative curve.
    """
    protocol = protocol_module("now_protocol")
    excluded = list(excluded)
    per_challenge: dict[str, list[np.ndarray]] = {}
    for name, vertices, triangles, landmarks in items:
        subject, challenge = name.split("/")[:2]
        if subject not in scans:
            excluded.append(Excluded(name, "missing", f"no scan of subject {subject}"))
            continue
        scan_vertices, scan_landmarks = scans[subject]
        distances = protocol.now_scan_to_mesh_errors(
            vertices, triangles, landmarks, scan_vertices, scan_landmarks, metrical=metrical
        )
        per_challenge.setdefault(challenge, []).append(np.asarray(distances, np.float64))
    everything = [d for group in per_challenge.values() for d in group]
    if not everything:
        raise ValueError("now: no prediction could be scored")
    metrics = dict(protocol.now_summary(everything))
    for challenge, group in sorted(per_challenge.items()):
        for key, value in protocol.now_summary(group).items():
            metrics[f"{challenge}_{key}"] = value
    metrics["metrical"] = metrical
    errors = {"all challenges": np.concatenate(everything)}
    notes = [
        "distances from every cropped scan vertex to the nearest point of the predicted surface, "
        + ("rigid alignment (metrical)" if metrical else "similarity alignment")
    ]
    return BenchmarkRun(
        "now", metrics, len(expected), excluded, errors=errors, error_unit="mm", notes=notes
    )


def micc_run(items, scans: Mapping, expected, excluded) -> BenchmarkRun:
    """MICC Florence point-to-surface RMSE per subject and video setting
    (``facejax.evaluation.micc_protocol``).

    Args:
      items: ``((subject, setting), vertices [V, 3], triangles [F, 3], landmarks [L, 3])`` per
        usable prediction.
      scans: ``{subject: (vertices [S, 3], triangles [T, 3], landmarks [L, 3])}``.
      expected: every ``"subject/setting"`` of the benchmark.
      excluded: predictions left out (missing, malformed, or without a scan).
    """
    protocol = protocol_module("micc_protocol")
    excluded = list(excluded)
    rmse = {}
    for (subject, setting), vertices, triangles, landmarks in items:
        if subject not in scans:
            excluded.append(Excluded(f"{subject}/{setting}", "missing", "no scan of the subject"))
            continue
        rmse[(subject, setting)] = float(
            protocol.micc_rmse(vertices, triangles, landmarks, *scans[subject])
        )
    if not rmse:
        raise ValueError("micc: no prediction could be scored")
    summary = protocol.micc_summary(rmse)
    metrics = {
        f"{setting}_{key}": value
        for setting, values in summary.items()
        for key, value in (values.items() if isinstance(values, Mapping) else [("value", values)])
    }
    errors: dict[str, list[float]] = {}
    for (_, setting), value in sorted(rmse.items()):
        errors.setdefault(setting, []).append(value)
    return BenchmarkRun(
        "micc", metrics, len(expected), excluded,
        errors={k: np.asarray(v) for k, v in errors.items()}, error_unit="mm (RMSE per subject)",
    )  # fmt: skip
