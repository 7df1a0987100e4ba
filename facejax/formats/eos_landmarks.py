"""eos's landmark definition files: the iBUG-to-model mapping and the model contour.

eos (https://github.com/patrikhuber/eos, ``share/``) describes where a model's landmarks are in
two files beside the model:

- the **landmark mapping** (``ibug_to_sfm.txt``, ``ibug_to_bfm2017-1_bfm_nomouth.txt``, ...),
  TOML: a ``[landmark_mappings]`` table from 1-based iBUG numbers (keys, bare or quoted
  strings) to 0-based model vertex ids, with ``#`` comments; points the model has no fixed
  vertex for are absent (SFM: the 16 jaw points 1-8 and 10-17, and the inner mouth corners 61
  and 65). An optional ``[contour_landmarks]`` table lists the iBUG numbers of the right and
  left jaw contour (``right = [1, ..., 8]``, numbers or strings);
- the **model contour** (``sfm_model_contours.json``,
  ``bfm2017-1_bfm_nomouth_model_contours.json``): JSON
  ``{"model_contour": {"right_contour": [vertex, ...], "left_contour": [...]}}``, the vertices
  along the face's outline on each side, among which eos picks a jaw point's vertex
  for each pose (``facejax.fitting.contour``).

"Right" is the subject's right (eos and iBUG agree: iBUG points 1-8 are the subject's right).
"""

from __future__ import annotations

import json
import os
import tomllib
from typing import NamedTuple

import numpy as np

MAPPING_TABLE = "landmark_mappings"
CONTOUR_TABLE = "contour_landmarks"
# iBUG 68 (0-based) jaw contour of each side when the mapping file does not say: 1-8 and 10-17.
IBUG_RIGHT_CONTOUR = tuple(range(0, 8))
IBUG_LEFT_CONTOUR = tuple(range(9, 17))


class LandmarkMapping(NamedTuple):
    """An eos landmark mapping, 0-based on both sides.

    Attributes:
      vertices: ``[N]`` int64 model vertex of each landmark, ``-1`` where the file maps none.
      right_contour: 0-based landmark indices of the subject's right jaw contour.
      left_contour: the same on the left.
    """

    vertices: np.ndarray
    right_contour: tuple[int, ...]
    left_contour: tuple[int, ...]

    @property
    def defined(self) -> np.ndarray:
        """``[N]`` bool: the landmarks the file maps to a vertex (fit the others at weight 0)."""
        return self.vertices >= 0


def is_landmark_mapping(path) -> bool:
    """Whether a text file is an eos TOML mapping (it has a ``[landmark_mappings]`` table)."""
    path = os.fspath(path)
    if path.lower().endswith(".npy"):
        return False
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(1 << 20)
    except (OSError, UnicodeDecodeError):
        return False
    return f"[{MAPPING_TABLE}]" in text


def _landmark_number(path, key, num_points: int, where: str) -> int:
    try:
        number = int(str(key).strip())
    except ValueError as err:
        raise ValueError(
            f"{path}: [{where}] '{key}' is not an iBUG landmark number (1 to {num_points})"
        ) from err
    if not 1 <= number <= num_points:
        raise ValueError(f"{path}: [{where}] landmark {number} is outside 1 to {num_points}")
    return number - 1


def read_landmark_mapping(path, num_points: int = 68) -> LandmarkMapping:
    """Reads an eos landmark mapping file (module docstring).

    Args:
      path: the TOML file.
      num_points: how many landmarks the scheme has (68 for iBUG).

    Returns:
      The :class:`LandmarkMapping`; without a ``[contour_landmarks]`` table the contour is the
      iBUG jaw (points 1-8 right, 10-17 left).

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: naming the file, for invalid TOML, a missing table, a key that is not a
        landmark number, or a value that is not a non-negative integer vertex id.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"landmark mapping file not found: {path}")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not a valid eos landmark mapping (TOML: {err})") from err
    table = data.get(MAPPING_TABLE)
    if not isinstance(table, dict):
        raise ValueError(f"{path}: no [{MAPPING_TABLE}] table (tables: {sorted(data)})")
    vertices = np.full(num_points, -1, np.int64)
    for key, value in table.items():
        index = _landmark_number(path, key, num_points, MAPPING_TABLE)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(
                f"{path}: landmark {index + 1} maps to {value!r}; a vertex id is an integer >= 0"
            )
        vertices[index] = value

    contour = data.get(CONTOUR_TABLE, {})
    sides = []
    for side, default in (("right", IBUG_RIGHT_CONTOUR), ("left", IBUG_LEFT_CONTOUR)):
        numbers = contour.get(side)
        if numbers is None:
            sides.append(default)
            continue
        if not isinstance(numbers, list):
            raise ValueError(f"{path}: [{CONTOUR_TABLE}] {side} must be a list")
        sides.append(tuple(_landmark_number(path, n, num_points, CONTOUR_TABLE) for n in numbers))
    return LandmarkMapping(vertices=vertices, right_contour=sides[0], left_contour=sides[1])


def mapped_vertices(mapping: LandmarkMapping) -> np.ndarray:
    """``[N]`` vertex ids with every unmapped landmark given its nearest mapped neighbour's vertex.

    A :class:`~facejax.morphable.MorphableModel` has a place for every landmark; the stand-in
    keeps an unmapped one on the face (near where it belongs in the iBUG numbering) but it is
    not a correspondence: fit it at weight 0 (``mapping.defined``), or let the contour slide
    it (``facejax.fitting.contour``).

    Raises:
      ValueError: if the mapping maps no landmark at all.
    """
    defined = np.flatnonzero(mapping.defined)
    if defined.size == 0:
        raise ValueError("the landmark mapping maps no landmark to a vertex")
    index = np.arange(mapping.vertices.size)
    nearest = defined[np.argmin(np.abs(index[:, None] - defined[None, :]), axis=1)]
    return mapping.vertices[nearest]


def read_model_contour(path) -> tuple[np.ndarray, np.ndarray]:
    """Reads an eos model contour file: ``(right [M] int64, left [M'] int64)`` vertex ids.

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: naming the file, for invalid JSON, a missing ``model_contour`` entry or a
        vertex id that is not an integer >= 0.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model contour file not found: {path}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a valid eos model contour file (JSON: {err})") from err
    contour = data.get("model_contour") if isinstance(data, dict) else None
    if not isinstance(contour, dict):
        raise ValueError(f"{path}: no 'model_contour' object")
    sides = []
    for side in ("right_contour", "left_contour"):
        values = contour.get(side)
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values)
        ):
            raise ValueError(f"{path}: model_contour.{side} must be a non-empty list of vertex ids")
        sides.append(np.asarray(values, np.int64))
    return sides[0], sides[1]
