"""Deep3DFaceRecon BFM_model_front.mat reader against Deep3DFaceRecon's own formula."""

import numpy as np
import pytest
import scipy.io

from facejax.formats.deep3d import load_deep3d

ATOL_MM_F32 = 1e-4
ATOL_MM_F64 = 1e-10
ATOL_COLOUR = 1e-6
NUM_ID, NUM_EXP, NUM_TEX = 5, 4, 3


def _deep3d_variables(kit, winding="ccw"):
    """Variables as util/load_mats.py:transferBFM09 saves them (decimetres, bases x std)."""
    mean_mm, ccw = kit.face_grid()
    v3, num_v = mean_mm.size, len(mean_mm)
    rng = np.random.default_rng(0)
    tri = ccw if winding == "ccw" else ccw[:, [0, 2, 1]]
    return {
        "meanshape": (mean_mm.reshape(1, -1) / 100.0).astype(np.float32),  # [1, 3V] dm
        "idBase": (rng.normal(size=(v3, NUM_ID)) * 0.02).astype(np.float32),
        "exBase": rng.normal(size=(v3, NUM_EXP)) * 0.01,  # float64, as transferBFM09 makes it
        "meantex": rng.uniform(50, 200, size=(1, v3)).astype(np.float32),
        "texBase": (rng.normal(size=(v3, NUM_TEX)) * 5.0).astype(np.float32),
        "tri": (tri + 1).astype(np.float64),
        "point_buf": np.ones((num_v, 8)),
        "tri_mask2": (tri[:5] + 1).astype(np.float64),
        "keypoints": (np.arange(68) % num_v + 1).astype(np.float64).reshape(1, -1),
        "frontmask2_idx": np.array([[3], [4], [8], [9]], np.float64),
        "skinmask": (np.arange(num_v) % 2).astype(np.float64).reshape(1, -1),
    }


def _reference(var, alpha, beta, gamma):
    """models/bfm.py: shape = idBase a + exBase b + meanshape (dm); tex = texBase g + meantex."""
    f = {k: np.asarray(v, np.float64) for k, v in var.items()}
    shape = f["idBase"] @ alpha + f["exBase"] @ beta + f["meanshape"].reshape(-1)
    tex = f["texBase"] @ gamma + f["meantex"].reshape(-1)
    return shape.reshape(-1, 3) * 100.0, tex.reshape(-1, 3) / 255.0


@pytest.fixture
def deep3d_file(tmp_path, kit):
    var = _deep3d_variables(kit)
    path = tmp_path / "BFM_model_front.mat"
    scipy.io.savemat(path, var)
    return path, var


def test_coefficients_are_deep3d_coefficients(deep3d_file, kit):
    path, var = deep3d_file
    model = load_deep3d(path)
    rng = np.random.default_rng(3)
    alpha, beta, gamma = rng.normal(size=NUM_ID), rng.normal(size=NUM_EXP), rng.normal(size=3)
    shape, colour = kit.decode(model, alpha, beta, gamma)
    ref_shape, ref_colour = _reference(var, alpha, beta, gamma)
    np.testing.assert_allclose(shape, ref_shape, atol=ATOL_MM_F32)
    np.testing.assert_allclose(colour, ref_colour, atol=ATOL_COLOUR)
    for std in (model.identity_std, model.expression_std, model.albedo_std):
        np.testing.assert_array_equal(std, 1.0)
    assert model.units == "mm"


def test_float64(deep3d_file, x64, kit):
    path, var = deep3d_file
    model = load_deep3d(path, dtype=np.float64)
    alpha, beta, gamma = np.ones(NUM_ID), -np.ones(NUM_EXP), np.ones(NUM_TEX)
    shape, _ = kit.decode(model, alpha, beta, gamma)
    np.testing.assert_allclose(shape, _reference(var, alpha, beta, gamma)[0], atol=ATOL_MM_F64)


def test_units_are_millimetres(deep3d_file, kit):
    path, _ = deep3d_file
    mean_mm, _ = kit.face_grid()
    np.testing.assert_allclose(load_deep3d(path).mean_shape, mean_mm, rtol=1e-6)


def test_landmarks_and_masks(deep3d_file):
    path, var = deep3d_file
    model = load_deep3d(path)
    assert model.num_landmarks == 68
    corners = np.asarray(model.triangles)[np.asarray(model.landmark_triangles)]
    positions = np.einsum("lc,lcx->lx", model.landmark_barycentric, model.mean_shape[corners])
    keypoints = var["keypoints"].reshape(-1).astype(int) - 1
    np.testing.assert_allclose(positions, model.mean_shape[keypoints])
    expected_face = np.zeros(20)
    expected_face[[2, 3, 7, 8]] = 1.0  # frontmask2_idx is 1-based
    np.testing.assert_array_equal(model.face_mask, expected_face)
    np.testing.assert_array_equal(model.skin_mask, np.arange(20) % 2)


@pytest.mark.parametrize("winding", ["ccw", "cw"])
def test_triangles_outward_whatever_the_file_winding(tmp_path, winding, kit):
    scipy.io.savemat(tmp_path / "m.mat", _deep3d_variables(kit, winding))
    model = load_deep3d(tmp_path / "m.mat")
    _, ccw = kit.face_grid()
    np.testing.assert_array_equal(model.triangles, ccw)


def test_missing_and_bad_fields(tmp_path, kit):
    var = _deep3d_variables(kit)
    scipy.io.savemat(tmp_path / "noid.mat", {k: v for k, v in var.items() if k != "idBase"})
    with pytest.raises(ValueError, match=r"noid\.mat: field 'idBase' missing"):
        load_deep3d(tmp_path / "noid.mat")
    scipy.io.savemat(tmp_path / "kp.mat", dict(var, keypoints=np.full((1, 68), 99.0)))
    with pytest.raises(ValueError, match=r"kp\.mat: field 'landmark_vertices'"):
        load_deep3d(tmp_path / "kp.mat")
    scipy.io.savemat(tmp_path / "mask.mat", dict(var, frontmask2_idx=np.array([[0.0]])))
    with pytest.raises(ValueError, match=r"mask\.mat: field 'frontmask2_idx'"):
        load_deep3d(tmp_path / "mask.mat")
