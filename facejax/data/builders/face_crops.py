"""How a face in a source image becomes a stored crop: the crop options and the crop itself.

Every real-dataset builder config derives from :class:`FaceCropConfig`. A face is cropped from
what the dataset gives, in this order of preference:

1. **landmarks** (68 iBUG points, or 5 points ordered as ``facejax.data.crop.FIVE_POINT_NAMES``):
   ``alignment="template"`` warps them onto the ArcFace 5-point template (rotates the face
   upright); ``alignment="box"`` takes the square around their bounding box enlarged by
   ``landmark_box_enlarge`` (no rotation);
2. a **box** (detector box, dataset annotation or box file): the square around it enlarged by
   ``box_enlarge``;
3. a builder's documented fallback box (e.g. LFW's central detection region).

The stored landmarks are moved with the crop (``crop_transform``, see ``facejax.data.crop``).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data import features
from facejax.data.manual_files import (
    BadExampleError,
    read_box_file,
    read_face_landmarks,
    side_files,
)

ALIGNMENTS = ("template", "box")


@dataclasses.dataclass(eq=False)
class FaceCropConfig(tfds.core.BuilderConfig):
    """Crop options shared by the real-dataset builders.

    Attributes:
      crop_size: side of the stored square crops, pixels.
      alignment: with landmarks, ``"template"`` (similarity to the ArcFace 5-point template;
        rotates) or ``"box"`` (square around the landmarks' bounding box; never rotates).
      margin: template framing; ``1.0`` is ArcFace's tight crop, ``1.5`` shows 1.5x more.
      box_enlarge: square side / max(box width, height) for dataset boxes.
      landmark_box_enlarge: the same for the bounding box of the landmarks.
    """

    crop_size: int = 112
    alignment: str = "template"
    margin: float = 1.25
    box_enlarge: float = 1.3
    landmark_box_enlarge: float = 1.5

    def __post_init__(self):
        if self.alignment not in ALIGNMENTS:
            raise ValueError(
                f"{self.name}: alignment must be one of {ALIGNMENTS}, got {self.alignment!r}"
            )
        if self.crop_size < 8:
            raise ValueError(f"{self.name}: crop_size must be >= 8, got {self.crop_size}")
        for field in ("margin", "box_enlarge", "landmark_box_enlarge"):
            if not getattr(self, field) > 0:
                raise ValueError(f"{self.name}: {field} must be > 0, got {getattr(self, field)}")

    def crop_metadata(self) -> dict:
        """The crop options, as stored in ``info.metadata["crop"]``."""
        return {
            "crop_size": self.crop_size,
            "alignment": self.alignment,
            "margin": self.margin,
            "box_enlarge": self.box_enlarge,
            "landmark_box_enlarge": self.landmark_box_enlarge,
            "template": "arcface_112_5point",
        }


def crop_transform_for(
    config: FaceCropConfig, *, landmarks=None, box=None, box_enlarge: float | None = None
) -> np.ndarray:
    """The ``[2, 3]`` crop transform for a face, from its landmarks or else its box.

    Raises:
      BadExampleError: degenerate landmarks or box (all points equal, empty box).
      ValueError: neither landmarks nor a box given.
    """
    try:
        if landmarks is not None:
            if config.alignment == "template":
                return crops.template_transform(landmarks, config.crop_size, config.margin)
            return crops.box_transform(
                crops.landmark_box(landmarks), config.crop_size, config.landmark_box_enlarge
            )
        if box is not None:
            enlarge = config.box_enlarge if box_enlarge is None else box_enlarge
            return crops.box_transform(box, config.crop_size, enlarge)
    except ValueError as err:
        raise BadExampleError(f"cannot place the crop: {err}") from err
    raise ValueError("crop_transform_for: need landmarks or a box")


def crop_face(
    image, config: FaceCropConfig, *, landmarks=None, box=None, box_enlarge: float | None = None
) -> dict:
    """Crops one face and moves its landmarks into the crop.

    Args:
      image: Pillow RGB image (or ``[H, W, 3]`` uint8).
      config: the crop options.
      landmarks: optional ``[68, 2]`` or ``[5, 2]`` points in image pixels; 68 points are also
        stored (moved into the crop), 5 points only place the crop.
      box: optional ``(x_min, y_min, x_max, y_max)``, used when there are no landmarks.
      box_enlarge: overrides ``config.box_enlarge`` for this box.

    Returns:
      ``{"image", "crop_transform", "landmarks", "has_landmarks"}`` as in
      ``facejax.data.features.face_image_features``.
    """
    transform = crop_transform_for(config, landmarks=landmarks, box=box, box_enlarge=box_enlarge)
    has_68 = landmarks is not None and np.shape(landmarks)[0] == features.NUM_LANDMARKS
    moved = (
        crops.apply_transform(transform, np.asarray(landmarks)[:, :2]).astype(np.float32)
        if has_68
        else features.empty_landmarks()
    )
    return {
        "image": crops.warp_image(image, transform, config.crop_size),
        "crop_transform": transform.astype(np.float32),
        "landmarks": moved,
        "has_landmarks": np.bool_(has_68),
    }


def crop_with_side_files(
    image,
    config: FaceCropConfig,
    folder,
    image_name: str,
    names,
    *,
    fallback_box=None,
    fallback_enlarge: float | None = None,
) -> dict:
    """Crops a face from the landmark or box file beside its image, else from a fallback box.

    Args:
      image: the Pillow image read from ``folder/image_name``.
      config: crop options.
      folder: the image's folder.
      image_name: the image's file name.
      names: the file names in ``folder`` (listed once by the caller).
      fallback_box: the box to use without side files (``None``: such an image is skipped).
      fallback_enlarge: ``box_enlarge`` for the fallback box (default the config's).

    Returns:
      :func:`crop_face`'s features.

    Raises:
      BadExampleError: a broken side file, or neither side files nor a fallback box.
    """
    landmark_name, box_name = side_files(image_name, names)
    if landmark_name is not None:
        landmarks = read_face_landmarks(os.path.join(folder, landmark_name))
        return crop_face(image, config, landmarks=landmarks)
    if box_name is not None:
        return crop_face(image, config, box=read_box_file(os.path.join(folder, box_name)))
    if fallback_box is None:
        raise BadExampleError(f"{os.path.join(folder, image_name)}: no landmark or box file")
    return crop_face(image, config, box=fallback_box, box_enlarge=fallback_enlarge)


def stack_frames(frames: list[dict]) -> dict:
    """Stacks per-frame :func:`crop_face` results into the clip features.

    Returns:
      ``{"frames" [T, S, S, 3], "crop_transforms" [T, 2, 3], "landmarks" [T, 68, 2],
      "has_landmarks" [T]}``.
    """
    return {
        "frames": np.stack([f["image"] for f in frames]),
        "crop_transforms": np.stack([f["crop_transform"] for f in frames]),
        "landmarks": np.stack([f["landmarks"] for f in frames]),
        "has_landmarks": np.asarray([f["has_landmarks"] for f in frames], dtype=np.bool_),
    }


def select_frames(count: int, max_frames: int | None) -> np.ndarray:
    """Indices of at most ``max_frames`` evenly spaced frames out of ``count`` (first and last
    included); all of them when ``max_frames`` is ``None`` or not smaller than ``count``."""
    if max_frames is None or count <= max_frames:
        return np.arange(count)
    return np.unique(np.round(np.linspace(0, count - 1, max_frames)).astype(np.int64))
