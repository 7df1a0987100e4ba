"""NoW builder on a fixture in the real layout: final_release_version/{iphone_pictures,
detected_face (pickled dict .npy), scans, scans_lmks_onlypp (.pp XML)} and the image lists."""

import os

import numpy as np
import pytest

from facejax.data import crop
from facejax.data.builders.now import NoW, NoWConfig, read_picked_points
from facejax.data.manual_files import MissingFilesError

from .layouts import NOW_POINTS as POINTS
from .layouts import NOW_S1 as S1
from .layouts import NOW_S2 as S2
from .layouts import NOW_S3 as S3
from .layouts import NOW_VALIDATION as VALIDATION
from .layouts import now_picked_points as _pp
from .layouts import write_now

CROP = 16


def test_picked_points_are_read_in_file_order(tmp_path):
    path = tmp_path / "p.pp"
    path.write_text(_pp(POINTS))
    np.testing.assert_array_equal(read_picked_points(path), POINTS)


def test_validation_and_test_splits_with_boxes_and_scans(tmp_path, kit):
    write_now(tmp_path / "manual")
    builder = kit.build(
        NoW, NoWConfig(name="test", crop_size=CROP), tmp_path / "manual", tmp_path / "data"
    )
    validation = kit.read(builder, "validation", "image_path")
    test = kit.read(builder, "test", "image_path")
    kit.assert_no_tensorflow()

    prefix = "NoW_Dataset/final_release_version"
    assert [e["image_path"].decode() for e in validation] == [
        f"{prefix}/iphone_pictures/{line}" for line in VALIDATION[:2]
    ]
    skipped = builder.info.metadata["skipped"]["validation"]
    assert skipped["count"] == 1 and "refused" in skipped["first"][0]["reason"]
    assert builder.info.metadata["identity_names"] == [S1, S2, S3]
    box = np.array([10.0, 8.0, 30.0, 34.0])
    for example in validation:
        assert example["identity"] == 0 and example["has_scan"]
        assert example["scan_path"].decode() == (
            f"{prefix}/scans/{S1}/natural_head_rotation.000001.obj"
        )
        np.testing.assert_array_equal(example["scan_landmarks"], POINTS.astype(np.float32))
        np.testing.assert_array_equal(example["face_box"], box)
        np.testing.assert_allclose(
            example["crop_transform"], crop.box_transform(box, CROP, enlarge=1.3), atol=1e-6
        )
    assert [e["challenge"] for e in validation] == [b"multiview_neutral", b"selfie"]
    (only,) = test
    assert only["identity"] == 2 and not only["has_scan"] and only["scan_path"] == b""
    np.testing.assert_array_equal(only["scan_landmarks"], 0)


def test_missing_boxes_and_scans_are_listed(tmp_path, kit):
    root = write_now(tmp_path / "manual")
    os.remove(root / "detected_face" / VALIDATION[0].replace(".jpg", ".npy"))
    for folder in ("scans", "scans_lmks_onlypp"):
        for name in os.listdir(root / folder / S2):
            os.remove(root / folder / S2 / name)
    with pytest.raises(MissingFilesError) as info:
        kit.build(
            NoW, NoWConfig(name="test", crop_size=CROP), tmp_path / "manual", tmp_path / "data"
        )
    assert sorted(info.value.missing) == sorted(
        [
            str(root / "detected_face" / VALIDATION[0].replace(".jpg", ".npy")),
            str(root / "scans" / S2 / "*.obj"),
            str(root / "scans_lmks_onlypp" / S2 / "*.pp"),
        ]
    )
