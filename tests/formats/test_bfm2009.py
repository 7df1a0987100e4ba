"""BFM 2009 reader against small files in the real layout (v5 and v7.3) and BFM's formula."""

import h5py
import numpy as np
import pytest
import scipy.io

from facejax.formats.bfm2009 import load_bfm2009

ATOL_MM_F32 = 1e-3  # float32 arithmetic on ~100 mm faces held in micrometres
ATOL_MM_F64 = 1e-9
ATOL_COLOUR = 1e-6
NUM_ID, NUM_TEX, NUM_EXP = 4, 3, 2


def _bfm_variables(kit):
    """The variables of 01_MorphableModel.mat, with its dtypes, shapes, units and winding."""
    mean_mm, ccw = kit.face_grid()
    v3 = mean_mm.size
    rng = np.random.default_rng(1)
    return {
        "shapeMU": (mean_mm.reshape(-1, 1) * 1000.0).astype(np.float32),  # micrometres
        "shapePC": kit.orthonormal(v3, NUM_ID, 2).astype(np.float32),
        "shapeEV": np.array([[4000.0], [2500.0], [900.0], [300.0]], np.float32),
        "texMU": rng.uniform(60, 200, size=(v3, 1)).astype(np.float32),  # 0..255
        "texPC": kit.orthonormal(v3, NUM_TEX, 3).astype(np.float32),
        "texEV": np.array([[40.0], [20.0], [5.0]], np.float32),
        "tl": (ccw[:, [0, 2, 1]] + 1).astype(np.float64),  # 1-based, clockwise from outside
        "segbin": np.ones((v3 // 3, 4), np.uint8),
    }


def _write_mat_v73(path, variables):
    """A MATLAB v7.3 file as MATLAB writes it: HDF5 after a 512-byte header, axes reversed."""
    classes = {"float32": "single", "float64": "double", "uint8": "uint8"}
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in variables.items():
            ds = f.create_dataset(name, data=np.asarray(value).T)
            ds.attrs["MATLAB_class"] = np.bytes_(classes[str(np.asarray(value).dtype)])
    with open(path, "r+b") as f:
        f.write(
            b"MATLAB 7.3 MAT-file, created by facejax tests".ljust(116) + bytes(8) + b"\x00\x02IM"
        )


def _reference_shape_mm(var, alpha, beta=None, exp=None):
    """BFM: shape = shapeMU + shapePC (alpha * shapeEV), in micrometres, float64."""
    shape = var["shapeMU"].astype(np.float64)[:, 0] + var["shapePC"].astype(np.float64) @ (
        alpha * var["shapeEV"].astype(np.float64)[:, 0]
    )
    if exp is not None:
        shape = shape + exp["expMU"][:, 0] + exp["expPC"] @ (beta * exp["expEV"][:, 0])
    return shape.reshape(-1, 3) / 1000.0


def _decode(model, alpha, beta=None, gamma=None):
    m = {k: np.asarray(getattr(model, k), np.float64) for k in ("mean_shape", "identity_basis")}
    shape = m["mean_shape"] + np.einsum(
        "vck,k->vc", m["identity_basis"], alpha * np.asarray(model.identity_std, np.float64)
    )
    if beta is not None:
        shape = shape + np.einsum(
            "vck,k->vc",
            np.asarray(model.expression_basis, np.float64),
            beta * np.asarray(model.expression_std, np.float64),
        )
    colour = None
    if gamma is not None:
        colour = np.asarray(model.albedo_mean, np.float64) + np.einsum(
            "vck,k->vc",
            np.asarray(model.albedo_basis, np.float64),
            gamma * np.asarray(model.albedo_std, np.float64),
        )
    return shape, colour


def _nose_normal_z(model):
    v = np.asarray(model.mean_shape, np.float64)
    t = np.asarray(model.triangles)
    nose = int(np.argmax(v[:, 2]))
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    return n[np.any(t == nose, axis=1)].sum(axis=0)[2]


@pytest.fixture
def bfm_v5(tmp_path, kit):
    var = _bfm_variables(kit)
    path = tmp_path / "01_MorphableModel.mat"
    scipy.io.savemat(path, var)
    return path, var


def test_v5_against_bfm_formula(bfm_v5):
    path, var = bfm_v5
    model = load_bfm2009(path)
    alpha = np.array([1.0, -2.0, 0.5, 3.0])
    gamma = np.array([-1.0, 2.0, 0.3])
    shape, colour = _decode(model, alpha, gamma=gamma)
    np.testing.assert_allclose(shape, _reference_shape_mm(var, alpha), atol=ATOL_MM_F32)
    ref_colour = var["texMU"][:, 0].astype(np.float64) + var["texPC"].astype(np.float64) @ (
        gamma * var["texEV"][:, 0]
    )
    np.testing.assert_allclose(colour, ref_colour.reshape(-1, 3) / 255.0, atol=ATOL_COLOUR)
    assert model.units == "mm" and model.dtype == np.float32
    assert model.num_identity == NUM_ID and model.num_expression == 0
    assert model.num_albedo == NUM_TEX and model.num_landmarks == 0
    # One std of the first component moves the face by shapeEV[0] = 4000 um = 4 mm.
    np.testing.assert_allclose(model.identity_std[0], 4.0, rtol=1e-6)


def test_triangles_flipped_to_outward(bfm_v5, kit):
    path, var = bfm_v5
    model = load_bfm2009(path)
    _, ccw = kit.face_grid()
    np.testing.assert_array_equal(model.triangles, ccw)
    assert model.triangles.dtype == np.int32
    assert _nose_normal_z(model) > 0


def test_float64(bfm_v5, x64):
    path, var = bfm_v5
    model = load_bfm2009(path, dtype=np.float64)
    alpha = np.array([0.3, 1.0, -1.0, 2.0])
    shape, _ = _decode(model, alpha)
    assert model.dtype == np.float64
    np.testing.assert_allclose(shape, _reference_shape_mm(var, alpha), atol=ATOL_MM_F64)


def test_v73_reads_like_v5(tmp_path, bfm_v5):
    path_v5, var = bfm_v5
    path = tmp_path / "01_MorphableModel_v73.mat"
    _write_mat_v73(path, var)
    with h5py.File(path, "r") as f:
        assert f["shapePC"].shape == (NUM_ID, var["shapeMU"].size)  # transposed on disk
    a, b = load_bfm2009(path_v5), load_bfm2009(path)
    for field in ("mean_shape", "identity_basis", "identity_std", "albedo_mean", "triangles"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)


@pytest.mark.parametrize("one_based", [False, True])
def test_landmark_file(tmp_path, bfm_v5, one_based):
    path, var = bfm_v5
    indices = np.arange(68) % 20
    lmk = tmp_path / "bfm_landmarks.txt"
    lmk.write_text(" ".join(str(i + int(one_based)) for i in indices))
    model = load_bfm2009(path, landmarks=lmk, landmarks_one_based=one_based)
    assert model.num_landmarks == 68
    corners = np.asarray(model.triangles)[np.asarray(model.landmark_triangles)]
    positions = np.einsum("lc,lcx->lx", model.landmark_barycentric, model.mean_shape[corners])
    np.testing.assert_allclose(positions, var["shapeMU"].reshape(-1, 3)[indices] / 1000.0)


def test_expression_file(tmp_path, bfm_v5, kit):
    path, var = bfm_v5
    v3 = var["shapeMU"].size
    exp = {
        "expMU": np.random.default_rng(5).normal(size=(v3, 1)) * 100.0,
        "expPC": kit.orthonormal(v3, NUM_EXP, 6),
        "expEV": np.array([[3000.0], [1000.0]]),
    }
    scipy.io.savemat(tmp_path / "exp.mat", exp)
    model = load_bfm2009(path, expression=tmp_path / "exp.mat")
    alpha, beta = np.array([1.0, 0.0, -1.0, 0.5]), np.array([2.0, -1.0])
    shape, _ = _decode(model, alpha, beta)
    np.testing.assert_allclose(shape, _reference_shape_mm(var, alpha, beta, exp), atol=ATOL_MM_F32)
    scipy.io.savemat(
        tmp_path / "small.mat",
        {k: v[:30] for k, v in exp.items() if k != "expEV"} | {"expEV": exp["expEV"]},
    )
    with pytest.raises(ValueError, match=r"small\.mat: field 'expPC' covers 10 vertices"):
        load_bfm2009(path, expression=tmp_path / "small.mat")


def test_face3d_struct_layout(tmp_path, kit):
    """face3d's BFM.mat: one struct 'model', tri as [3, F], 1-based kpt_ind, expression."""
    var = _bfm_variables(kit)
    v3 = var["shapeMU"].size
    struct = {k: var[k] for k in ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV")}
    struct["tri"] = var["tl"].T
    struct["kpt_ind"] = (np.arange(68) % 20 + 1).astype(np.float64).reshape(1, -1)
    struct["expMU"] = np.zeros((v3, 1), np.float32)
    struct["expPC"] = kit.orthonormal(v3, NUM_EXP, 7).astype(np.float32)
    struct["expEV"] = np.array([[2000.0], [500.0]], np.float32)
    scipy.io.savemat(tmp_path / "BFM.mat", {"model": struct})
    model = load_bfm2009(tmp_path / "BFM.mat")
    assert model.num_expression == NUM_EXP and model.num_landmarks == 68
    np.testing.assert_allclose(model.expression_std, [2.0, 0.5], rtol=1e-6)
    assert _nose_normal_z(model) > 0


def test_missing_and_misshapen_fields(tmp_path, kit):
    var = _bfm_variables(kit)
    scipy.io.savemat(tmp_path / "nopc.mat", {k: v for k, v in var.items() if k != "shapePC"})
    with pytest.raises(ValueError, match=r"nopc\.mat: field 'shapePC' missing"):
        load_bfm2009(tmp_path / "nopc.mat")
    bad = dict(var, shapePC=var["shapePC"][:-3])
    scipy.io.savemat(tmp_path / "short.mat", bad)
    with pytest.raises(ValueError, match=r"short\.mat: field 'identity_basis'"):
        load_bfm2009(tmp_path / "short.mat")
    scipy.io.savemat(tmp_path / "other.mat", {"foo": np.zeros((2, 2))})
    with pytest.raises(ValueError, match=r"other\.mat: no 'shapeMU'"):
        load_bfm2009(tmp_path / "other.mat")
    (tmp_path / "junk.mat").write_bytes(b"not a mat file at all" * 20)
    with pytest.raises(ValueError, match=r"junk\.mat: not a readable MATLAB"):
        load_bfm2009(tmp_path / "junk.mat")
