"""Any method's predictions read from a folder in a benchmark's layout, each expected file
found, read and checked, or named as missing or malformed.

The layouts (docs/evaluation.md, "facejax evaluate --benchmark"), relative to the folder:

* NoW: ``<subject>/<challenge>/<IMG>.obj`` (or ``.ply``) and ``<IMG>.npy`` ``[7, 3]``, the
  challenge's own layout (its evaluation reads the same files).
* AFLW2000-3D: ``<image stem>.npy`` / ``.pts`` / ``.json`` ``[68, 2]`` landmarks in the image's
  pixels (each format in its own pixel convention, ``facejax.formats.read_landmarks``).
* LFW: ``<Name>/<Name>_<nnnn>.npy`` ``[D]``, one feature per image.
* YouTube Faces: ``<subject>/<video>.npy`` ``[F, D]`` frame features (or ``[D]``).
* MICC Florence: ``<subject>/<setting>.obj`` (or ``.ply``) and ``<subject>/<setting>.npy``
  ``[L, 3]`` landmarks.

A reader returns what it could read and an :class:`~facejax.evaluation.benchmark_runs.Excluded`
for every other expected item: nothing is dropped without its name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np

from facejax.evaluation.benchmark_runs import Excluded

MESH_EXTENSIONS = (".obj", ".ply")
LANDMARK_EXTENSIONS = (".npy", ".pts", ".json")


def _first(folder, stem: str, extensions: Sequence[str]) -> str | None:
    for extension in extensions:
        path = os.path.join(folder, stem + extension)
        if os.path.isfile(path):
            return path
    return None


def read_array(path, shape: tuple[int | None, ...] | None) -> np.ndarray:
    """A ``.npy`` file (read without pickle) of ``shape`` (``None``: any size there; ``shape``
    ``None``: any shape), finite.

    Raises:
      ValueError: naming the file, for an unreadable file, a wrong shape or NaN/inf values.
    """
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: not a .npy array ({err})") from err
    if shape is not None and (
        array.ndim != len(shape)
        or any(
            want is not None and got != want for got, want in zip(array.shape, shape, strict=True)
        )
    ):
        wanted = "x".join("N" if s is None else str(s) for s in shape)
        raise ValueError(f"{path}: shape {list(array.shape)}, expected {wanted}")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise ValueError(f"{path}: holds NaN, infinite or non-numeric values")
    return np.asarray(array, np.float64)


def read_mesh(path) -> tuple[np.ndarray, np.ndarray]:
    """``(vertices [V, 3], triangles [F, 3])`` of an ``.obj`` or ``.ply`` mesh, checked.

    Raises:
      ValueError: naming the file, for an unreadable mesh, no triangles or non-finite
        vertices.
    """
    from facejax.formats import read_obj, read_ply

    reader = read_ply if path.lower().endswith(".ply") else read_obj
    try:
        vertices, triangles, _ = reader(path)
    except (OSError, ValueError, IndexError, KeyError) as err:
        raise ValueError(f"{path}: not a readable mesh ({err})") from err
    vertices = np.asarray(vertices, np.float64)
    triangles = np.asarray(triangles, np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) < 3 or len(triangles) == 0:
        raise ValueError(
            f"{path}: {len(vertices)} vertices and {len(triangles)} triangles; not a mesh"
        )
    if not np.all(np.isfinite(vertices)):
        raise ValueError(f"{path}: vertices with NaN or infinite coordinates")
    if triangles.min() < 0 or triangles.max() >= len(vertices):
        raise ValueError(f"{path}: a triangle names a vertex that does not exist")
    return vertices, triangles


def read_mesh_predictions(
    folder, names: Iterable[str], num_landmarks: int | None
) -> tuple[list[tuple[str, np.ndarray, np.ndarray, np.ndarray]], list[Excluded]]:
    """For each ``name`` (a path without extension), ``<name>.obj|.ply`` and ``<name>.npy``
    ``[num_landmarks, 3]``.

    Returns:
      ``([(name, vertices, triangles, landmarks), ...], excluded)``.
    """
    items, excluded = [], []
    for name in names:
        stem = os.path.join(folder, name)
        mesh = _first(os.path.dirname(stem), os.path.basename(stem), MESH_EXTENSIONS)
        landmarks_path = stem + ".npy"
        lacking = [] if mesh else [f"{stem}.obj (or .ply)"]
        lacking += [] if os.path.isfile(landmarks_path) else [landmarks_path]
        if lacking:
            excluded.append(Excluded(name, "missing", f"no {' and no '.join(lacking)}"))
            continue
        try:
            vertices, triangles = read_mesh(mesh)
            landmarks = read_array(landmarks_path, (num_landmarks, 3))
        except ValueError as err:
            excluded.append(Excluded(name, "malformed", str(err)))
            continue
        items.append((name, vertices, triangles, landmarks))
    return items, excluded


def read_landmark_predictions(
    folder, names: Iterable[str], num_points: int = 68
) -> tuple[dict[str, np.ndarray], list[Excluded]]:
    """For each image stem, ``<stem>.npy|.pts|.json`` ``[num_points, 2]`` in the facejax pixel
    convention (``facejax.formats.read_landmarks``).

    Returns:
      ``({stem: [num_points, 2]}, excluded)``.
    """
    from facejax.formats import read_landmarks

    found, excluded = {}, []
    for name in names:
        path = _first(folder, name, LANDMARK_EXTENSIONS)
        if path is None:
            shown = os.path.join(folder, name)
            excluded.append(Excluded(name, "missing", f"no {shown}.npy (or .pts, .json)"))
            continue
        try:
            points = np.asarray(read_landmarks(path, num_points=num_points), np.float64)
        except (OSError, ValueError) as err:
            excluded.append(Excluded(name, "malformed", str(err)))
            continue
        found[name] = points[:, :2]
    return found, excluded


def read_feature_predictions(
    folder, names: Iterable[str], *, frames: bool = False
) -> tuple[dict[str, np.ndarray], list[Excluded]]:
    """For each name, ``<name>.npy``: a feature ``[D]``, or with ``frames`` frame features
    ``[F, D]`` (a single ``[D]`` is read as one frame).

    Returns:
      ``({name: array}, excluded)``.
    """
    found, excluded = {}, []
    for name in names:
        path = os.path.join(folder, name + ".npy")
        if not os.path.isfile(path):
            excluded.append(Excluded(name, "missing", f"no {path}"))
            continue
        try:
            array = read_array(path, None)
            if array.ndim != 1 and not (frames and array.ndim == 2):
                wanted = "[F, D] or [D]" if frames else "[D]"
                raise ValueError(f"{path}: shape {list(array.shape)}, expected {wanted}")
        except ValueError as err:
            excluded.append(Excluded(name, "malformed", str(err)))
            continue
        found[name] = array[None] if frames and array.ndim == 1 else array
    return found, excluded
