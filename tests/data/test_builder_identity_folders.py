"""Identity-folder builders (person / images, person / clip / frames) with side files, and the
identity split."""

import json

import numpy as np
import pytest

from facejax.data import crop
from facejax.data.builders.identity_clips import IdentityClips, IdentityClipsConfig
from facejax.data.builders.identity_folders import IdentityFolders, IdentityFoldersConfig
from facejax.data.builders.identity_split import split_identities
from facejax.data.manual_files import MissingFilesError
from facejax.formats import write_pts

CROP = 16
SIZE = 40
ATOL_PIXELS = 1e-3


def test_split_identities_is_disjoint_deterministic_and_checked():
    names = [f"person_{i:02d}" for i in range(20)]
    splits = split_identities(names, test_fraction=0.2, validation_fraction=0.1, seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 14, "test": 4, "validation": 2}
    assert sorted(sum(splits.values(), [])) == names
    assert splits == split_identities(
        reversed(names), test_fraction=0.2, validation_fraction=0.1, seed=3
    )
    assert splits["test"] != split_identities(names, test_fraction=0.2, seed=4)["test"]
    assert list(split_identities(names, test_fraction=0.0)) == ["train"]
    with pytest.raises(ValueError, match="cannot give"):
        split_identities(["a", "b"], test_fraction=0.5, validation_fraction=0.4)
    with pytest.raises(ValueError, match="unique"):
        split_identities(["a", "a"], test_fraction=0.5)


def _landmarks68():
    return np.random.default_rng(11).uniform(8, 32, size=(68, 2))


def _write_people(root, kit):
    for i, person in enumerate("ABCDE"):
        for n in (1, 2):
            kit.write_image(root / f"person_{person}" / f"{n:04d}.jpg", (SIZE, SIZE), 10 * i + n)
    write_pts(root / "person_A" / "0001.pts", _landmarks68())
    (root / "person_A" / "0002.box.json").write_text(json.dumps({"box": [5, 6, 25, 30]}))
    kit.write_corrupt(root / "person_B" / "0002.jpg")
    five = crop.template_points(SIZE) * 0.5 + 10
    np.save(root / "person_C" / "0001.npy", five)
    write_pts(root / "person_D" / "0002.pts", _landmarks68()[:60])  # points missing


def test_identity_folders_split_by_person_with_global_labels(tmp_path, kit):
    _write_people(tmp_path / "manual", kit)
    config = IdentityFoldersConfig(name="test", crop_size=CROP, test_fraction=0.4, seed=1)
    builder = kit.build(IdentityFolders, config, tmp_path / "manual", tmp_path / "data")
    train = kit.read(builder, "train", "image_path")
    test = kit.read(builder, "test", "image_path")
    kit.assert_no_tensorflow()

    metadata = builder.info.metadata
    people = [f"person_{p}" for p in "ABCDE"]
    assert metadata["identity_names"] == people
    expected = split_identities(people, test_fraction=0.4, seed=1)
    assert metadata["split_identities"] == expected
    for split, examples in (("train", train), ("test", test)):
        assert {e["identity_name"].decode() for e in examples} == set(expected[split])
        for example in examples:
            assert example["identity"] == people.index(example["identity_name"].decode())
    assert metadata["skipped"]["train"]["count"] + metadata["skipped"]["test"]["count"] == 2

    by_path = {e["image_path"].decode(): e for e in train + test}
    assert "person_B/0002.jpg" not in by_path and "person_D/0002.jpg" not in by_path
    with_pts = by_path["person_A/0001.jpg"]
    assert with_pts["has_landmarks"]
    np.testing.assert_allclose(
        with_pts["landmarks"],
        crop.apply_transform(with_pts["crop_transform"], _landmarks68()),
        atol=ATOL_PIXELS,
    )
    np.testing.assert_allclose(
        by_path["person_A/0002.jpg"]["crop_transform"],
        crop.box_transform((5, 6, 25, 30), CROP, enlarge=1.3),
        atol=1e-6,
    )
    five_points = by_path["person_C/0001.jpg"]
    assert not five_points["has_landmarks"]  # 5 points place the crop but are not stored
    five = crop.template_points(SIZE) * 0.5 + 10
    np.testing.assert_allclose(
        crop.apply_transform(five_points["crop_transform"], five),
        crop.template_points(CROP, config.margin),
        atol=1e-4,
    )
    plain = by_path["person_E/0001.jpg"]
    np.testing.assert_allclose(plain["crop_transform"], [[0.4, 0, 0], [0, 0.4, 0]], atol=1e-6)


def test_identity_clips_keep_natural_frame_order(tmp_path, kit):
    root = tmp_path / "manual"
    for n in range(1, 13):
        kit.write_image(root / "P1" / "c1" / f"frame_{n}.jpg", (SIZE, SIZE), n)
    (root / "P1" / "c1" / "frame_5.box.txt").write_text("4 4 36 36")
    kit.write_corrupt(root / "P1" / "c2" / "frame_1.jpg")
    for person, count in (("P2", 3), ("P3", 2)):
        for n in range(1, count + 1):
            kit.write_image(root / person / "c1" / f"{n}.png", (SIZE, SIZE), n, fmt="PNG")
    config = IdentityClipsConfig(name="test", crop_size=CROP, test_fraction=0.0, max_frames=4)
    builder = kit.build(IdentityClips, config, root, tmp_path / "data")
    clips = {c["clip_name"].decode(): c for c in kit.read(builder, "train", "clip_name")}
    kit.assert_no_tensorflow()

    assert sorted(clips) == ["P1/c1", "P2/c1", "P3/c1"]  # P1/c2 has no readable frame
    first = clips["P1/c1"]
    np.testing.assert_array_equal(first["frame_indices"], [0, 4, 7, 11])
    assert [p.decode() for p in first["frame_paths"]] == [
        "P1/c1/frame_1.jpg",
        "P1/c1/frame_5.jpg",
        "P1/c1/frame_8.jpg",
        "P1/c1/frame_12.jpg",
    ]
    assert first["frames"].shape == (4, CROP, CROP, 3)
    np.testing.assert_allclose(
        first["crop_transforms"][1], crop.box_transform((4, 4, 36, 36), CROP, 1.3), atol=1e-6
    )
    assert [c["identity"] for c in clips.values()] == [0, 1, 2]
    assert builder.info.metadata["skipped"]["train"]["count"] == 2  # the frame and its clip


def test_a_missing_or_folderless_manual_dir_is_a_missing_files_error(tmp_path, kit):
    config = IdentityFoldersConfig(name="test", crop_size=CROP)
    with pytest.raises(MissingFilesError, match="does not exist or is empty"):
        kit.build(IdentityFolders, config, tmp_path / "nowhere", tmp_path / "data")
    kit.write_image(tmp_path / "flat" / "0001.jpg")  # images but no person folders
    with pytest.raises(MissingFilesError, match="<person>"):
        kit.build(IdentityFolders, config, tmp_path / "flat", tmp_path / "data")
