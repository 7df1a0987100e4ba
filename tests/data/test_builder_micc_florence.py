"""MICC Florence builder on a fixture in the real layout (subject_XX/Model/frontal1/obj/*.obj,
subject_XX/Video/<setting>.mjpg) with extracted frames folders beside the videos."""

import numpy as np
import pytest

from facejax.data import crop
from facejax.data.builders.micc_florence import MICCFlorence, MICCFlorenceConfig
from facejax.data.manual_files import MissingFilesError

CROP = 16
WIDTH, HEIGHT = 64, 36  # frames wider than tall, like the videos
BOX = (20.0, 5.0, 40.0, 30.0)
OBJ = "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n"


def _write(root, kit):
    s1 = root / "subject_01"
    (s1 / "Model" / "frontal1" / "obj").mkdir(parents=True)
    (s1 / "Model" / "frontal1" / "obj" / "110920150452.obj").write_text(OBJ)
    (s1 / "Video").mkdir(parents=True)
    for setting in ("Indoor-Cooperative", "PTZ-Indoor"):
        (s1 / "Video" / f"{setting}.mjpg").write_bytes(b"not decoded")
    for n in range(1, 5):
        frame = s1 / "Video" / "Indoor-Cooperative" / f"frame_{n:05d}.jpg"
        kit.write_image(frame, (WIDTH, HEIGHT), n)
    (s1 / "Video" / "Indoor-Cooperative" / "frame_00003.box.txt").write_text("20 5 40 30")
    kit.write_image(s1 / "Video" / "PTZ-Indoor" / "frame_00001.jpg", (WIDTH, HEIGHT), 9)
    kit.write_corrupt(s1 / "Video" / "PTZ-Indoor" / "frame_00002.jpg")
    s2 = root / "subject_02"
    (s2 / "Model" / "frontal2" / "obj").mkdir(parents=True)
    (s2 / "Model" / "frontal2" / "obj" / "scan.obj").write_text(OBJ)
    for n in (1, 2):
        frame = s2 / "Video" / "Indoor-Cooperative" / f"frame_{n:05d}.jpg"
        kit.write_image(frame, (WIDTH, HEIGHT), n)


def test_frames_with_subjects_scans_and_crops(tmp_path, kit):
    _write(tmp_path / "manual", kit)
    config = MICCFlorenceConfig(name="test", crop_size=CROP, max_frames=3)
    builder = kit.build(MICCFlorence, config, tmp_path / "manual", tmp_path / "data")
    examples = {e["image_path"].decode(): e for e in kit.read(builder, "test", "image_path")}
    kit.assert_no_tensorflow()

    indoor = "subject_01/Video/Indoor-Cooperative"
    assert sorted(examples) == [
        f"{indoor}/frame_00001.jpg",  # 3 of 4 frames, evenly spaced
        f"{indoor}/frame_00003.jpg",
        f"{indoor}/frame_00004.jpg",
        "subject_01/Video/PTZ-Indoor/frame_00001.jpg",  # frame_00002 is corrupt
        "subject_02/Video/Indoor-Cooperative/frame_00001.jpg",
        "subject_02/Video/Indoor-Cooperative/frame_00002.jpg",
    ]
    first = examples[f"{indoor}/frame_00001.jpg"]
    assert first["identity"] == 0 and first["identity_name"] == b"subject_01"
    assert first["video"] == b"Indoor-Cooperative" and first["frame_index"] == 0
    assert first["scan_path"] == b"subject_01/Model/frontal1/obj/110920150452.obj"
    assert first["has_scan"]
    central = crop.box_transform(crop.central_box(WIDTH, HEIGHT, 1.0), CROP, enlarge=1.0)
    np.testing.assert_allclose(first["crop_transform"], central, atol=1e-6)
    boxed = examples[f"{indoor}/frame_00003.jpg"]
    np.testing.assert_allclose(
        boxed["crop_transform"], crop.box_transform(BOX, CROP, enlarge=1.3), atol=1e-6
    )
    second = examples["subject_02/Video/Indoor-Cooperative/frame_00002.jpg"]
    assert second["identity"] == 1
    assert second["scan_path"] == b"subject_02/Model/frontal2/obj/scan.obj"

    metadata = builder.info.metadata
    assert metadata["skipped"]["test"]["count"] == 1
    assert metadata["absent_videos"] == [
        "subject_01/PTZ-Outdoor",
        "subject_02/PTZ-Indoor",
        "subject_02/PTZ-Outdoor",
    ]


def test_a_video_without_extracted_frames_is_reported(tmp_path, kit):
    manual = tmp_path / "manual"
    _write(manual, kit)
    video = manual / "subject_03" / "Video"
    video.mkdir(parents=True)
    (video / "PTZ-Outdoor.mjpg").write_bytes(b"x")
    with pytest.raises(MissingFilesError) as info:
        config = MICCFlorenceConfig(name="t", crop_size=CROP)
        kit.build(MICCFlorence, config, manual, tmp_path / "d")
    assert info.value.missing == [str(video / "PTZ-Outdoor") + "/ (extract frames)"]
    assert "ffmpeg" in str(info.value)
