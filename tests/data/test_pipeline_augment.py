"""Augmentation keeps labels right: image, landmarks, camera, pose and crop transform agree."""

import jax.numpy as jnp
import numpy as np
import pytest

from facejax.data.pipeline import AugmentConfig, augment_example, flip
from facejax.data.pipeline.affine import affine_matrix, warp_image
from facejax.data.pipeline.color import color_jitter

SIZE = 32
ATOL_WARP = 1e-4  # float32 bilinear sampling of [0, 255] values against a float64 loop
ATOL_F64 = 1e-9
# Centroid of a resampled Gaussian blob (sigma 2 px) against the moved landmark: the bilinear
# interpolation of a smooth blob shifts its centroid by a few hundredths of a pixel at most.
ATOL_CENTROID_PX = 0.05
MIRROR = np.diag([-1.0, 1.0, 1.0])
STRONG = AugmentConfig(crop_scale=(0.8, 1.25), max_shift=0.1, flip_prob=0.5, color_jitter=0.0)


def _reference_warp(image, matrix):
    """Slow float64 bilinear sampling, black outside: output pixel p' samples A^-1 p'."""
    height, width = image.shape[:2]
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    out = np.zeros(image.shape, dtype=np.float64)
    for i in range(height):
        for j in range(width):
            x, y = inverse @ np.array([j + 0.5, i + 0.5, 1.0]) - 0.5
            x0, y0 = int(np.floor(x)), int(np.floor(y))
            for yy, wy in ((y0, 1 - (y - y0)), (y0 + 1, y - y0)):
                for xx, wx in ((x0, 1 - (x - x0)), (x0 + 1, x - x0)):
                    if 0 <= yy < height and 0 <= xx < width:
                        out[i, j] += wy * wx * image[yy, xx]
    return out


@pytest.mark.parametrize(
    "zoom, shift", [(1.0, (0.0, 0.0)), (1.3, (2.5, -1.25)), (0.7, (-3.0, 4.0))]
)
def test_warp_matches_a_slow_bilinear_reference(zoom, shift):
    image = np.random.default_rng(0).integers(0, 256, size=(12, 10, 3)).astype(np.uint8)
    matrix = affine_matrix(zoom, shift, 10, 12)
    np.testing.assert_allclose(
        warp_image(image, matrix),
        _reference_warp(image.astype(np.float64), matrix),
        rtol=0,
        atol=ATOL_WARP,
    )
    with pytest.raises(ValueError, match="axis-aligned"):
        warp_image(image, np.array([[1.0, 0.1, 0.0], [0.0, 1.0, 0.0]]))


def _blob_example(centre):
    ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    blob = 255 * np.exp(-((xs - centre[0]) ** 2 + (ys - centre[1]) ** 2) / (2 * 2.0**2))
    return {
        "image": np.repeat(blob[..., None], 3, axis=2).astype(np.float32).round().astype(np.uint8),
        "landmarks": np.tile(np.asarray(centre, np.float32), (68, 1)),
        "has_landmarks": np.bool_(True),
    }


def test_image_and_landmarks_move_together():
    config = AugmentConfig(
        crop_scale=(0.8, 1.25),
        max_shift=0.1,
        flip_prob=0.5,
        image_dtype="float32",
        color_jitter=0.0,
    )
    flips = []
    for seed in range(8):
        example = _blob_example((14.3, 17.6))
        out = augment_example(example, np.random.default_rng(seed), config)
        weights = out["image"][..., 0].astype(np.float64)
        ys, xs = np.mgrid[0:SIZE, 0:SIZE] + 0.5
        centroid = np.array([np.sum(weights * xs), np.sum(weights * ys)]) / weights.sum()
        np.testing.assert_allclose(centroid, out["landmarks"][0], rtol=0, atol=ATOL_CENTROID_PX)
        flips.append(bool(out["flipped"]))
        assert out["image"].dtype == np.float32 and out["image"].max() <= 1.0
    assert any(flips) and not all(flips)


def _posed_example(points, pose, convention, crop_transform):
    from facejax.geometry import rotation_from_euler

    rotation = np.asarray(rotation_from_euler(jnp.asarray(pose), convention))
    scale, translation = 0.1, np.array([16.5, 15.0])
    rotated = points @ rotation.T
    landmarks = np.stack(
        [translation[0] + scale * rotated[:, 0], translation[1] - scale * rotated[:, 1]], 1
    )
    return {
        "image": np.zeros((SIZE, SIZE, 3), np.uint8),
        "identity": np.int64(3),
        "identity_name": b"someone",
        "landmarks": landmarks,
        "has_landmarks": np.bool_(True),
        "pose": np.asarray(pose, np.float64),
        "camera_scale": np.float64(scale),
        "camera_translation": translation,
        "crop_transform": crop_transform,
        "shape_params": np.ones(5),
    }


@pytest.mark.parametrize("convention", ["xyz", "3ddfa"])
def test_pose_camera_landmarks_and_crop_transform_agree_after_augmentation(convention, x64):
    from facejax.geometry import rotation_from_euler

    rng = np.random.default_rng(5)
    points = rng.normal(scale=40.0, size=(68, 3))
    pose = rng.uniform(-1.0, 1.0, size=3)
    crop_transform = np.array([[0.4, 0.05, -3.0], [-0.05, 0.4, 1.0]])
    config = AugmentConfig(
        crop_scale=(0.8, 1.25), max_shift=0.1, flip_prob=0.5, passthrough=("landmarks_source",)
    )
    seen_flips = set()
    for seed in range(6):
        example = _posed_example(points, pose, convention, crop_transform)
        # Source-image landmarks that the crop transform maps onto the crop landmarks.
        inverse = np.linalg.inv(np.vstack([crop_transform, [0, 0, 1]]))[:2]
        source = example["landmarks"] @ inverse[:, :2].T + inverse[:, 2]
        example["landmarks_source"] = source
        out = augment_example(example, np.random.default_rng(seed), config)
        flipped = bool(out["flipped"])
        seen_flips.add(flipped)
        face = (points @ MIRROR)[flip.MIRROR_PERMUTATION] if flipped else points
        rotation = np.asarray(rotation_from_euler(jnp.asarray(out["pose"]), convention))
        rotated = face @ rotation.T
        reprojected = np.stack(
            [
                out["camera_translation"][0] + out["camera_scale"] * rotated[:, 0],
                out["camera_translation"][1] - out["camera_scale"] * rotated[:, 1],
            ],
            1,
        )
        np.testing.assert_allclose(out["landmarks"], reprojected, rtol=0, atol=ATOL_F64)
        moved = source @ out["crop_transform"][:, :2].T + out["crop_transform"][:, 2]
        moved = moved[flip.MIRROR_PERMUTATION] if flipped else moved
        np.testing.assert_allclose(out["landmarks"], moved, rtol=0, atol=ATOL_F64)
        np.testing.assert_array_equal(out["shape_params"], example["shape_params"])
        assert out["identity"] == 3 and out["identity_name"] == b"someone"
    assert seen_flips == {False, True}


def test_pinhole_camera_and_translation_agree_with_landmarks_after_augmentation(x64):
    """Synthetic faces carry a perspective camera: pose, translation, focal and principal point
    must reproject the 3D points onto the augmented landmarks."""
    from facejax.geometry import rotation_from_euler

    rng = np.random.default_rng(7)
    points = rng.normal(scale=40.0, size=(68, 3))
    pose = rng.uniform(-0.8, 0.8, size=3)
    translation = np.array([12.0, -8.0, -900.0])
    focal, principal = np.array([140.0, 140.0]), np.array([16.0, 16.5])

    def project(face, pose, translation, focal, principal):
        camera = face @ np.asarray(rotation_from_euler(jnp.asarray(pose), "xyz")).T + translation
        depth = -camera[:, 2]
        return np.stack(
            [principal[0] + focal[0] * camera[:, 0] / depth,
             principal[1] - focal[1] * camera[:, 1] / depth], 1,
        )  # fmt: skip

    example = {
        "image": np.zeros((SIZE, SIZE, 3), np.uint8),
        "landmarks": project(points, pose, translation, focal, principal),
        "has_landmarks": np.bool_(True),
        "pose": pose,
        "translation": translation,
        "camera_focal": focal,
        "camera_principal_point": principal,
        "identity_coeffs": np.ones(4),
    }
    config = AugmentConfig(crop_scale=(0.8, 1.25), max_shift=0.1, flip_prob=0.5)
    seen_flips = set()
    for seed in range(6):
        out = augment_example(example, np.random.default_rng(seed), config)
        flipped = bool(out["flipped"])
        seen_flips.add(flipped)
        face = (points @ MIRROR)[flip.MIRROR_PERMUTATION] if flipped else points
        expected = project(
            face,
            out["pose"],
            out["translation"],
            out["camera_focal"],
            out["camera_principal_point"],
        )
        np.testing.assert_allclose(out["landmarks"], expected, rtol=0, atol=ATOL_F64)
        np.testing.assert_array_equal(out["identity_coeffs"], example["identity_coeffs"])
    assert seen_flips == {False, True}


def test_missing_landmarks_stay_zeros_and_unknown_features_are_refused():
    example = {
        "image": np.zeros((SIZE, SIZE, 3), np.uint8),
        "landmarks": np.zeros((68, 2), np.float32),
        "has_landmarks": np.bool_(False),
    }
    config = AugmentConfig(flip_prob=1.0)
    out = augment_example(example, np.random.default_rng(0), config)
    np.testing.assert_array_equal(out["landmarks"], 0.0)
    assert out["landmarks"].dtype == np.float32 and out["image"].dtype == np.uint8
    with pytest.raises(ValueError, match="'heatmap'.*passthrough"):
        augment_example({**example, "heatmap": np.zeros((4, 4))}, np.random.default_rng(0), config)
    out = augment_example(
        {**example, "heatmap": np.ones((4, 4))},
        np.random.default_rng(0),
        AugmentConfig(passthrough=("heatmap",)),
    )
    np.testing.assert_array_equal(out["heatmap"], 1.0)
    with pytest.raises(ValueError, match="frame_pair_source"):
        augment_example(
            {"frames": np.zeros((2, 8, 8, 3), np.uint8)}, np.random.default_rng(0), config
        )


def test_views_draw_their_own_augmentation_unless_shared():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, size=(SIZE, SIZE, 3)).astype(np.uint8)
    pair = {
        "image_a": image,
        "image_b": image.copy(),
        "identity_a": np.int64(0),
        "identity_b": np.int64(1),
        "same": np.bool_(False),
        "image_path_a": b"a",
        "image_path_b": b"b",
    }
    independent = [augment_example(pair, np.random.default_rng(s), STRONG) for s in range(4)]
    assert any(not np.array_equal(o["image_a"], o["image_b"]) for o in independent)
    shared = AugmentConfig(crop_scale=(0.8, 1.25), max_shift=0.1, share_across_views=True)
    for seed in range(4):
        out = augment_example(pair, np.random.default_rng(seed), shared)
        np.testing.assert_array_equal(out["image_a"], out["image_b"])
        assert out["flipped_a"] == out["flipped_b"]
        assert out["same"] == np.bool_(False) and out["image_path_b"] == b"b"


def test_color_jitter_keeps_the_range_and_is_the_identity_at_one():
    image = np.random.default_rng(2).integers(0, 256, size=(8, 8, 3)).astype(np.uint8)
    np.testing.assert_allclose(color_jitter(image, [1.0, 1.0, 1.0]), image, rtol=0, atol=1e-3)
    bright = color_jitter(image, [1.5, 1.0, 1.0])
    assert bright.min() >= 0 and bright.max() <= 255 and bright.mean() > image.mean()
    grey = color_jitter(image, [1.0, 1.0, 0.0])
    np.testing.assert_allclose(grey[..., 0], grey[..., 1], rtol=0, atol=1e-3)
    flat = color_jitter(image, [1.0, 0.0, 1.0])
    np.testing.assert_allclose(flat, flat.mean(), rtol=0, atol=1e-3)  # zero contrast: all grey


def test_config_is_checked():
    for bad in (
        {"crop_scale": (1.2, 1.1)},
        {"max_shift": 0.5},
        {"flip_prob": 1.5},
        {"color_jitter": 1.0},
        {"image_dtype": "float16"},
    ):
        with pytest.raises(ValueError, match="AugmentConfig"):
            AugmentConfig(**bad)
