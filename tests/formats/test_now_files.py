"""NoW files: MeshLab .pp landmarks in the real XML syntax, prediction folders with problems."""

import numpy as np
import pytest

from facejax.formats.mesh_files import write_obj, write_ply
from facejax.formats.now_files import (
    NoWPrediction,
    now_predictions,
    read_image_list,
    read_now_scan,
    read_picked_points,
)

PP = """<!DOCTYPE PickedPoints>
<PickedPoints>
 <DocumentData>
  <DateTime time="16:00:08" date="2019-02-05"/>
  <User name="annotator"/>
  <DataFileName name="natural_head_rotation.000001.obj"/>
  <templateName name=""/>
 </DocumentData>
 <point x="-43.5" y="26.25" z="-24.0" active="1" name="0"/>
 <point x="-15.25" y="25.0" z="-20.5" active="1" name="1"/>
 <point x="15.0" y="25.5" z="-20.0" active="1" name="2"/>
 <point x="44.0" y="26.0" z="-24.5" active="1" name="3"/>
 <point active="1" name="4" z="1.5" y="-10.75" x="0.25"/>
 <point x="-22.0" y="-30.0" z="-15.0" active="1" name="5"/>
 <point x="22.5" y="-30.5" z="-15.25" active="1" name="6"/>
</PickedPoints>
"""


def test_picked_points_file_is_read_in_file_order(tmp_path):
    path = tmp_path / "natural_head_rotation.000001_picked_points.pp"
    path.write_text(PP)
    points = read_picked_points(path)
    assert points.shape == (7, 3)
    np.testing.assert_array_equal(points[0], [-43.5, 26.25, -24.0])
    np.testing.assert_array_equal(points[4], [0.25, -10.75, 1.5])  # attributes in any order
    (tmp_path / "bad.pp").write_text("<PickedPoints><point x='1' y='2'/></PickedPoints>")
    with pytest.raises(ValueError, match="bad.pp"):
        read_picked_points(tmp_path / "bad.pp")


def test_missing_and_malformed_predictions_are_named(tmp_path):
    rng = np.random.default_rng(0)
    vertices = rng.normal(size=(10, 3))
    triangles = np.array([[0, 1, 2], [2, 3, 4], [5, 6, 9]])
    landmarks = rng.normal(size=(7, 3))
    folder = tmp_path / "predictions" / "FaMoS_1" / "selfie"
    folder.mkdir(parents=True)
    write_obj(folder / "IMG_1.obj", vertices, triangles)
    np.save(folder / "IMG_1.npy", landmarks)
    write_ply(folder / "IMG_2.ply", vertices, triangles)
    np.savetxt(folder / "IMG_2.txt", landmarks)
    write_obj(folder / "IMG_3.obj", vertices, triangles)  # no landmarks
    np.save(folder / "IMG_4.npy", landmarks)  # no mesh
    (folder / "IMG_5.obj").write_text("v 0 0 0\nf 1 2 3\n")  # index out of range
    np.save(folder / "IMG_5.npy", landmarks)
    write_obj(folder / "IMG_6.obj", vertices, triangles)
    np.save(folder / "IMG_6.npy", landmarks[:6])  # 6 landmarks
    images = [f"FaMoS_1/selfie/IMG_{i}.jpg" for i in range(1, 7)]
    result = dict(now_predictions(tmp_path / "predictions", images))
    assert list(result) == [f"FaMoS_1/selfie/IMG_{i}" for i in range(1, 7)]
    for ok in ("FaMoS_1/selfie/IMG_1", "FaMoS_1/selfie/IMG_2"):
        assert isinstance(result[ok], NoWPrediction)
        np.testing.assert_allclose(result[ok].landmarks, landmarks)
        assert result[ok].triangles.shape == triangles.shape
    problems = {k: v for k, v in result.items() if isinstance(v, str)}
    assert problems["FaMoS_1/selfie/IMG_3"].startswith("no landmarks:")
    assert "IMG_3.npy" in problems["FaMoS_1/selfie/IMG_3"]
    assert problems["FaMoS_1/selfie/IMG_4"].startswith("no mesh:")
    assert "IMG_5.obj" in problems["FaMoS_1/selfie/IMG_5"]
    assert "IMG_6.npy" in problems["FaMoS_1/selfie/IMG_6"]
    assert "[7, 3]" in problems["FaMoS_1/selfie/IMG_6"]


def test_image_list_adds_the_extension_and_names_bad_lines(tmp_path):
    path = tmp_path / "imagepathsvalidation.txt"
    path.write_text("FaMoS_1/selfie/IMG_1.jpg\nFaMoS_1/multiview_neutral/IMG_2\n\n")
    assert read_image_list(path) == [
        "FaMoS_1/selfie/IMG_1.jpg",
        "FaMoS_1/multiview_neutral/IMG_2.jpg",
    ]
    path.write_text("FaMoS_1/IMG_1.jpg\n")
    with pytest.raises(ValueError, match="imagepathsvalidation.txt"):
        read_image_list(path)


def test_scan_and_its_landmarks_are_read_or_the_missing_file_named(tmp_path):
    subject = "FaMoS_180424_03335_TA"
    with pytest.raises(FileNotFoundError, match=f"scans/{subject}"):
        read_now_scan(tmp_path, subject)
    (tmp_path / "scans" / subject).mkdir(parents=True)
    vertices = np.random.default_rng(0).normal(size=(5, 3))
    write_obj(
        tmp_path / "scans" / subject / "natural_head_rotation.000001.obj", vertices, [[0, 1, 2]]
    )
    with pytest.raises(FileNotFoundError, match=f"scans_lmks_onlypp/{subject}"):
        read_now_scan(tmp_path, subject)
    (tmp_path / "scans_lmks_onlypp" / subject).mkdir(parents=True)
    (
        tmp_path / "scans_lmks_onlypp" / subject / "natural_head_rotation_picked_points.pp"
    ).write_text(PP)
    scan = read_now_scan(tmp_path, subject)
    np.testing.assert_allclose(scan.vertices, vertices, atol=1e-6)  # OBJ text precision
    assert scan.landmarks.shape == (7, 3) and scan.triangles.tolist() == [[0, 1, 2]]
