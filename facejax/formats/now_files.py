"""NoW benchmark files: image lists, scan landmarks (MeshLab ``.pp``) and prediction folders.

Layouts as the challenge's own evaluation reads them (github.com/soubhiksanyal/now_evaluation,
``compute_error.py``): image lists hold lines ``<subject>/<challenge>/<image>.jpg``; a subject's
ground truth is the one ``scans/<subject>/*.obj`` and the one
``scans_lmks_onlypp/<subject>/*.pp``; a method's predictions for image
``<subject>/<challenge>/<image>.jpg`` are the mesh ``<subject>/<challenge>/<image>.obj`` (or
``.ply``) and its 7 landmarks ``<image>.npy`` (or ``.txt``, 7 rows ``x y z``) in the
predictions folder, in :data:`NOW_LANDMARK_NAMES` order.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import numpy as np

from facejax.formats.mesh_files import read_obj, read_ply

# The 7 scan landmarks in the order of NoW's .pp files and of the prediction landmark files
# (the evaluation's crop reads 0 and 3 as outer eye corners, 1 and 2 as inner eye corners, 4 as
# the nose bottom; public notes on the challenge give the full order).
NOW_LANDMARK_NAMES = (
    "right_eye_outer",
    "right_eye_inner",
    "left_eye_inner",
    "left_eye_outer",
    "subnasale",
    "right_mouth_corner",
    "left_mouth_corner",
)
NUM_NOW_LANDMARKS = len(NOW_LANDMARK_NAMES)
SCAN_EXTENSIONS = (".obj", ".ply")
MESH_EXTENSIONS = (".obj", ".ply")  # a prediction's mesh, in the order looked for
LANDMARK_EXTENSIONS = (".npy", ".txt")


class NoWPrediction(NamedTuple):
    """One method's reconstruction of one NoW image.

    Attributes:
      vertices: ``[V, 3]`` float64.
      triangles: ``[T, 3]`` int32.
      landmarks: ``[7, 3]`` float64, in :data:`NOW_LANDMARK_NAMES` order.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    landmarks: np.ndarray


class NoWScan(NamedTuple):
    """A subject's ground truth.

    Attributes:
      vertices: ``[S, 3]`` float64 scan vertices (mm).
      triangles: ``[F, 3]`` int32 scan triangles (the protocol uses only the vertices).
      landmarks: ``[7, 3]`` float64 scan landmarks, :data:`NOW_LANDMARK_NAMES` order.
    """

    vertices: np.ndarray
    triangles: np.ndarray
    landmarks: np.ndarray


def read_image_list(path) -> list[str]:
    """The ``<subject>/<challenge>/<image>.jpg`` lines of a NoW image list (``.jpg`` added to a
    line without an extension).

    Raises:
      ValueError: naming the file and the first lines that are not of that form.
    """
    with open(path) as f:
        lines = [line.strip().replace("\\", "/") for line in f if line.strip()]
    lines = [line if os.path.splitext(line)[1] else line + ".jpg" for line in lines]
    bad = [line for line in lines if line.count("/") != 2]
    if bad:
        raise ValueError(f"{path}: lines must be <subject>/<challenge>/<image>, got {bad[:3]}")
    return lines


def read_picked_points(path) -> np.ndarray:
    """The points of a MeshLab picked-points ``.pp`` file, ``[N, 3]`` float64, in file order.

    The file is XML: ``<PickedPoints>`` holding a ``<DocumentData>`` header and one
    ``<point x=".." y=".." z=".." active=".." name=".."/>`` per point.

    Raises:
      ValueError: naming the file if it is not such XML or a point lacks x, y or z.
    """
    try:
        tree = ElementTree.parse(path)
        points = [[float(p.attrib[k]) for k in "xyz"] for p in tree.getroot().iter("point")]
    except (ElementTree.ParseError, KeyError, ValueError, OSError) as err:
        raise ValueError(f"{path}: not a MeshLab picked-points file ({err})") from err
    return np.asarray(points, dtype=np.float64).reshape(-1, 3)


def now_scan_files(root, subject) -> tuple[str | None, str | None]:
    """A subject's scan and ``.pp`` files relative to ``root`` (``final_release_version``): the
    first of each in sorted order, or ``None`` where there is none."""
    found = []
    for folder, extensions in (("scans", SCAN_EXTENSIONS), ("scans_lmks_onlypp", (".pp",))):
        directory = os.path.join(root, folder, subject)
        names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        name = next((n for n in names if n.lower().endswith(extensions)), None)
        found.append(None if name is None else os.path.join(folder, subject, name))
    return found[0], found[1]


def read_now_scan(root, subject) -> NoWScan:
    """A subject's scan and its 7 landmarks (:func:`now_scan_files`).

    Args:
      root: the ``final_release_version`` folder (holding ``scans/`` and
        ``scans_lmks_onlypp/``).
      subject: e.g. ``"FaMoS_180424_03335_TA"``.

    Raises:
      FileNotFoundError: naming the folder without a scan or ``.pp`` file.
      ValueError: naming a malformed file (or a ``.pp`` without exactly 7 points).
    """
    root = os.fspath(root)
    scan, points = now_scan_files(root, subject)
    if scan is None:
        raise FileNotFoundError(f"no scan: {os.path.join(root, 'scans', subject)}/*.obj")
    if points is None:
        raise FileNotFoundError(
            f"no scan landmarks: {os.path.join(root, 'scans_lmks_onlypp', subject)}/*.pp"
        )
    path = os.path.join(root, scan)
    vertices, triangles, _ = (read_obj if path.lower().endswith(".obj") else read_ply)(path)
    landmarks = read_picked_points(os.path.join(root, points))
    if landmarks.shape != (NUM_NOW_LANDMARKS, 3):
        raise ValueError(
            f"{os.path.join(root, points)}: {landmarks.shape[0]} points, expected "
            f"{NUM_NOW_LANDMARKS}"
        )
    return NoWScan(vertices, triangles, landmarks)


def _read_mesh(path) -> tuple[np.ndarray, np.ndarray]:
    reader = read_obj if path.lower().endswith(".obj") else read_ply
    vertices, triangles, _ = reader(path)
    if triangles.shape[0] == 0:
        raise ValueError(f"{path}: the mesh has no faces")
    if not np.all(np.isfinite(vertices)):
        raise ValueError(f"{path}: vertices contain NaN or infinite values")
    return vertices, triangles


def _read_now_landmarks(path) -> np.ndarray:
    try:
        if path.lower().endswith(".npy"):
            landmarks = np.load(path, allow_pickle=False)
        else:
            landmarks = np.loadtxt(path, ndmin=2)
        landmarks = np.asarray(landmarks, dtype=np.float64)
    except (ValueError, OSError) as err:
        raise ValueError(f"{path}: not a numeric landmark array ({err})") from err
    if landmarks.shape != (NUM_NOW_LANDMARKS, 3):
        raise ValueError(f"{path}: landmarks must have shape [7, 3], got {landmarks.shape}")
    if not np.all(np.isfinite(landmarks)):
        raise ValueError(f"{path}: landmarks contain NaN or infinite values")
    return landmarks


def _first_existing(stem: str, extensions) -> str | None:
    return next((stem + e for e in extensions if os.path.isfile(stem + e)), None)


def read_now_prediction(predictions_dir, image: str) -> NoWPrediction:
    """The prediction for one image line ``<subject>/<challenge>/<image>[.jpg]``.

    Raises:
      FileNotFoundError: naming the mesh or landmark file looked for.
      ValueError: naming a malformed file (unreadable mesh, no faces, landmarks not ``[7, 3]``
        finite numbers).
    """
    stem = os.path.join(os.fspath(predictions_dir), os.path.splitext(image)[0])
    mesh = _first_existing(stem, MESH_EXTENSIONS)
    if mesh is None:
        raise FileNotFoundError(f"no mesh: {stem}.obj (or .ply)")
    landmarks = _first_existing(stem, LANDMARK_EXTENSIONS)
    if landmarks is None:
        raise FileNotFoundError(f"no landmarks: {stem}.npy (or .txt)")
    vertices, triangles = _read_mesh(mesh)
    return NoWPrediction(vertices, triangles, _read_now_landmarks(landmarks))


def now_predictions(
    predictions_dir, images: Iterable[str]
) -> Iterator[tuple[str, NoWPrediction | str]]:
    """The prediction of every listed image, or why there is none.

    Yields one entry per image, in order, so that a caller can count and name what is missing
    or malformed instead of dropping it (files in the folder that the list does not name are
    not read, as in the challenge's evaluation).

    Args:
      predictions_dir: the folder of ``<subject>/<challenge>/<image>.obj`` and ``.npy`` files.
      images: image lines ``<subject>/<challenge>/<image>.jpg`` (:func:`read_image_list`).

    Yields:
      ``(name, prediction)`` with ``name`` the line without extension
      (``<subject>/<challenge>/<image>``) and ``prediction`` a :class:`NoWPrediction`, or a
      problem string naming the file (``"no mesh: ..."``, ``"no landmarks: ..."``,
      ``"<path>: ..."`` for a malformed one).
    """
    for image in images:
        name = os.path.splitext(image.replace("\\", "/"))[0]
        try:
            yield name, read_now_prediction(predictions_dir, image)
        except (OSError, ValueError) as err:
            yield name, str(err)
