"""NoW builder on a fixture in the real layout: final_release_version/{iphone_pictures,
detected_face (pickled dict .npy), scans, scans_lmks_onlypp (.pp XML)} and the image lists."""

import os

import numpy as np
import pytest

from facejax.data import crop
from facejax.data.builders.now import NoW, NoWConfig, read_picked_points
from facejax.data.manual_files import MissingFilesError

CROP = 16
S1, S2, S3 = "FaMoS_180424_03335_TA", "FaMoS_180427_03338_TA", "FaMoS_180502_03341_TA"
VALIDATION = [
    f"{S1}/multiview_neutral/IMG_0101.jpg",
    f"{S1}/selfie/IMG_0102.jpg",
    f"{S2}/multiview_expressions/IMG_0200.jpg",
]
TEST = [f"{S3}/multiview_occlusions/IMG_0300.jpg"]
BOX = {"left": np.int64(10), "top": 8.0, "right": 30.0, "bottom": 34.0}
POINTS = np.arange(21, dtype=np.float64).reshape(7, 3) * 1.5


def _pp(points):
    rows = "\n".join(
        f' <point x="{x}" y="{y}" z="{z}" active="1" name="{i}"/>'
        for i, (x, y, z) in enumerate(points)
    )
    return (
        "<!DOCTYPE PickedPoints>\n<PickedPoints>\n <DocumentData>\n"
        '  <DateTime time="10:00:00" date="2018-05-01"/>\n  <User name="x"/>\n'
        '  <DataFileName name="natural_head_rotation.000001.obj"/>\n  <templateName name=""/>\n'
        f" </DocumentData>\n{rows}\n</PickedPoints>\n"
    )


def _write(manual, kit):
    top = manual / "NoW_Dataset"
    root = top / "final_release_version"
    for i, line in enumerate(VALIDATION + TEST):
        kit.write_image(root / "iphone_pictures" / line, (40, 44), i)
        box = root / "detected_face" / line.replace(".jpg", ".npy")
        os.makedirs(box.parent, exist_ok=True)
        np.save(box, BOX, allow_pickle=True)
    # A box file that would run code if unpickled naively: refused, the image skipped.
    np.save(
        root / "detected_face" / VALIDATION[2].replace(".jpg", ".npy"),
        np.array(os.getcwd, dtype=object),
        allow_pickle=True,
    )
    for subject in (S1, S2):
        (root / "scans" / subject).mkdir(parents=True)
        (root / "scans" / subject / "natural_head_rotation.000001.obj").write_text("v 0 0 0\n")
        (root / "scans_lmks_onlypp" / subject).mkdir(parents=True)
        pp = root / "scans_lmks_onlypp" / subject / "natural_head_rotation_picked_points.pp"
        pp.write_text(_pp(POINTS))
    (top / "imagepathsvalidation.txt").write_text("\n".join(VALIDATION) + "\n")
    (root / "imagepathstest.txt").write_text("\n".join(TEST) + "\n")
    return root


def test_picked_points_are_read_in_file_order(tmp_path):
    path = tmp_path / "p.pp"
    path.write_text(_pp(POINTS))
    np.testing.assert_array_equal(read_picked_points(path), POINTS)


def test_validation_and_test_splits_with_boxes_and_scans(tmp_path, kit):
    _write(tmp_path / "manual", kit)
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
    root = _write(tmp_path / "manual", kit)
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
