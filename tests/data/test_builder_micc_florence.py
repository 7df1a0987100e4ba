"""MICC Florence builder on a fixture in the real layout (subject_XX/Model/frontal1/obj/*.obj,
subject_XX/Video/<setting>.mjpg) with extracted frames folders beside the videos."""

import numpy as np
import pytest

from facejax.data import crop
from facejax.data.builders.micc_florence import MICCFlorence, MICCFlorenceConfig
from facejax.data.manual_files import MissingFilesError

from .layouts import MICC_BOX as BOX
from .layouts import MICC_HEIGHT as HEIGHT
from .layouts import MICC_WIDTH as WIDTH
from .layouts import write_micc

CROP = 16


def test_frames_with_subjects_scans_and_crops(tmp_path, kit):
    write_micc(tmp_path / "manual")
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
    write_micc(manual)
    video = manual / "subject_03" / "Video"
    video.mkdir(parents=True)
    (video / "PTZ-Outdoor.mjpg").write_bytes(b"x")
    with pytest.raises(MissingFilesError) as info:
        config = MICCFlorenceConfig(name="t", crop_size=CROP)
        kit.build(MICCFlorence, config, manual, tmp_path / "d")
    assert info.value.missing == [str(video / "PTZ-Outdoor") + "/ (extract frames)"]
    assert "ffmpeg" in str(info.value)
