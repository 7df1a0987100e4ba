"""AFLW2000-3D builder on a fixture in the real layout (image0XXXX.jpg/.mat, pt3d_68 [3, 68])."""

import numpy as np
import pytest

from facejax.data.builders.aflw2000 import AFLW2000, AFLW2000Config
from facejax.data.manual_files import MissingFilesError

from .layouts import AFLW2000_SIZE as SIZE
from .layouts import aflw2000_points as _points
from .layouts import aflw2000_pose as _pose
from .layouts import write_aflw2000

CROP = 32
ATOL_PIXELS = 2e-3  # float32 storage


def test_builds_the_test_split_with_landmarks_depth_and_pose(tmp_path, kit):
    write_aflw2000(tmp_path / "manual" / "AFLW2000")
    config = AFLW2000Config(name="test", crop_size=CROP)
    builder = kit.build(AFLW2000, config, tmp_path / "manual", tmp_path / "data")
    examples = kit.read(builder, "test", "image_path")
    kit.assert_no_tensorflow()

    assert [e["image_path"] for e in examples] == [b"image00002.jpg", b"image00004.jpg"]
    assert builder.info.metadata["skipped"]["test"]["count"] == 3
    for seed, example in enumerate(examples):
        assert example["identity"] == -1
        np.testing.assert_array_equal(example["pose"], np.float32([-0.2, -0.6, 0.1]))
        kit.check_camera(example, _points(seed), ATOL_PIXELS)
        scale = np.sqrt(np.linalg.det(example["crop_transform"][:, :2]))
        depth = kit.project_3ddfa(_points(seed), _pose(seed), SIZE)[2]
        np.testing.assert_allclose(example["landmarks_depth"], scale * depth, rtol=1e-5)


def test_a_folder_without_images_is_reported(tmp_path, kit):
    manual = tmp_path / "manual"
    manual.mkdir()
    (manual / "readme.txt").write_text("not the dataset")
    with pytest.raises(MissingFilesError, match=r"image\*\.jpg"):
        kit.build(AFLW2000, AFLW2000Config(name="test", crop_size=CROP), manual, tmp_path / "d")


def test_config_for_a_model_in_rotated_crops(tmp_path, kit):
    reference = kit.write_face3d_bfm(tmp_path / "BFM" / "BFM.mat")
    model = str(tmp_path / "BFM" / "BFM.mat")
    root = tmp_path / "manual" / "AFLW2000"
    fits = {}
    for seed, yaw in enumerate([0.2, -0.8, 1.7]):  # one beyond 90 degrees: kept
        stem = f"image0000{2 * seed + 2}"
        shape, expression = kit.threeddfa_params(reference, seed)
        pose = np.array([-0.1, yaw, 0.2, 61.0, 57.0, 3.0, 4e-4])
        kit.write_3ddfa_fit(
            root / f"{stem}.mat", reference, shape, expression, pose, 120, field="pt3d_68"
        )
        fits[f"{stem}.jpg"] = shape, expression, yaw
    config = AFLW2000.config_for("aligned", model=model, image_size=CROP)
    assert config.alignment == "template" and config.name.startswith(f"aligned_{CROP}px_model")
    builder = kit.build(AFLW2000, config, tmp_path / "manual", tmp_path / "data")
    examples = kit.read(builder, "test", "image_path")
    assert [e["image_path"].decode() for e in examples] == sorted(fits)
    assert "all images kept" in builder.info.metadata["yaw_bins"]
    for example in examples:
        shape, expression, yaw = fits[example["image_path"].decode()]
        # face3d's BFM.mat: all 199 / 29 components, BFM's shapeEV and 3DDFA's sigma_exp.
        np.testing.assert_allclose(
            example["identity_coeffs"], shape / reference["shape_std"], rtol=1e-6
        )
        np.testing.assert_allclose(
            example["expression_coeffs"], expression / reference["exp_std"], rtol=1e-6
        )
        # The template crop turned the face: pose, camera and coefficients still agree.
        assert not np.isclose(example["pose"][1], yaw, atol=1e-3)
        assert example["pose_params"][1] == np.float32(yaw)  # the protocol's yaw
        assert example["decoded_landmark_error"] < ATOL_PIXELS
        assert example["landmark_visibility"].all()
