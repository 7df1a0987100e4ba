"""Landmark files: .pts, .npy, .json, 300W-LP/AFLW2000-3D .mat, and vertex-index files."""

import json

import h5py
import numpy as np
import pytest
import scipy.io

from facejax.formats.landmark_files import read_landmarks, read_vertex_indices, write_pts

ATOL_TEXT = 1e-12  # decimal text of float64 values written with 17 significant digits
MATLAB_TO_FACEJAX = -0.5  # top-left pixel centre: (1, 1) in MATLAB, (0.5, 0.5) in facejax


def _points(n=68, dims=2, seed=0):
    return np.random.default_rng(seed).uniform(5.0, 200.0, size=(n, dims))


def _write_mat_v73(path, variables):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 after a 512-byte header, axes reversed."""
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            data = np.atleast_2d(np.asarray(value))
            f.create_dataset(name, data=data.T).attrs["MATLAB_class"] = np.bytes_("double")
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created by: facejax tests".ljust(116)
    with open(path, "r+b") as f:
        f.write(header + bytes(8) + b"\x00\x02IM")


def test_pts_hand_written_is_one_based(tmp_path):
    path = tmp_path / "image_0001.pts"
    body = "\n".join(f"{i + 1}.0 {2 * i + 1}" for i in range(68))
    path.write_text(f"version: 1\nn_points:  68\n{{\n{body}\n}}\n")
    points = read_landmarks(path)
    expected = np.stack([np.arange(68) + 1.0, 2 * np.arange(68) + 1.0], axis=-1)
    np.testing.assert_allclose(points, expected + MATLAB_TO_FACEJAX, atol=ATOL_TEXT)
    # The top-left pixel centre (1, 1) lands on (0.5, 0.5).
    np.testing.assert_allclose(points[0], [0.5, 0.5])


def test_pts_round_trip(tmp_path):
    points = _points()
    write_pts(tmp_path / "a.pts", points)
    np.testing.assert_allclose(read_landmarks(tmp_path / "a.pts"), points, atol=ATOL_TEXT)
    assert (tmp_path / "a.pts").read_text().startswith("version: 1\nn_points: 68\n{\n")


def test_conventions(tmp_path):
    points = _points()
    np.save(tmp_path / "a.npy", points)
    got = {
        c: read_landmarks(tmp_path / "a.npy", convention=c)
        for c in ("facejax", "one_based", "zero_based")
    }
    np.testing.assert_allclose(got["facejax"], points)
    np.testing.assert_allclose(got["one_based"], points - 0.5)
    np.testing.assert_allclose(got["zero_based"], points + 0.5)
    with pytest.raises(ValueError, match="unknown convention"):
        read_landmarks(tmp_path / "a.npy", convention="pixel")


def test_pts_wrong_count_names_file_and_count(tmp_path):
    write_pts(tmp_path / "few.pts", _points(n=67))
    with pytest.raises(ValueError, match=r"few\.pts: expected 68 landmarks, found 67"):
        read_landmarks(tmp_path / "few.pts")
    assert read_landmarks(tmp_path / "few.pts", num_points=None).shape == (67, 2)
    path = tmp_path / "lie.pts"
    path.write_text("version: 1\nn_points: 68\n{\n1 2\n3 4\n}\n")
    with pytest.raises(ValueError, match=r"lie\.pts: header says n_points 68, found 2"):
        read_landmarks(path)


def test_pts_malformed_line(tmp_path):
    path = tmp_path / "bad.pts"
    path.write_text("version: 1\nn_points: 2\n{\n1 2\n3 four\n}\n")
    with pytest.raises(ValueError, match=r"bad\.pts, line 5: bad point"):
        read_landmarks(path, num_points=2)


def test_nan_points_are_rejected(tmp_path):
    points = _points()
    points[[3, 40]] = np.nan
    np.save(tmp_path / "nan.npy", points)
    with pytest.raises(ValueError, match=r"nan\.npy: 2 landmark\(s\) are NaN.*\[3, 40\]"):
        read_landmarks(tmp_path / "nan.npy")


def test_npy_without_pickle(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r"obj\.npy: cannot read as a plain numeric"):
        read_landmarks(tmp_path / "obj.npy")


@pytest.mark.parametrize("wrap", [False, True])
def test_json(tmp_path, wrap):
    points = _points(dims=3)
    data = {"landmarks": points.tolist(), "image": "a.png"} if wrap else points.tolist()
    (tmp_path / "a.json").write_text(json.dumps(data))
    np.testing.assert_allclose(read_landmarks(tmp_path / "a.json"), points)


def test_json_without_landmarks_key(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"points": []}))
    with pytest.raises(ValueError, match="no 'landmarks' key"):
        read_landmarks(tmp_path / "a.json")


def test_300wlp_mat_v5(tmp_path):
    pt2d = _points().T  # [2, 68], as 300W-LP stores it
    scipy.io.savemat(tmp_path / "AFW_1_0.mat", {"pt2d": pt2d, "Pose_Para": np.zeros((1, 7))})
    got = read_landmarks(tmp_path / "AFW_1_0.mat")
    np.testing.assert_allclose(got, pt2d.T + MATLAB_TO_FACEJAX)


def test_aflw2000_prefers_pt3d_68_and_keeps_depth(tmp_path):
    pt3d = _points(dims=3).T  # [3, 68]
    pt2d_aflw21 = _points(n=21).T
    scipy.io.savemat(tmp_path / "image00002.mat", {"pt3d_68": pt3d, "pt2d": pt2d_aflw21})
    got = read_landmarks(tmp_path / "image00002.mat")
    expected = pt3d.T.copy()
    expected[:, :2] += MATLAB_TO_FACEJAX
    np.testing.assert_allclose(got, expected)
    got21 = read_landmarks(tmp_path / "image00002.mat", num_points=21, field="pt2d")
    np.testing.assert_allclose(got21, pt2d_aflw21.T + MATLAB_TO_FACEJAX)
    with pytest.raises(ValueError, match=r"image00002\.mat: expected 68 landmarks, found 21"):
        read_landmarks(tmp_path / "image00002.mat", field="pt2d")


def test_mat_v73_layout(tmp_path):
    pt2d = _points().T
    _write_mat_v73(tmp_path / "v73.mat", {"pt2d": pt2d})
    with h5py.File(tmp_path / "v73.mat", "r") as f:
        assert f["pt2d"].shape == (68, 2)  # reversed, as MATLAB leaves it
    np.testing.assert_allclose(read_landmarks(tmp_path / "v73.mat"), pt2d.T - 0.5)


def test_mat_without_landmarks(tmp_path):
    scipy.io.savemat(tmp_path / "x.mat", {"roi": np.zeros((1, 4))})
    with pytest.raises(ValueError, match=r"x\.mat: no landmark field.*roi"):
        read_landmarks(tmp_path / "x.mat")


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pts"):
        read_landmarks(tmp_path / "nope.pts")
    (tmp_path / "a.csv").write_text("1,2\n")
    with pytest.raises(ValueError, match=r"unknown landmark file type '\.csv'"):
        read_landmarks(tmp_path / "a.csv")


def test_vertex_indices(tmp_path):
    indices = np.arange(68) * 3
    (tmp_path / "one.txt").write_text("\n".join(str(i + 1) for i in indices))
    np.testing.assert_array_equal(
        read_vertex_indices(tmp_path / "one.txt", one_based=True), indices
    )
    np.save(tmp_path / "zero.npy", indices.astype(np.int32))
    np.testing.assert_array_equal(read_vertex_indices(tmp_path / "zero.npy"), indices)
    (tmp_path / "csv.txt").write_text(", ".join(str(i) for i in indices))
    np.testing.assert_array_equal(read_vertex_indices(tmp_path / "csv.txt"), indices)
    with pytest.raises(ValueError, match=r"zero\.npy: negative vertex index for a 1-based file"):
        read_vertex_indices(tmp_path / "zero.npy", one_based=True)
    with pytest.raises(ValueError, match=r"expected 5 vertex indices, found 68"):
        read_vertex_indices(tmp_path / "zero.npy", num_points=5)
    (tmp_path / "frac.txt").write_text("1.5 2")
    with pytest.raises(ValueError, match="must be integers"):
        read_vertex_indices(tmp_path / "frac.txt", num_points=None)
