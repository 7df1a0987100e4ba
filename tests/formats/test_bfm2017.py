"""BFM 2017 reader against a small file in the statismo HDF5 layout and the model's formula."""

import json

import h5py
import numpy as np
import pytest

from facejax.formats.bfm2017 import load_bfm2017

ATOL_MM_F32 = 1e-4  # float32 arithmetic on ~100 mm faces
ATOL_MM_F64 = 1e-10
ATOL_COLOUR = 1e-6
NUM_ID, NUM_EXP, NUM_COLOUR = 5, 3, 2


def _pca(kit, mean, num, seed, scale):
    rng = np.random.default_rng(seed)
    return {
        "mean": mean.astype(np.float32),
        "pcaBasis": kit.orthonormal(mean.size, num, seed).astype(np.float32),
        "pcaVariance": (np.sort(rng.uniform(0.5, 2.0, num))[::-1] * scale).astype(np.float32),
        "noiseVariance": np.float32(1e-3),
    }


def _write_bfm2017(kit, path, drop=None):
    mean_mm, ccw = kit.face_grid()
    v3 = mean_mm.size
    groups = {
        "shape": _pca(kit, mean_mm.reshape(-1), NUM_ID, 1, 25.0),
        "expression": _pca(kit, np.random.default_rng(2).normal(size=v3) * 0.5, NUM_EXP, 3, 9.0),
        "color": _pca(kit, np.full(v3, 0.55), NUM_COLOUR, 4, 0.01),
    }
    with h5py.File(path, "w") as f:
        for group, model in groups.items():
            for key, value in model.items():
                if f"{group}/model/{key}" != drop:
                    f[f"{group}/model/{key}"] = value
            f[f"{group}/representer/points"] = mean_mm.T.astype(np.float32)  # [3, V]
            if f"{group}/representer/cells" != drop:
                f[f"{group}/representer/cells"] = ccw.T.astype(np.uint32)  # [3, F], 0-based
        lmk = [{"id": "center.nose.tip", "coordinates": [0.0, 0.0, 90.0], "uncertainty": [1, 1, 1]}]
        f["metadata/landmarks/json"] = json.dumps(lmk)
    return groups


@pytest.fixture
def bfm_file(tmp_path, kit):
    path = tmp_path / "model2017-1_face12_nomouth.h5"
    return path, _write_bfm2017(kit, path)


def _reference(groups, alpha, beta, gamma):
    """Statismo: x = mean + U sqrt(variance) * c for each model; expression adds to shape."""

    def sample(model, c):
        m = {k: np.asarray(v, np.float64) for k, v in model.items()}
        return m["mean"] + m["pcaBasis"] @ (np.sqrt(m["pcaVariance"]) * c)

    shape = sample(groups["shape"], alpha) + sample(groups["expression"], beta)
    return shape.reshape(-1, 3), sample(groups["color"], gamma).reshape(-1, 3)


def test_against_statismo_formula(bfm_file, kit):
    path, groups = bfm_file
    model = load_bfm2017(path)
    alpha, beta, gamma = np.arange(NUM_ID) - 2.0, np.array([1.0, -1.0, 2.0]), np.array([1.5, -1])
    shape, colour = kit.decode(model, alpha, beta, gamma)
    ref_shape, ref_colour = _reference(groups, alpha, beta, gamma)
    np.testing.assert_allclose(shape, ref_shape, atol=ATOL_MM_F32)
    np.testing.assert_allclose(colour, ref_colour, atol=ATOL_COLOUR)
    np.testing.assert_allclose(
        model.identity_std, np.sqrt(groups["shape"]["pcaVariance"]), rtol=1e-6
    )
    assert (model.num_identity, model.num_expression, model.num_albedo) == (5, 3, 2)
    assert model.units == "mm" and model.num_landmarks == 0


def test_float64_and_mean_includes_expression_mean(bfm_file, x64):
    path, groups = bfm_file
    model = load_bfm2017(path, dtype=np.float64)
    ref, _ = _reference(groups, np.zeros(NUM_ID), np.zeros(NUM_EXP), np.zeros(NUM_COLOUR))
    np.testing.assert_allclose(model.mean_shape, ref, atol=ATOL_MM_F64)


def test_triangles_outward(bfm_file, kit):
    path, _ = bfm_file
    model = load_bfm2017(path)
    _, ccw = kit.face_grid()
    np.testing.assert_array_equal(model.triangles, ccw)
    v = np.asarray(model.mean_shape, np.float64)
    t = np.asarray(model.triangles)
    nose = int(np.argmax(v[:, 2]))
    n = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    assert n[np.any(t == nose, axis=1)].sum(axis=0)[2] > 0


def test_landmark_file(tmp_path, bfm_file):
    path, _ = bfm_file
    np.save(tmp_path / "lmk.npy", np.arange(68) % 20)
    model = load_bfm2017(path, landmarks=tmp_path / "lmk.npy")
    assert model.num_landmarks == 68


def test_without_expression_and_colour(tmp_path, kit):
    mean_mm, ccw = kit.face_grid()
    with h5py.File(tmp_path / "shape_only.h5", "w") as f:
        for key, value in _pca(kit, mean_mm.reshape(-1), 2, 1, 4.0).items():
            f[f"shape/model/{key}"] = value
        f["shape/representer/cells"] = ccw.T
    model = load_bfm2017(tmp_path / "shape_only.h5")
    assert model.num_expression == 0 and model.num_albedo == 0


@pytest.mark.parametrize(
    "drop, message",
    [
        ("shape/model/pcaBasis", r"field '/shape/model/pcaBasis' missing"),
        ("shape/representer/cells", r"field '/shape/representer/cells' missing"),
        ("color/model/pcaVariance", r"field '/color/model/pcaVariance' missing"),
    ],
)
def test_missing_datasets(tmp_path, drop, message, kit):
    path = tmp_path / "broken.h5"
    _write_bfm2017(kit, path, drop=drop)
    with pytest.raises(ValueError, match=rf"broken\.h5: {message}"):
        load_bfm2017(path)


def test_misshapen_basis_and_non_hdf5(tmp_path, kit):
    path = tmp_path / "bad.h5"
    _write_bfm2017(kit, path)
    with h5py.File(path, "r+") as f:
        del f["expression/model/pcaBasis"]
        f["expression/model/pcaBasis"] = np.zeros((7, NUM_EXP), np.float32)
    with pytest.raises(ValueError, match=r"bad\.h5: field '/expression/model/pcaBasis' must be"):
        load_bfm2017(path)
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match=r"text\.h5: not an HDF5 file"):
        load_bfm2017(tmp_path / "text.h5")
