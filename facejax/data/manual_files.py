"""A user's local copy of a dataset (tfds ``manual_dir``): its layout, its files, what was skipped.

Real face datasets cannot be downloaded by facejax; their builders read a folder the user already
has. Three things are shared by every builder:

* :func:`check_layout` looks for every folder and file a builder needs *before* generating
  anything and raises one :class:`MissingFilesError` listing all that is missing, each with the
  full path it looked at.
* The readers (:func:`read_rgb_image`, :func:`read_face_landmarks`, :func:`read_box_file`) turn
  a corrupt or incomplete file into a :class:`BadExampleError`; a builder skips that example and
  records it in a :class:`SkipLog`, which warns with the count and the first few paths and writes
  them into the dataset's metadata (``info.metadata["skipped"][split]``).
* Side files beside an image (:func:`side_files`): landmarks ``<stem>.pts`` / ``<stem>.npy`` /
  ``<stem>.json`` (68 iBUG points or 5 points, read by :func:`facejax.formats.read_landmarks`)
  and boxes ``<stem>.box.txt`` / ``<stem>.box.json`` (``x_min y_min x_max y_max`` in pixels,
  facejax convention).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable

import numpy as np
from PIL import Image

from facejax.formats import ImageFileError, open_rgb_image, read_landmarks

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
LANDMARK_EXTENSIONS = (".pts", ".npy", ".json")
BOX_SUFFIXES = (".box.txt", ".box.json")
# How many skipped or missing paths an error, warning or metadata entry lists.
LISTED_PATHS = 10

_log = logging.getLogger(__name__)


class MissingFilesError(FileNotFoundError):
    """A manual_dir lacks folders or files a builder needs; ``missing`` lists their paths."""

    def __init__(self, dataset: str, root, missing: list[str], instructions: str = ""):
        self.dataset, self.root, self.missing = dataset, os.fspath(root), list(missing)
        shown = "\n".join(f"  missing: {path}" for path in self.missing[:LISTED_PATHS])
        more = len(self.missing) - LISTED_PATHS
        if more > 0:
            shown += f"\n  ... and {more} more"
        hint = f"\nExpected layout:\n{instructions.strip()}" if instructions else ""
        super().__init__(
            f"{dataset}: the manual_dir {self.root} does not have the layout this builder reads "
            f"({len(self.missing)} missing):\n{shown}{hint}"
        )


class BadExampleError(ValueError):
    """One example's file is corrupt or incomplete: the builder skips it and reports it."""


def check_layout(
    dataset: str,
    root,
    *,
    folders: Iterable[str] = (),
    files: Iterable[str] = (),
    instructions: str = "",
    extra_missing: Iterable[str] = (),
) -> None:
    """Raises :class:`MissingFilesError` unless every listed folder and file exists.

    Args:
      dataset: the builder's name, for the message.
      root: the manual_dir.
      folders: folder paths relative to ``root``.
      files: file paths relative to ``root``.
      instructions: the builder's ``MANUAL_DOWNLOAD_INSTRUCTIONS``, quoted in the error.
      extra_missing: paths the caller already found missing (e.g. files named in an index).
    """
    root = os.fspath(root)
    missing = [
        os.path.join(root, name) + os.sep
        for name in folders
        if not os.path.isdir(os.path.join(root, name))
    ]
    missing += [
        os.path.join(root, name) for name in files if not os.path.isfile(os.path.join(root, name))
    ]
    missing += list(extra_missing)
    if missing:
        raise MissingFilesError(dataset, root, missing, instructions)


def manual_root(dl_manager, dataset: str, instructions: str = "") -> str:
    """The manual_dir of a tfds download manager, or a :class:`MissingFilesError` naming it."""
    try:
        return os.fspath(dl_manager.manual_dir)
    except AssertionError as err:  # tfds asserts that the folder exists and is not empty
        # tfds keeps the configured path privately; fall back to a placeholder without it.
        path = getattr(dl_manager, "_manual_dir", None)
        path = "<manual_dir not set>" if path is None else os.fspath(path)
        raise MissingFilesError(
            dataset, path, [path + os.sep + " (does not exist or is empty)"], instructions
        ) from err


class SkipLog:
    """Records the examples a split skipped, then warns and writes them into the metadata."""

    def __init__(self, dataset: str, split: str):
        self.dataset, self.split = dataset, split
        self.entries: list[tuple[str, str]] = []

    def add(self, path, reason) -> None:
        """Records that the example read from ``path`` was skipped, and why."""
        self.entries.append((os.fspath(path), str(reason)))

    def __len__(self) -> int:
        return len(self.entries)

    def summary(self) -> dict:
        """``{"count": n, "first": [{"path": ..., "reason": ...}, ...]}`` (at most 10 listed)."""
        return {
            "count": len(self.entries),
            "first": [{"path": p, "reason": r} for p, r in self.entries[:LISTED_PATHS]],
        }

    def finish(self, metadata) -> dict:
        """Warns about skipped examples and stores the summary in ``metadata["skipped"]``.

        Args:
          metadata: the builder's ``info.metadata`` (a dict-like), updated in place.

        Returns:
          The summary.
        """
        summary = self.summary()
        if self.entries:
            listed = "; ".join(f"{p} ({r})" for p, r in self.entries[:LISTED_PATHS])
            _log.warning(
                "%s/%s: skipped %d example(s): %s", self.dataset, self.split, len(self), listed
            )
        skipped = dict(metadata.get("skipped", {}))
        skipped[self.split] = summary
        metadata["skipped"] = skipped
        return summary


def dataset_root(manual_dir, folder: str) -> str:
    """``manual_dir/folder`` when the user extracted the archive's top folder into manual_dir,
    else ``manual_dir`` itself (the user pointed manual_dir at that folder)."""
    inner = os.path.join(os.fspath(manual_dir), folder)
    return inner if os.path.isdir(inner) else os.fspath(manual_dir)


def natural_key(name: str) -> tuple:
    """Sort key ordering embedded numbers by value: ``frame2`` before ``frame10``."""
    parts = re.split(r"(\d+)", name)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def list_images(folder) -> list[str]:
    """Image file names in ``folder`` (extensions ``IMAGE_EXTENSIONS``), naturally sorted."""
    names = [n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS)]
    return sorted((n for n in names if os.path.isfile(os.path.join(folder, n))), key=natural_key)


def list_folders(folder) -> list[str]:
    """Sub-folder names of ``folder``, sorted (plain string order, stable across systems)."""
    return sorted(n for n in os.listdir(folder) if os.path.isdir(os.path.join(folder, n)))


def side_files(image_name: str, names: Iterable[str]) -> tuple[str | None, str | None]:
    """The landmark and box files beside an image, among the names of its folder.

    Args:
      image_name: the image file name.
      names: the file names of the folder (listed once by the caller).

    Returns:
      ``(landmark_name, box_name)``, each ``None`` when absent. Landmarks are looked for as
      ``<stem>.pts``, ``<stem>.npy``, ``<stem>.json`` (first found), boxes as
      ``<stem>.box.txt``, ``<stem>.box.json``.
    """
    names = names if isinstance(names, set | frozenset) else set(names)
    stem = os.path.splitext(image_name)[0]
    landmarks = next((stem + e for e in LANDMARK_EXTENSIONS if stem + e in names), None)
    box = next((stem + s for s in BOX_SUFFIXES if stem + s in names), None)
    return landmarks, box


def read_rgb_image(path) -> Image.Image:
    """Reads an image as a fully decoded RGB Pillow image (``facejax.formats.open_rgb_image``).

    The image is used as stored: EXIF orientation is not applied (the boxes and landmarks the
    datasets ship refer to the stored pixels).

    Raises:
      BadExampleError: naming the file if it is missing, truncated or not an image.
    """
    try:
        return open_rgb_image(path)
    except (OSError, ImageFileError) as err:
        raise BadExampleError(str(err)) from err


def read_face_landmarks(
    path, num_points: tuple[int, ...] = (68, 5), *, field: str | None = None, depth: bool = False
) -> np.ndarray:
    """Reads a landmark file (``.pts``, ``.npy``, ``.json``, ``.mat``) into facejax coordinates.

    Args:
      path: the file; see :func:`facejax.formats.read_landmarks` for formats and conventions.
      num_points: accepted point counts.
      field: the variable of a ``.mat`` file (default: the first landmark variable found).
      depth: keep a third (depth) column; the file must have one.

    Returns:
      ``[N, 2]`` float64 (x, y) landmarks (``[N, 3]`` with ``depth``), N in ``num_points``.

    Raises:
      BadExampleError: naming the file for a wrong count, a NaN or missing point, or a malformed
      file.
    """
    try:
        points = read_landmarks(path, num_points=None, field=field)
    except (ValueError, OSError) as err:
        raise BadExampleError(str(err)) from err
    if points.shape[0] not in num_points:
        raise BadExampleError(
            f"{os.fspath(path)}: {points.shape[0]} landmarks, expected one of {list(num_points)}"
        )
    if depth and points.shape[1] != 3:
        raise BadExampleError(f"{os.fspath(path)}: landmarks have no depth column")
    return points if depth else points[:, :2]


def read_box_file(path) -> np.ndarray:
    """Reads a face box ``(x_min, y_min, x_max, y_max)`` in pixels (facejax convention).

    ``.box.txt``: four numbers separated by spaces or commas. ``.box.json``: ``[x0, y0, x1, y1]``
    or ``{"box": [x0, y0, x1, y1]}``.

    Raises:
      BadExampleError: naming the file if it does not hold a non-empty box.
    """
    path = os.fspath(path)
    try:
        with open(path) as f:
            text = f.read()
        if path.endswith(".json"):
            data = json.loads(text)
            data = data["box"] if isinstance(data, dict) else data
            box = np.asarray(data, dtype=np.float64).reshape(-1)
        else:
            box = np.asarray([float(v) for v in text.replace(",", " ").split()])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BadExampleError(f"{path}: unreadable box file ({err})") from err
    if box.shape != (4,) or not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise BadExampleError(f"{path}: need x_min y_min x_max y_max with max > min, got {box}")
    return box
