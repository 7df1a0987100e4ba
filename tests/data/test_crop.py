"""Face crops: template and box transforms, inverses, Pillow warping and cameras in the crop."""

import math

import numpy as np
import pytest

from facejax.data import crop

ATOL_F64 = 1e-9  # closed-form float64 transforms
ATOL_WARP = 0.05  # centroid of a warped blob, pixels (bilinear sampling of a smooth blob)


def _similarity(scale, angle, translation):
    c, s = math.cos(angle), math.sin(angle)
    return np.array(
        [[scale * c, -scale * s, translation[0]], [scale * s, scale * c, translation[1]]]
    )


def _least_squares_similarity(source, target):
    """Reference: a, b, tx, ty minimising |[[a, -b], [b, a]] p + t - q|^2, a linear problem."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(source, target, strict=True):
        rows += [[x, -y, 1, 0], [y, x, 0, 1]]
        rhs += [u, v]
    a, b, tx, ty = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    return np.array([[a, -b, tx], [b, a, ty]])


def test_five_points_from_68_takes_eye_centres_nose_and_mouth_corners():
    landmarks = np.random.default_rng(0).normal(size=(68, 2))
    five = crop.five_points_from_68(landmarks)
    np.testing.assert_allclose(five[0], landmarks[36:42].mean(axis=0), atol=ATOL_F64)
    np.testing.assert_allclose(five[1], landmarks[42:48].mean(axis=0), atol=ATOL_F64)
    np.testing.assert_array_equal(five[2:], landmarks[[30, 48, 54]])


def test_template_transform_puts_five_points_and_68_landmarks_on_the_template():
    target = crop.template_points(64, margin=1.2)
    # Image points: the template moved by a known similarity (the inverse of the expected crop).
    expected = _similarity(0.4, -0.7, (5.0, -3.0))
    image_points = crop.apply_transform(crop.invert_transform(expected), target)
    transform = crop.template_transform(image_points, 64, margin=1.2)
    np.testing.assert_allclose(transform, expected, atol=ATOL_F64)
    np.testing.assert_allclose(crop.apply_transform(transform, image_points), target, atol=ATOL_F64)

    landmarks = np.random.default_rng(1).uniform(0, 200, size=(68, 2))
    landmarks[36:42] = image_points[0]
    landmarks[42:48] = image_points[1]
    landmarks[[30, 48, 54]] = image_points[2:]
    transform68 = crop.template_transform(landmarks, 64, margin=1.2)
    np.testing.assert_allclose(transform68, expected, atol=ATOL_F64)


def test_template_points_scale_arcface_and_shrink_about_the_centre():
    np.testing.assert_allclose(crop.template_points(112), crop.ARCFACE_TEMPLATE_112, atol=ATOL_F64)
    np.testing.assert_allclose(
        crop.template_points(224, margin=2.0), 56 + crop.ARCFACE_TEMPLATE_112, atol=ATOL_F64
    )


def test_similarity_matches_the_linear_least_squares_reference():
    rng = np.random.default_rng(2)
    source = rng.normal(size=(9, 2)) * 30
    target = crop.apply_transform(_similarity(1.7, 2.5, (10, 20)), source)
    target += rng.normal(size=target.shape)  # not an exact fit
    np.testing.assert_allclose(
        crop.similarity_transform_2d(source, target),
        _least_squares_similarity(source, target),
        atol=ATOL_F64,
    )


def test_similarity_never_reflects():
    rng = np.random.default_rng(5)
    source = rng.normal(size=(7, 2))
    mirrored = source * np.array([-1.0, 1.0]) + 0.3 * rng.normal(size=(7, 2))
    transform = crop.similarity_transform_2d(source, mirrored)
    assert np.linalg.det(transform[:, :2]) > 0
    np.testing.assert_allclose(
        transform, _least_squares_similarity(source, mirrored), atol=ATOL_F64
    )
    square = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(ValueError, match="without reflection"):
        crop.similarity_transform_2d(square, square * np.array([-1.0, 1.0]))


def test_inverse_round_trips_points_and_transforms():
    transform = _similarity(2.3, 0.3, (-4.0, 7.5))
    inverse = crop.invert_transform(transform)
    points = np.random.default_rng(3).normal(size=(5, 2)) * 50
    np.testing.assert_allclose(
        crop.apply_transform(inverse, crop.apply_transform(transform, points)),
        points,
        atol=ATOL_F64,
    )
    np.testing.assert_allclose(crop.invert_transform(inverse), transform, atol=ATOL_F64)
    scale, angle = crop.transform_scale_angle(transform)
    assert math.isclose(scale, 2.3) and math.isclose(angle, 0.3)


def test_box_crop_of_a_known_rectangle():
    image = np.full((40, 40, 3), 20, dtype=np.uint8)
    image[15:25, 10:30] = (200, 100, 50)  # rows 15-24, columns 10-29: box (10, 15, 30, 25)
    box = (10.0, 15.0, 30.0, 25.0)
    for size in (20, 40):  # scale 1 (pixel copy) and 2
        transform = crop.box_transform(box, size, enlarge=1.0)
        np.testing.assert_allclose(
            crop.apply_transform(transform, [[10.0, 15.0], [30.0, 25.0]]),
            [[0.0, size / 4], [size, 3 * size / 4]],
            atol=ATOL_F64,
        )
        out = crop.warp_image(image, transform, size)
        quarter = size // 4
        inside = out[quarter + 1 : 3 * quarter - 1, 1:-1]
        assert np.all(inside == (200, 100, 50))
        assert np.all(out[: quarter - 1] == 20) and np.all(out[3 * quarter + 1 :] == 20)


def test_warp_moves_image_content_where_the_transform_moves_points():
    yy, xx = np.mgrid[0:60, 0:80] + 0.5  # pixel centres
    centre = np.array([47.3, 21.8])
    blob = np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / (2 * 3.0**2))
    image = np.repeat((blob * 255).round().astype(np.uint8)[..., None], 3, axis=2)
    transform = _similarity(1.5, 0.6, (-10.0, -35.0))
    out = crop.warp_image(image, transform, 64).astype(np.float64)[..., 0]
    cy, cx = np.mgrid[0:64, 0:64] + 0.5
    found = np.array([(out * cx).sum(), (out * cy).sum()]) / out.sum()
    np.testing.assert_allclose(found, crop.apply_transform(transform, centre), atol=ATOL_WARP)


def test_strong_downscaling_is_antialiased():
    stripes = np.tile(((np.arange(128) % 2) * 255).astype(np.uint8), (128, 1))
    image = np.repeat(stripes[..., None], 3, axis=2)
    # A quarter pixel off the grid: every plain bilinear sample weighs one stripe colour 3:1.
    transform = crop.box_transform((0.25, 0.0, 128.25, 128.0), 16)
    smooth = crop.warp_image(image, transform, 16).astype(np.float64)[1:-1, 1:-1]
    aliased = crop.warp_image(image, transform, 16, antialias=False).astype(np.float64)[1:-1, 1:-1]
    assert np.abs(smooth - 127.5).max() < 4  # uint8 rounding only
    assert np.abs(aliased - 127.5).min() > 40


def test_weak_perspective_camera_carries_into_the_crop():
    rng = np.random.default_rng(4)
    points = rng.normal(size=(10, 3)) * 80
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation = q * np.sign(np.linalg.det(q))
    scale, translation = 0.8, np.array([120.0, 90.0])

    def project(rotation, scale, translation):
        camera = points @ rotation.T
        return np.stack(
            [translation[0] + scale * camera[:, 0], translation[1] - scale * camera[:, 1]], axis=1
        )

    transform = _similarity(0.5, -0.9, (3.0, 40.0))
    moved = crop.crop_weak_perspective(transform, rotation, scale, translation)
    np.testing.assert_allclose(
        project(*moved),
        crop.apply_transform(transform, project(rotation, scale, translation)),
        atol=ATOL_F64,
    )
    np.testing.assert_allclose(moved[0] @ moved[0].T, np.eye(3), atol=ATOL_F64)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: crop.template_transform(np.zeros((4, 2)), 64), r"\[5, 2\] or \[68, 2\]"),
        (lambda: crop.similarity_transform_2d(np.ones((5, 2)), np.ones((5, 2))), "all equal"),
        (lambda: crop.box_transform((5, 5, 5, 5), 64), "empty box"),
        (lambda: crop.invert_transform(np.zeros((2, 3))), "singular"),
        (lambda: crop.warp_image(np.zeros((4, 4)), np.eye(2, 3), 8), r"\[H, W, 3\] uint8"),
        (lambda: crop.five_points_from_68(np.zeros((5, 2))), r"\[\.\.\., 68, 2\]"),
    ],
)
def test_bad_input_names_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()
