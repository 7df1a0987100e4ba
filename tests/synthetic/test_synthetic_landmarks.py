"""The 68 iBUG landmarks of the synthetic face sit at their anatomical places, in iBUG order."""

import numpy as np
import pytest

from facejax.synthetic import ibug_mirror_permutation, synthetic_model
from facejax.synthetic.landmarks import MIDLINE, MIRROR_PAIRS, landmark_positions

MIRROR_ATOL_MM = 0.05  # landmark pairs mirror each other up to float32 barycentrics
MIDLINE_ATOL_MM = 0.05


@pytest.fixture(scope="module", params=("small", "default"))
def points(request):
    m = synthetic_model(request.param)
    return landmark_positions(
        np.asarray(m.mean_shape, np.float64),
        np.asarray(m.triangles),
        np.asarray(m.landmark_triangles),
        np.asarray(m.landmark_barycentric, np.float64),
    )


def test_landmark_definition_is_valid():
    m = synthetic_model("small")
    assert m.num_landmarks == 68
    assert m.landmark_triangles.dtype == np.int32
    bary = np.asarray(m.landmark_barycentric)
    assert np.all(bary >= 0.0) and np.allclose(bary.sum(axis=1), 1.0)


def test_right_side_landmarks_have_negative_x(points):
    """iBUG's "right" is the subject's right: negative x, the left of a frontal image."""
    for right, left in MIRROR_PAIRS:
        assert points[right, 0] < -1.0 < 1.0 < points[left, 0], (right, left)
    np.testing.assert_allclose(points[list(MIDLINE), 0], 0.0, atol=MIDLINE_ATOL_MM)


def test_pairs_mirror_each_other(points):
    perm = ibug_mirror_permutation()
    assert sorted(perm) == list(range(68)) and np.all(perm[perm] == np.arange(68))
    mirrored = points[perm] * np.array([-1.0, 1.0, 1.0])
    np.testing.assert_allclose(mirrored, points, atol=MIRROR_ATOL_MM)


def test_vertical_order_of_the_face(points):
    y = points[:, 1]
    brows, eyes, tip = y[17:27].mean(), y[36:48].mean(), y[30]
    mouth, chin = y[48:68].mean(), y[8]
    assert brows > eyes + 10.0 > tip + 10.0 > mouth + 10.0 > chin + 10.0
    assert np.all(np.diff(y[27:31]) < 0.0)  # bridge runs down to the tip
    assert y[8] == y.min()  # the chin is the lowest landmark
    # Jaw outline: down from the ear level to the chin, then back up; the sides of the face are
    # nearly vertical (0-3), then the jaw comes in to the chin.
    x = points[:, 0]
    assert np.all(np.diff(y[0:9]) < 0.0) and np.all(np.diff(y[8:17]) > 0.0)
    assert np.all(np.diff(x[3:9]) > 0.0) and np.all(np.diff(x[8:14]) > 0.0)
    assert np.all((x[0:4] > -62.0) & (x[0:4] < -45.0))  # cheeks: a face 90-125 mm wide
    assert y[0] > y[30] > y[4]  # the outline starts above the nose tip, passes by the mouth


def test_eyes_brows_nose_and_mouth_shapes(points):
    x, y, z = points.T
    # Eye order: right eye from the outer corner (most negative x) inwards, left eye outwards.
    assert x[36] < x[37] < x[38] < x[39] and x[39] > x[40] > x[41] > x[36]
    assert x[42] < x[43] < x[44] < x[45] and x[45] > x[46] > x[47] > x[42]
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        assert 6.0 < y[upper] - y[lower] < 13.0  # an open eye, about 10 mm
    assert 26.0 < x[45] - x[42] < 33.0  # eye width
    assert 28.0 < x[42] - x[39] < 40.0  # the inner corners are an eye-width apart
    assert np.all(np.diff(x[17:22]) > 0.0) and np.all(np.diff(x[22:27]) > 0.0)
    assert np.all(y[17:27] > y[36:48].max())
    assert np.all(np.diff(x[31:36]) > 0.0) and y[33] <= y[31:36].min() + 0.5
    assert np.argmax(z) == 30  # the nose tip stands out the most
    assert 45.0 < x[54] - x[48] < 56.0  # mouth width
    assert y[51] > y[62] and y[66] > y[57]  # vermilion borders around the lip line
    np.testing.assert_allclose(points[62], points[66], atol=1e-4)  # closed mouth at rest
    assert x[48] < x[60] < x[64] < x[54]  # outer corners just outside the inner ones
    assert np.all(np.abs(y[60:68] - y[62]) < 0.5)  # the inner lip contour is the lip line
