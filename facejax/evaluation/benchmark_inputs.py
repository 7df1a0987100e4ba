"""A benchmark's ground truth read as the benchmark ships it, and a predictions folder scored
against it (``facejax evaluate --benchmark NAME --predictions DIR --data DIR``).

The data folders (the layouts facejax's builders read, ``facejax.data.builders``):

* NoW: ``final_release_version`` (or a folder holding it, or ``NoW_Dataset/``) with
  ``imagepathsvalidation.txt`` (here or one folder up), ``scans/<subject>/*.obj`` and
  ``scans_lmks_onlypp/<subject>/*.pp``. Only the validation images have public scans.
* AFLW2000-3D: the ``AFLW2000`` folder (or one holding it): ``image*.jpg`` with their ``.mat``.
* LFW: a folder with ``pairs.txt``.
* YouTube Faces: the ``YouTubeFaces`` folder (or one holding it) with ``splits.txt``.
* MICC Florence: the folder of ``subject_XX`` folders (or one holding it as ``Florence/``), each
  scan ``subject_XX/Model/frontal1/obj/<name>.obj`` (else ``frontal2``) with its landmarks
  beside it as ``<name>.npy`` ``[L, 3]`` (MICC ships none: pick them once, in the order of the
  predictions' landmarks).

Readers reuse the builders' parsers of each file format, imported when a benchmark needs them.
"""

from __future__ import annotations

import os

import numpy as np

from facejax.evaluation import benchmark_runs, prediction_folders, scan_benchmark_runs
from facejax.evaluation.benchmark_runs import BenchmarkRun, Excluded

NOW_LIST = "imagepathsvalidation.txt"
# The protocol module each benchmark scores with, beyond facejax.evaluation's core.
PROTOCOLS = {"now": "now_protocol", "micc": "micc_protocol", "ytf": "video_verification"}
MICC_SETTINGS = ("Indoor-Cooperative", "PTZ-Indoor", "PTZ-Outdoor")


def _find(folder, relative_paths) -> str:
    """The first of ``folder/relative`` that exists, else ``FileNotFoundError`` naming all."""
    tried = [os.path.join(folder, r) for r in relative_paths]
    for path in tried:
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{folder}: none of {', '.join(tried)} exists")


def now_ground_truth(data) -> tuple[list[str], dict, list[Excluded]]:
    """``(expected image lines "subject/challenge/IMG.jpg", {subject: (scan vertices [S, 3],
    scan landmarks [7, 3])}, excluded)``: NoW's validation images and scans
    (``facejax.formats.now_files``); an image whose subject has no scan or landmark file is
    excluded by name."""
    from facejax.formats import now_files

    root = _find(data, ["NoW_Dataset/final_release_version", "final_release_version", "."])
    listing = _find(root, [NOW_LIST, os.path.join("..", NOW_LIST)])
    lines = now_files.read_image_list(listing)
    scans, excluded = {}, []
    for subject in sorted({line.split("/")[0] for line in lines}):
        try:
            scan = now_files.read_now_scan(root, subject)
        except FileNotFoundError as err:  # a subject without scan: its images are named
            excluded += [
                Excluded(os.path.splitext(line)[0], "missing", str(err))
                for line in lines
                if line.split("/")[0] == subject
            ]
            continue
        scans[subject] = (np.asarray(scan.vertices, np.float64), scan.landmarks)
    return lines, scans, excluded


def aflw2000_ground_truth(data) -> tuple[list[str], np.ndarray, np.ndarray, list[Excluded]]:
    """``(image stems, landmarks [N, 68, 2] in facejax pixels, yaw degrees [N], excluded)``
    from each ``.mat``'s ``pt3d_68`` and ``Pose_Para``; an image whose ``.mat`` is absent or
    unreadable (too few landmarks, no pose) is excluded by name, its rows NaN."""
    from facejax.formats import read_landmarks
    from facejax.formats.matlab import load_mat

    root = _find(data, ["AFLW2000", "."])
    stems = sorted(n[:-4] for n in os.listdir(root) if n.startswith("image") and n.endswith(".jpg"))
    if not stems:
        raise FileNotFoundError(f"{root}: no AFLW2000-3D image*.jpg")
    landmarks, yaw, excluded = [], [], []
    for stem in stems:
        mat = os.path.join(root, stem + ".mat")
        try:
            points = read_landmarks(mat, num_points=68, field="pt3d_68")[:, :2]
            pose = np.asarray(load_mat(mat, ["Pose_Para"])["Pose_Para"], np.float64).reshape(-1)
            if pose.size < 7:
                raise ValueError(f"{mat}: Pose_Para has {pose.size} values, expected 7")
        except (OSError, ValueError, KeyError) as err:  # no ground truth to score it against
            excluded.append(Excluded(stem, "missing", f"no ground truth: {err}"))
            points, pose = np.full((68, 2), np.nan), np.full(7, np.nan)
        landmarks.append(points)
        yaw.append(np.degrees(pose[1]))
    return stems, np.stack(landmarks), np.asarray(yaw), excluded


def lfw_pairs(data) -> list[tuple[int, str, str, bool]]:
    """``(fold, "Name/Name_0001", "Other/Other_0003", same)`` per line of ``pairs.txt``."""
    from facejax.data.builders.lfw import image_name, read_pairs

    path = _find(data, ["pairs.txt", "lfw/pairs.txt"])

    def name(person, number):
        return f"{person}/{os.path.splitext(image_name(person, number))[0]}"

    return [(f, name(pa, na), name(pb, nb), s) for f, pa, na, pb, nb, s in read_pairs(path)]


def ytf_pairs(data) -> list[tuple[int, str, str, bool]]:
    """``(fold, "subject/video", "subject/video", same)`` of ``splits.txt``."""
    from facejax.data.builders.youtube_faces import read_splits

    return list(read_splits(_find(data, ["splits.txt", "YouTubeFaces/splits.txt"])))


def micc_ground_truth(data) -> tuple[list[str], dict, list[Excluded]]:
    """``(expected "subject/setting", {subject: (vertices, triangles, landmarks)}, excluded)``;
    a subject without scan or scan landmarks is excluded by name."""
    root = _find(data, ["Florence", "."])
    subjects = sorted(s for s in os.listdir(root) if s.startswith("subject_"))
    if not subjects:
        raise FileNotFoundError(f"{root}: no subject_XX folders of MICC Florence")
    expected = [f"{s}/{setting}" for s in subjects for setting in MICC_SETTINGS]
    scans, excluded = {}, []
    for subject in subjects:
        mesh = None
        for folder in ("frontal1", "frontal2"):
            directory = os.path.join(root, subject, "Model", folder, "obj")
            objs = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
            objs = [o for o in objs if o.lower().endswith(".obj")]
            if objs:
                mesh = os.path.join(directory, objs[0])
                break
        landmarks = None if mesh is None else os.path.splitext(mesh)[0] + ".npy"
        if mesh is None or not os.path.isfile(landmarks):
            reason = f"no scan with landmarks (<scan>.obj and <scan>.npy) of {subject}"
            excluded += [Excluded(f"{subject}/{s}", "missing", reason) for s in MICC_SETTINGS]
            continue
        vertices, triangles = prediction_folders.read_mesh(mesh)
        scans[subject] = (vertices, triangles, prediction_folders.read_array(landmarks, (None, 3)))
    return expected, scans, excluded


def check_protocol(benchmark: str) -> None:
    """Raises ``ProtocolUnavailable`` when this build lacks ``benchmark``'s protocol (called
    before any work)."""
    if benchmark in PROTOCOLS:
        benchmark_runs.protocol_module(PROTOCOLS[benchmark])


def score_predictions(benchmark: str, predictions, data, *, metrical: bool = False) -> BenchmarkRun:
    """A folder of any method's predictions scored on ``benchmark`` (not ``"synthetic"``)
    against its data folder (both layouts in docs/evaluation.md).

    Raises:
      ValueError: an unknown benchmark; ``ProtocolUnavailable`` when this build lacks the
        benchmark's protocol.
      FileNotFoundError: the data folder lacks the benchmark's files.
    """
    if not os.path.isdir(predictions):
        raise FileNotFoundError(f"--predictions {predictions}: not a folder")
    if benchmark == "now":
        check_protocol(benchmark)  # before any reading
        from facejax.formats.now_files import now_predictions

        lines, scans, without_scan = now_ground_truth(data)
        items, excluded = [], list(without_scan)
        for name, found in now_predictions(predictions, [
            line for line in lines if line.split("/")[0] in scans
        ]):  # fmt: skip
            if isinstance(found, str):
                kind = "missing" if found.startswith("no ") else "malformed"
                excluded.append(Excluded(name, kind, found))
            else:
                items.append((name, found.vertices, found.triangles, found.landmarks))
        names = [os.path.splitext(line)[0] for line in lines]
        return scan_benchmark_runs.now_run(items, scans, names, excluded, metrical=metrical)
    if benchmark == "micc":
        check_protocol(benchmark)
        expected, scans, without_scan = micc_ground_truth(data)
        scored = [n for n in expected if n.split("/")[0] in scans]
        items, excluded = prediction_folders.read_mesh_predictions(predictions, scored, None)
        items = [(tuple(n.split("/")), v, t, lm) for n, v, t, lm in items]
        return scan_benchmark_runs.micc_run(items, scans, expected, without_scan + excluded)
    if benchmark == "aflw2000":
        stems, true, yaw, without_truth = aflw2000_ground_truth(data)
        scored = [s for s in stems if s not in {e.name for e in without_truth}]
        found, excluded = prediction_folders.read_landmark_predictions(predictions, scored)
        excluded = without_truth + excluded
        pred = np.stack([found.get(s, np.full((68, 2), np.nan)) for s in stems])
        return benchmark_runs.aflw2000_run(stems, pred, true, yaw, excluded)
    if benchmark == "lfw":
        pairs = lfw_pairs(data)
        expected = sorted({n for p in pairs for n in p[1:3]})
        features, excluded = prediction_folders.read_feature_predictions(predictions, expected)
        return benchmark_runs.lfw_run(features, pairs, expected, excluded)
    if benchmark == "ytf":
        check_protocol(benchmark)
        pairs = ytf_pairs(data)
        expected = sorted({n for p in pairs for n in p[1:3]})
        features, excluded = prediction_folders.read_feature_predictions(
            predictions, expected, frames=True
        )
        return benchmark_runs.ytf_run(features, pairs, expected, excluded)
    raise ValueError(f"--benchmark {benchmark}: no predictions folder to score for it")
