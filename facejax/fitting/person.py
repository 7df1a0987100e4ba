"""One person's photos fitted end to end: cameras from the image sizes, the joint landmark fit,
then (optionally) the photometric refinement on the pixels.

``facejax fit`` and the fitted-targets dataset builder both fit through :func:`fit_person`, so
the camera a photo gets and the order of the stages are the same in both.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax.numpy as jnp
import numpy as np

from facejax.fitting.config import FitConfig, PhotometricConfig
from facejax.fitting.contour import ContourCandidates
from facejax.fitting.initialize import image_cameras
from facejax.fitting.joint import fit_joint
from facejax.fitting.photometric import refine_photometric
from facejax.fitting.result import FitResult
from facejax.morphable.model import MorphableModel

Array = Any


class PersonImage(NamedTuple):
    """One photo to fit and where it came from.

    Attributes:
      path: the image file.
      landmarks_path: the landmark file (``None`` when the landmarks were detected).
      image: ``[H, W, 3]`` uint8 RGB.
      landmarks: ``[L, 2]`` pixels.
    """

    path: str
    landmarks_path: str | None
    image: np.ndarray
    landmarks: np.ndarray


# Landmarks may leave the image a little (a chin cut by the frame); this much of each side.
LANDMARK_MARGIN = 0.1


def check_landmarks_in_image(name, landmarks, height: int, width: int) -> None:
    """Raises a ValueError naming ``name`` when fewer than half of the ``[N, 2]`` landmarks lie
    in the ``height x width`` image grown by :data:`LANDMARK_MARGIN` of its size on each side:
    the landmarks belong to another image (or another resolution of it), and a fit to them would
    give a confident, meaningless pose."""
    points = np.asarray(landmarks, np.float64)
    x, y = points[:, 0], points[:, 1]
    mx, my = LANDMARK_MARGIN * width, LANDMARK_MARGIN * height
    inside = (x >= -mx) & (x <= width + mx) & (y >= -my) & (y <= height + my)
    if inside.mean() < 0.5:
        raise ValueError(
            f"{name}: {int((~inside).sum())} of {len(points)} landmarks lie outside the "
            f"{width}x{height} image (x in [{x.min():.0f}, {x.max():.0f}], y in "
            f"[{y.min():.0f}, {y.max():.0f}]); landmarks of another image or resolution?"
        )


def read_person_image(
    image_path: str, landmarks_path: str | None, num_points: int, detector: str = "dlib"
) -> PersonImage:
    """Reads one photo and its landmarks (from ``landmarks_path``, or found by the optional
    detector when it is ``None``: ``detector`` is ``"dlib"`` or ``"mediapipe"``,
    ``facejax.face_detection.detect_landmarks``) into a :class:`PersonImage`.

    Raises:
      FileNotFoundError, ValueError: naming the file (unreadable image, landmark file of the
        wrong count, landmarks that mostly lie outside the image (:func:`check_landmarks_in_image`),
        no face found, a detector giving another count than the model's).
      ImportError: ``landmarks_path`` is ``None`` and the ``detect`` extra is not installed.
    """
    from facejax.formats import read_image, read_landmarks

    image = read_image(image_path)
    if landmarks_path is not None:
        landmarks = read_landmarks(landmarks_path, num_points=num_points)[:, :2]
        check_landmarks_in_image(landmarks_path, landmarks, image.shape[0], image.shape[1])
        return PersonImage(image_path, landmarks_path, image, landmarks)
    from facejax.face_detection import detect_landmarks

    try:
        landmarks = detect_landmarks(image, detector=detector)
    except ValueError as err:
        raise ValueError(f"{image_path}: {err}") from err
    if num_points != landmarks.shape[0]:
        raise ValueError(f"{image_path}: the detector gives 68 points, the model has {num_points}")
    return PersonImage(image_path, None, image, landmarks)


def fit_person(
    model: MorphableModel,
    landmarks,
    image_sizes,
    *,
    weights=None,
    focal=None,
    config: FitConfig | None = None,
    images=None,
    photometric: PhotometricConfig | None = None,
    contour: ContourCandidates | None = None,
) -> FitResult:
    """Fits one identity to a person's images (or to each of several persons' images).

    Each image gets the camera of :func:`facejax.fitting.image_camera` for its size; the
    landmarks are fitted jointly (:func:`facejax.fitting.fit_joint`), then, with
    ``photometric``, the fit is refined on the pixels
    (:func:`facejax.fitting.refine_photometric`).

    Args:
      model: a morphable model with a landmark definition.
      landmarks: ``[N, L, 2]`` one person's images, or ``[P, N, L, 2]`` (pad persons with
        fewer images with weight-0 images), pixels of each image.
      image_sizes: ``[N, 2]`` / ``[P, N, 2]`` ``(height, width)`` of the images, pixels.
      weights: ``[N, L]`` / ``[P, N, L]`` landmark weights, or ``None`` for ones.
      focal: focal length in pixels for every image (``None``: 1015/224 x the longer side).
      config: the landmark fit's options.
      images: the ``N`` images ``[H, W, 3]`` (uint8 or float in ``[0, 1]``), needed only with
        ``photometric``.
      photometric: refine on the pixels with these options (one person only); ``None`` stops
        after the landmark fit.
      contour: sliding contour landmarks for the landmark fit (:func:`fit_joint`).

    Returns:
      The :class:`facejax.fitting.FitResult`, leading dims ``[N]`` or ``[P, N]``.
    """
    camera = image_cameras(image_sizes, focal)
    result = fit_joint(model, landmarks, weights, camera=camera, config=config, contour=contour)
    if photometric is None:
        return result
    if images is None or jnp.ndim(landmarks) != 3:
        raise ValueError("fit_person: a photometric refinement needs one person's [N] images")
    if contour is not None:
        # The refinement's landmark term uses fixed vertices: the jaw points of a turned face
        # would pull it off the outline the landmark fit found; the pixels hold the outline.
        weights = jnp.ones(jnp.shape(landmarks)[:-1]) if weights is None else jnp.asarray(weights)
        weights = weights.at[..., jnp.asarray(contour.landmarks)].set(0.0)
    return refine_photometric(model, result.params, images, landmarks, weights, config=photometric)
