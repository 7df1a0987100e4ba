"""AFLW2000-3D builder on a fixture in the real layout (image0XXXX.jpg/.mat, pt3d_68 [3, 68])."""

import numpy as np
import pytest
import scipy.io

from facejax.data.builders.aflw2000 import AFLW2000, AFLW2000Config
from facejax.data.manual_files import MissingFilesError

SIZE = 40
CROP = 32
ATOL_PIXELS = 2e-3  # float32 storage


def _points(seed):
    return np.random.default_rng(seed).uniform(-5e4, 5e4, size=(68, 3))


def _pose(seed):
    t = np.random.default_rng(seed + 50).uniform(18, 22, size=3)
    return np.concatenate([[-0.2, -0.6, 0.1], t, [2e-4]])


def _write(root, kit):
    for seed, stem in enumerate(["image00002", "image00004", "image00006", "image00008"]):
        kit.write_image(root / f"{stem}.jpg", (SIZE, SIZE), seed)
        pt3d = kit.project_3ddfa(_points(seed), _pose(seed), SIZE)
        if stem == "image00006":
            pt3d = pt3d[:, :60]  # landmarks missing: skipped
        scipy.io.savemat(
            root / f"{stem}.mat",
            {
                "pt3d_68": pt3d,
                "Pose_Para": _pose(seed)[None, :],
                "Shape_Para": np.zeros((199, 1)),
                "Exp_Para": np.zeros((29, 1)),
                "Tex_Para": np.zeros((199, 1)),
                "Illum_Para": np.zeros((1, 10)),
                "Color_Para": np.zeros((1, 7)),
                "roi": np.zeros((1, 4)),
                "pt2d": -np.ones((2, 21)),
            },
        )
    kit.write_corrupt(root / "image00008.jpg")  # corrupt image: skipped
    kit.write_image(root / "image00010.jpg", (SIZE, SIZE), 9)  # no .mat: skipped


def test_builds_the_test_split_with_landmarks_depth_and_pose(tmp_path, kit):
    _write(tmp_path / "manual" / "AFLW2000", kit)
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
