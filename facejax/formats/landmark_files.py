"""Landmark files: 2D/3D image landmarks (.pts, .npy, .json, .mat) and model vertex indices.

Image landmarks come back in the image convention of docs/conventions.md: ``(x, y)`` in pixels,
x right, y down, the centre of pixel ``[i, j]`` at ``(j + 0.5, i + 0.5)``. Files written in
another convention are converted:

- iBUG ``.pts`` (300-W, LFPW, HELEN, AFW, iBUG) are 1-based, MATLAB style: "the coordinates of
  the top left pixel in an image are x=1, y=1" (300-W). facejax = file - 0.5.
- 300W-LP / AFLW2000-3D ``.mat`` (``pt2d``, ``pt3d_68``, ``pts_2d``, ``pts_3d``) are 1-based
  MATLAB coordinates as well: the same - 0.5 on x and y (a third, depth column is left as is).
- ``.npy`` and ``.json`` are facejax's own files and are read as they are.

The ``convention`` argument overrides the default: ``"facejax"`` (pixel centres at +0.5),
``"one_based"`` (centres at 1, 2, ...) or ``"zero_based"`` (centres at 0, 1, ...: OpenCV, dlib).
"""

from __future__ import annotations

import json
import os

import numpy as np

from facejax.formats.atomic_files import write_text_atomic
from facejax.formats.eos_landmarks import (
    is_landmark_mapping,
    mapped_vertices,
    read_landmark_mapping,
)

# Offset added to a file's x and y to reach the facejax convention.
_CONVENTION_OFFSET = {"facejax": 0.0, "one_based": -0.5, "zero_based": 0.5}
_MAT_FIELDS = ("pt3d_68", "pt2d", "pts_3d", "pts_2d")


def _as_points(path, array, num_points, columns_are_points: bool) -> np.ndarray:
    arr = np.asarray(array, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{path}: landmarks must form a 2-D array, got shape {arr.shape}")
    # MATLAB files store landmarks as columns ([2, 68] or [3, 68]).
    if columns_are_points and arr.shape[1] not in (2, 3) and arr.shape[0] in (2, 3):
        arr = arr.T
    if arr.shape[1] not in (2, 3):
        raise ValueError(f"{path}: landmarks need 2 or 3 coordinates each, got shape {arr.shape}")
    if num_points is not None and arr.shape[0] != num_points:
        raise ValueError(f"{path}: expected {num_points} landmarks, found {arr.shape[0]}")
    missing = ~np.all(np.isfinite(arr), axis=1)
    if missing.any():
        raise ValueError(
            f"{path}: {int(missing.sum())} landmark(s) are NaN or infinite "
            f"(indices {np.flatnonzero(missing)[:10].tolist()}); facejax needs every point"
        )
    return arr


def _read_pts(path) -> np.ndarray:
    with open(path) as f:
        lines = [line.strip() for line in f]
    declared, points, inside = None, [], False
    for line_number, line in enumerate(lines, start=1):
        if not line or line.startswith("#"):
            continue
        if line.startswith("version"):
            continue
        if line.startswith("n_points"):
            try:
                declared = int(line.split(":")[1])
            except (IndexError, ValueError) as err:
                raise ValueError(f"{path}, line {line_number}: bad n_points line") from err
            continue
        if line == "{":
            inside = True
            continue
        if line == "}":
            break
        if not inside:
            raise ValueError(f"{path}, line {line_number}: point before '{{': {line!r}")
        try:
            points.append([float(v) for v in line.split()])
        except ValueError as err:
            raise ValueError(f"{path}, line {line_number}: bad point {line!r}") from err
        if len(points[-1]) not in (2, 3):
            raise ValueError(f"{path}, line {line_number}: a point needs 2 or 3 numbers")
    if declared is not None and declared != len(points):
        raise ValueError(f"{path}: header says n_points {declared}, found {len(points)} points")
    if not points or len({len(p) for p in points}) != 1:
        raise ValueError(f"{path}: no points, or points with mixed dimensions")
    return np.asarray(points, dtype=np.float64)


def _read_json(path) -> np.ndarray:
    with open(path) as f:
        data = json.load(f)
    if isinstance(data, dict):
        if "landmarks" not in data:
            raise ValueError(f"{path}: JSON object has no 'landmarks' key (keys: {list(data)})")
        data = data["landmarks"]
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: landmarks must be a list of [x, y] or [x, y, z]") from err


def _read_mat(path, field) -> tuple[np.ndarray, str]:
    from facejax.formats.matlab import load_mat, mat_keys

    keys = mat_keys(path)
    if field is None:
        field = next((k for k in _MAT_FIELDS if k in keys), None)
        if field is None:
            raise ValueError(f"{path}: no landmark field {list(_MAT_FIELDS)} (variables: {keys})")
    elif field not in keys:
        raise ValueError(f"{path}: no variable '{field}' (variables: {keys})")
    return load_mat(path, [field])[field], field


def read_landmarks(
    path, num_points: int | None = 68, convention: str | None = None, field: str | None = None
) -> np.ndarray:
    """Reads image landmarks into the facejax image convention.

    Args:
      path: a ``.pts``, ``.npy`` (read without pickle), ``.json`` (a list of ``[x, y(, z)]`` or
        ``{"landmarks": [...]}``) or ``.mat`` file.
      num_points: the number of points the file must hold (``None``: any).
      convention: the file's pixel convention (see the module docstring); ``None`` takes the
        format's own (``.pts``/``.mat``: ``"one_based"``, ``.npy``/``.json``: ``"facejax"``).
      field: for ``.mat`` files, the variable to read; default the first of ``pt3d_68``,
        ``pt2d``, ``pts_3d``, ``pts_2d`` the file has (AFLW2000-3D's ``pt2d`` holds the 21
        AFLW points, its 68 points are ``pt3d_68``).

    Returns:
      ``[N, 2]`` or ``[N, 3]`` float64 landmarks; a third column (depth) is not shifted.

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: naming the file, for a wrong number of points (with the count found), a
      NaN/infinite point, an unknown extension or a malformed file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"landmark file not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext == ".pts":
        points, default = _read_pts(path), "one_based"
    elif ext == ".npy":
        try:
            points = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path}: cannot read as a plain numeric .npy ({err})") from err
        default = "facejax"
    elif ext == ".json":
        points, default = _read_json(path), "facejax"
    elif ext == ".mat":
        points, field = _read_mat(path, field)
        default = "one_based"
    else:
        raise ValueError(f"{path}: unknown landmark file type {ext!r} (.pts, .npy, .json, .mat)")
    points = _as_points(path, points, num_points, columns_are_points=ext == ".mat")
    convention = default if convention is None else convention
    if convention not in _CONVENTION_OFFSET:
        raise ValueError(f"unknown convention {convention!r}; one of {list(_CONVENTION_OFFSET)}")
    points = points.copy()
    points[:, :2] += _CONVENTION_OFFSET[convention]
    return points


def write_pts(path, landmarks) -> None:
    """Writes ``[N, 2]`` facejax-convention landmarks as an iBUG ``.pts`` file (1-based).

    :func:`read_landmarks` reads the file back to the same values.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"{path}: .pts landmarks must have shape [N, 2], got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{path}: landmarks contain NaN or infinite values")
    one_based = points - _CONVENTION_OFFSET["one_based"]
    lines = ["version: 1", f"n_points: {points.shape[0]}", "{"]
    lines += [f"{x:.17g} {y:.17g}" for x, y in one_based.tolist()]
    lines.append("}")
    write_text_atomic(path, "\n".join(lines) + "\n")


def read_vertex_indices(path, one_based: bool = False, num_points: int | None = 68) -> np.ndarray:
    """Reads a list of model vertex indices (e.g. the 68 landmark vertices of a BFM).

    Args:
      path: ``.npy`` (no pickle), a text file (``.txt``/``.csv``: whitespace- or
        comma-separated integers), or an eos landmark mapping (TOML with a
        ``[landmark_mappings]`` table, :mod:`facejax.formats.eos_landmarks`): its unmapped
        points get a stand-in vertex (:func:`~facejax.formats.eos_landmarks.mapped_vertices`);
        fit them at weight 0 (``read_landmark_mapping(path).defined``).
      one_based: whether the file counts vertices from 1 (MATLAB) rather than 0 (an eos
        mapping is 0-based on the vertex side whatever this says).
      num_points: required count (``None``: any).

    Returns:
      ``[N]`` int64 0-based vertex indices.

    Raises:
      ValueError: naming the file, for non-integer values, negative indices or a wrong count.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"vertex index file not found: {path}")
    if is_landmark_mapping(path):
        mapping = read_landmark_mapping(path, num_points=68 if num_points is None else num_points)
        return mapped_vertices(mapping)
    if path.lower().endswith(".npy"):
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise ValueError(f"{path}: cannot read as a plain numeric .npy ({err})") from err
    else:
        with open(path) as f:
            text = f.read().replace(",", " ")
        try:
            values = np.asarray([float(v) for v in text.split()])
        except ValueError as err:
            raise ValueError(f"{path}: vertex indices must be integers ({err})") from err
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if not np.all(np.equal(np.mod(values, 1), 0)):
        raise ValueError(f"{path}: vertex indices must be integers")
    indices = values.astype(np.int64) - (1 if one_based else 0)
    if num_points is not None and indices.size != num_points:
        raise ValueError(f"{path}: expected {num_points} vertex indices, found {indices.size}")
    if indices.size and indices.min() < 0:
        base = "1-based" if one_based else "0-based"
        raise ValueError(f"{path}: negative vertex index for a {base} file")
    return indices
