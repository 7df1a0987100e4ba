"""Horizontal flips: the iBUG-68 mirror permutation, pose, camera, lighting, crop transforms."""

import jax.numpy as jnp
import numpy as np
import pytest

from facejax.data.pipeline import flip
from facejax.geometry import rotation_from_euler

ATOL_F64 = 1e-12
# The embedded synthetic face is built symmetric; its landmarks are mirror images to round-off
# of its float32 vertices (~1e-5 mm at ~100 mm), here in pixels at 0.1 px/mm.
ATOL_SYMMETRIC_FACE_PX = 1e-4
MIRROR = np.diag([-1.0, 1.0, 1.0])
WIDTH = 32.0


def test_permutation_is_an_involution_matching_the_synthetic_landmarks():
    from facejax.synthetic import ibug_mirror_permutation

    perm = flip.MIRROR_PERMUTATION
    np.testing.assert_array_equal(perm[perm], np.arange(68))
    np.testing.assert_array_equal(perm, ibug_mirror_permutation())
    # Spot checks of the named pairs: jaw ends, brow ends, outer eye corners, mouth corners.
    for a, b in [(0, 16), (17, 26), (36, 45), (39, 42), (48, 54), (60, 64)]:
        assert perm[a] == b and perm[b] == a
    midline = [i for i in range(68) if perm[i] == i]
    assert midline == [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]


def test_flipping_landmarks_twice_is_the_identity():
    points = np.random.default_rng(0).uniform(0, WIDTH, size=(3, 68, 2))
    twice = flip.mirror_points(flip.mirror_points(points, WIDTH), WIDTH)
    np.testing.assert_allclose(twice, points, rtol=0, atol=ATOL_F64)
    once = flip.mirror_points(points, WIDTH)
    np.testing.assert_allclose(once[:, 36, 0], WIDTH - points[:, 45, 0], rtol=0, atol=ATOL_F64)
    np.testing.assert_allclose(once[:, 36, 1], points[:, 45, 1], rtol=0, atol=ATOL_F64)


def test_a_symmetric_face_maps_onto_itself():
    import facejax.morphable as fm
    from facejax.synthetic import synthetic_model

    model = synthetic_model("small")
    points = np.asarray(fm.landmarks(model, model.mean_shape), dtype=np.float64)
    # Frontal weak-perspective view centred in the image: x = W/2 + s X, y = W/2 - s Y.
    scale = 0.1
    landmarks = np.stack([WIDTH / 2 + scale * points[:, 0], WIDTH / 2 - scale * points[:, 1]], 1)
    np.testing.assert_allclose(
        flip.mirror_points(landmarks, WIDTH), landmarks, rtol=0, atol=ATOL_SYMMETRIC_FACE_PX
    )
    # A face that is not symmetric does not (the test can fail).
    shifted = landmarks + np.array([1.0, 0.0])
    assert np.abs(flip.mirror_points(shifted, WIDTH) - shifted).max() > 1.0


@pytest.mark.parametrize("convention", ["xyz", "3ddfa"])
def test_mirrored_pose_is_the_mirror_conjugate_rotation(convention, x64):
    rng = np.random.default_rng(1)
    poses = rng.uniform(-np.pi, np.pi, size=(16, 3))
    poses[:4, 1] = [np.pi / 2, -np.pi / 2, np.pi / 2 - 1e-9, 1.4]  # gimbal lock and near it
    rotations = np.asarray(rotation_from_euler(jnp.asarray(poses), convention))
    mirrored = np.asarray(rotation_from_euler(jnp.asarray(flip.mirror_pose(poses)), convention))
    np.testing.assert_allclose(mirrored, MIRROR @ rotations @ MIRROR, rtol=0, atol=ATOL_F64)
    np.testing.assert_array_equal(flip.mirror_pose(flip.mirror_pose(poses)), poses)


@pytest.mark.parametrize("convention", ["xyz", "3ddfa"])
def test_flipped_camera_and_pose_reproject_the_flipped_landmarks(convention, x64):
    """Weak perspective x = t + s (R X)_xy (y down): the flipped image shows the mirrored face M X
    with landmark i at the mirror of landmark perm(i), posed by the mirrored pose and camera."""
    rng = np.random.default_rng(2)
    points = rng.normal(scale=40.0, size=(68, 3))
    pose = rng.uniform(-1.2, 1.2, size=3)
    scale, translation = 0.12, np.array([15.0, 17.0])

    def project(pose, scale, translation, points):
        rotated = points @ np.asarray(rotation_from_euler(jnp.asarray(pose), convention)).T
        return np.stack(
            [translation[0] + scale * rotated[:, 0], translation[1] - scale * rotated[:, 1]], 1
        )

    landmarks = project(pose, scale, translation, points)
    flipped = flip.mirror_points(landmarks, WIDTH)
    mirrored_face = (points @ MIRROR)[flip.MIRROR_PERMUTATION]
    expected = project(
        flip.mirror_pose(pose),
        scale,
        flip.mirror_camera_translation(translation, WIDTH),
        mirrored_face,
    )
    np.testing.assert_allclose(flipped, expected, rtol=0, atol=1e-9)


def test_mirrored_sh_lighting_shades_mirrored_normals_alike(x64):
    from facejax.lighting import shading

    rng = np.random.default_rng(3)
    normals = rng.normal(size=(50, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    sh = rng.normal(size=(9, 3))
    original = np.asarray(shading(jnp.asarray(normals), jnp.asarray(sh)))
    mirrored = np.asarray(
        shading(jnp.asarray(normals @ MIRROR), jnp.asarray(flip.mirror_sh_coeffs(sh)))
    )
    np.testing.assert_allclose(mirrored, original, rtol=0, atol=ATOL_F64)
    assert (
        np.abs(np.asarray(shading(jnp.asarray(normals @ MIRROR), jnp.asarray(sh))) - original).max()
        > 0.1
    )


def test_mirrored_crop_transform_maps_source_points_to_flipped_crop_points():
    rng = np.random.default_rng(4)
    transform = np.array([[0.5, 0.1, 3.0], [-0.1, 0.5, 2.0]])
    source = rng.uniform(0, 60, size=(10, 2))
    crop = source @ transform[:, :2].T + transform[:, 2]
    mirrored = flip.mirror_crop_transform(transform, WIDTH)
    np.testing.assert_allclose(
        source @ mirrored[:, :2].T + mirrored[:, 2],
        flip.mirror_points(crop, WIDTH, permute=False),
        rtol=0,
        atol=ATOL_F64,
    )
    assert np.linalg.det(mirrored[:, :2]) < 0


def test_flip_image_reverses_columns_and_bad_shapes_are_named():
    image = np.arange(2 * 3 * 3).reshape(2, 3, 3)
    np.testing.assert_array_equal(flip.flip_image(image)[:, 0], image[:, 2])
    with pytest.raises(ValueError, match="68 landmarks"):
        flip.mirror_points(np.zeros((5, 2)), WIDTH)
    with pytest.raises(ValueError, match="pitch, yaw, roll"):
        flip.mirror_pose(np.zeros(2))
    with pytest.raises(ValueError, match=r"\[\.\.\., 9, C\]"):
        flip.mirror_sh_coeffs(np.zeros((4, 3)))
