"""YouTube Faces builder on a fixture in the real layout: frame_images_DB/<subject>/<video>/
<video>.<frame>.jpg, <subject>.labeled_faces.txt (backslash paths, box centre and size) and
splits.txt."""

import numpy as np
import pytest

from facejax.data import crop
from facejax.data.builders.youtube_faces import (
    YouTubeFaces,
    YouTubeFacesConfig,
    read_labeled_faces,
    read_splits,
)
from facejax.data.manual_files import MissingFilesError

from .layouts import YTF_SPLITS as SPLITS
from .layouts import write_youtube_faces
from .layouts import ytf_box as _box

CROP = 16


def test_readers_parse_the_real_text_formats(tmp_path, kit):
    write_youtube_faces(tmp_path)
    videos = read_labeled_faces(tmp_path / "frame_images_DB" / "Aaron_Eckhart.labeled_faces.txt")
    assert [name for name, _ in videos["1"]] == ["1.9.jpg", "1.10.jpg"]  # natural order
    np.testing.assert_allclose(videos["0"][0][1], _box(555))
    assert read_splits(tmp_path / "splits.txt") == [
        (0, "Aaron_Eckhart/0", "Aaron_Eckhart/1", True),
        (1, "Aaron_Eckhart/1", "Zach_Zorn/3", False),
    ]
    (tmp_path / "bad.txt").write_text("1, Aaron_Eckhart/0\n")
    with pytest.raises(ValueError, match="line 1"):
        read_splits(tmp_path / "bad.txt")


def test_clips_hold_evenly_spaced_readable_frames_cropped_around_their_boxes(tmp_path, kit):
    write_youtube_faces(tmp_path / "manual" / "YouTubeFaces")
    config = YouTubeFacesConfig(name="test_clips", crop_size=CROP, max_frames=3)
    builder = kit.build(YouTubeFaces, config, tmp_path / "manual", tmp_path / "data")
    clips = {c["clip_name"].decode(): c for c in kit.read(builder, "test", "clip_name")}
    kit.assert_no_tensorflow()

    assert sorted(clips) == ["Aaron_Eckhart/0", "Aaron_Eckhart/1", "Zach_Zorn/3"]
    first = clips["Aaron_Eckhart/0"]
    # Frames 555, 557, 559 are chosen; 557 is corrupt: dropped and reported.
    np.testing.assert_array_equal(first["frame_indices"], [555, 559])
    assert [p.decode() for p in first["frame_paths"]] == [
        "Aaron_Eckhart/0/0.555.jpg",
        "Aaron_Eckhart/0/0.559.jpg",
    ]
    assert first["frames"].shape == (2, CROP, CROP, 3)
    for transform, frame in zip(first["crop_transforms"], (555, 559), strict=True):
        np.testing.assert_allclose(
            transform, crop.box_transform(_box(frame), CROP, enlarge=1.3), atol=1e-6
        )
    assert not first["has_landmarks"].any()
    np.testing.assert_array_equal(clips["Aaron_Eckhart/1"]["frame_indices"], [9, 10])
    assert [c["identity"] for c in clips.values()] == [0, 0, 1]
    skipped = builder.info.metadata["skipped"]["test"]
    assert skipped["count"] == 1 and skipped["first"][0]["path"].endswith("0.557.jpg")


def test_pairs_follow_splits_txt(tmp_path, kit):
    write_youtube_faces(tmp_path / "manual")
    config = YouTubeFacesConfig(name="test_pairs", mode="pairs", crop_size=CROP, max_frames=2)
    builder = kit.build(YouTubeFaces, config, tmp_path / "manual", tmp_path / "data")
    pairs = kit.read(builder, "test", "fold")
    kit.assert_no_tensorflow()
    assert [(p["fold"], bool(p["same"])) for p in pairs] == [(0, True), (1, False)]
    assert pairs[1]["clip_name_b"] == b"Zach_Zorn/3" and pairs[1]["identity_b"] == 1
    assert pairs[0]["frames_a"].shape == (2, CROP, CROP, 3)


def test_videos_named_by_splits_but_absent_are_listed(tmp_path, kit):
    manual = tmp_path / "manual"
    write_youtube_faces(manual, splits=SPLITS + "3, Nobody/1, Zach_Zorn/3, 0.1, 0\n")
    config = YouTubeFacesConfig(name="test_missing", mode="pairs", crop_size=CROP)
    with pytest.raises(MissingFilesError) as info:
        kit.build(YouTubeFaces, config, manual, tmp_path / "data")
    db = manual / "frame_images_DB"
    assert sorted(info.value.missing) == sorted(
        [str(db / "Nobody.labeled_faces.txt"), str(db / "Nobody" / "1") + "/"]
    )
