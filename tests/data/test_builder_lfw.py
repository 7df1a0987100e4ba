"""LFW builder on a fixture in the real layout: lfw/<Name>/<Name>_<nnnn>.jpg and pairs.txt."""

import numpy as np
import pytest

from facejax.data import crop
from facejax.data.builders.lfw import LFW, LFWConfig, read_pairs
from facejax.data.manual_files import MissingFilesError
from facejax.formats import write_pts

SIZE = 50
CROP = 32
ATOL_PIXELS = 1e-3  # float32 storage
BOX = (10.0, 12.0, 36.0, 40.0)
PAIRS = """2\t1
Abel_Pacheco\t1\t2
Aaron_Eckhart\t1\tAbel_Pacheco\t3
Abel_Pacheco\t2\t3
Aaron_Eckhart\t1\tZach_Zorn\t1
"""


def _landmarks():
    return np.random.default_rng(7).uniform(12, 38, size=(68, 2))


def _write(manual, kit, pairs=PAIRS):
    lfw = manual / "lfw"
    kit.write_image(lfw / "Aaron_Eckhart" / "Aaron_Eckhart_0001.jpg", (SIZE, SIZE), 1)
    for n in (1, 2, 3):
        kit.write_image(lfw / "Abel_Pacheco" / f"Abel_Pacheco_{n:04d}.jpg", (SIZE, SIZE), 1 + n)
    write_pts(lfw / "Abel_Pacheco" / "Abel_Pacheco_0002.pts", _landmarks())
    (lfw / "Abel_Pacheco" / "Abel_Pacheco_0003.box.txt").write_text(" ".join(map(str, BOX)))
    kit.write_corrupt(lfw / "Zach_Zorn" / "Zach_Zorn_0001.jpg")
    (manual / "pairs.txt").write_text(pairs)


def test_images_config_labels_and_crops_from_side_files_or_the_central_region(tmp_path, kit):
    _write(tmp_path / "manual", kit)
    config = LFWConfig(name="test_images", crop_size=CROP)
    builder = kit.build(LFW, config, tmp_path / "manual", tmp_path / "data")
    examples = {e["image_path"].decode(): e for e in kit.read(builder, "test", "image_path")}
    kit.assert_no_tensorflow()

    assert sorted(examples) == [
        "Aaron_Eckhart/Aaron_Eckhart_0001.jpg",
        "Abel_Pacheco/Abel_Pacheco_0001.jpg",
        "Abel_Pacheco/Abel_Pacheco_0002.jpg",
        "Abel_Pacheco/Abel_Pacheco_0003.jpg",
    ]
    assert builder.info.metadata["identity_names"] == ["Aaron_Eckhart", "Abel_Pacheco", "Zach_Zorn"]
    assert builder.info.metadata["skipped"]["test"]["count"] == 1
    assert [e["identity"] for e in examples.values()] == [0, 1, 1, 1]

    central = examples["Aaron_Eckhart/Aaron_Eckhart_0001.jpg"]
    expected = crop.box_transform(crop.central_box(SIZE, SIZE, 1 / 2.2), CROP, enlarge=1.3)
    np.testing.assert_allclose(central["crop_transform"], expected, atol=1e-6)
    assert not central["has_landmarks"]

    aligned = examples["Abel_Pacheco/Abel_Pacheco_0002.jpg"]
    assert aligned["has_landmarks"]
    moved = crop.apply_transform(aligned["crop_transform"], _landmarks())
    np.testing.assert_allclose(aligned["landmarks"], moved, atol=ATOL_PIXELS)
    # The five template points of the stored landmarks sit where the template fit puts them.
    fit = crop.template_transform(_landmarks(), CROP, margin=config.margin)
    np.testing.assert_allclose(aligned["crop_transform"], fit, atol=1e-5)

    boxed = examples["Abel_Pacheco/Abel_Pacheco_0003.jpg"]
    np.testing.assert_allclose(
        boxed["crop_transform"], crop.box_transform(BOX, CROP, enlarge=1.3), atol=1e-6
    )


def test_pairs_config_gives_folds_and_skips_pairs_with_a_corrupt_image(tmp_path, kit):
    _write(tmp_path / "manual", kit)
    images = kit.build(
        LFW, LFWConfig(name="test_i", crop_size=CROP), tmp_path / "manual", tmp_path / "data"
    )
    by_path = {e["image_path"]: e for e in kit.read(images, "test", "image_path")}
    config = LFWConfig(name="test_pairs", mode="pairs", crop_size=CROP)
    builder = kit.build(LFW, config, tmp_path / "manual", tmp_path / "data")
    pairs = kit.read(builder, "test", "image_path_b")
    kit.assert_no_tensorflow()

    summary = [
        (p["fold"], bool(p["same"]), p["image_path_a"].decode(), p["image_path_b"].decode())
        for p in pairs
    ]
    assert sorted(summary) == [
        (0, False, "Aaron_Eckhart/Aaron_Eckhart_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0003.jpg"),
        (0, True, "Abel_Pacheco/Abel_Pacheco_0001.jpg", "Abel_Pacheco/Abel_Pacheco_0002.jpg"),
        (1, True, "Abel_Pacheco/Abel_Pacheco_0002.jpg", "Abel_Pacheco/Abel_Pacheco_0003.jpg"),
    ]
    assert builder.info.metadata["skipped"]["test"]["count"] == 1
    for pair in pairs:
        assert (pair["identity_a"] == pair["identity_b"]) == pair["same"]
        np.testing.assert_array_equal(pair["image_a"], by_path[pair["image_path_a"]]["image"])


def test_missing_pairs_file_and_referenced_images_are_listed(tmp_path, kit):
    manual = tmp_path / "manual"
    _write(manual, kit, pairs="1\t1\nAbel_Pacheco\t1\t9\nAaron_Eckhart\t1\tNobody\t1\n")
    config = LFWConfig(name="test_missing", mode="pairs", crop_size=CROP)
    with pytest.raises(MissingFilesError) as info:
        kit.build(LFW, config, manual, tmp_path / "data")
    assert sorted(info.value.missing) == [
        str(manual / "lfw" / "Abel_Pacheco" / "Abel_Pacheco_0009.jpg"),
        str(manual / "lfw" / "Nobody" / "Nobody_0001.jpg"),
    ]
    (manual / "pairs.txt").unlink()
    with pytest.raises(MissingFilesError, match="pairs.txt"):
        kit.build(LFW, config, manual, tmp_path / "data")


def test_read_pairs_names_a_malformed_line(tmp_path):
    path = tmp_path / "pairs.txt"
    path.write_text("1\t1\nAbel_Pacheco\t1\t2\nAaron_Eckhart\t1\tAbel_Pacheco\n")
    with pytest.raises(ValueError, match=r"line 3: expected 'name1 n1 name2 n2'"):
        read_pairs(path)
    path.write_text("2\t1\nAbel_Pacheco\t1\t2\nAaron_Eckhart\t1\tAbel_Pacheco\t3\n")
    with pytest.raises(ValueError, match="announces"):
        read_pairs(path)
