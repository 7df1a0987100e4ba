"""load_model / detect_format: detection by extension and keys, dispatch, and clear errors."""

import pickle
import sys
import types

import h5py
import numpy as np
import pytest
import scipy.io

from facejax.formats import detect_format, load_model, save_model
from facejax.morphable import create_model


def _bfm2009(kit, path):
    mean, tri = kit.face_grid()
    scipy.io.savemat(
        path,
        {
            "shapeMU": mean.reshape(-1, 1) * 1000.0,
            "shapePC": np.eye(mean.size, 2),
            "shapeEV": np.ones((2, 1)),
            "tl": tri[:, [0, 2, 1]] + 1.0,
        },
    )


def _deep3d(kit, path):
    mean, tri = kit.face_grid()
    scipy.io.savemat(
        path,
        {
            "meanshape": mean.reshape(1, -1) / 100.0,
            "idBase": np.eye(mean.size, 2),
            "exBase": np.eye(mean.size, 1),
            "meantex": np.full((1, mean.size), 128.0),
            "texBase": np.eye(mean.size, 1),
            "tri": tri + 1.0,
        },
    )


def test_detect_by_extension_and_keys(tmp_path, kit):
    mean, tri = kit.face_grid()
    save_model(create_model(mean, tri), tmp_path / "m.npz")
    _bfm2009(kit, tmp_path / "bfm.mat")
    _deep3d(kit, tmp_path / "deep.mat")
    with h5py.File(tmp_path / "model2017.h5", "w") as f:
        f["shape/model/mean"] = mean.reshape(-1)
    (tmp_path / "sfm.bin").write_bytes(b"\x00")
    with open(tmp_path / "flame.pkl", "wb") as f:
        pickle.dump({"v_template": np.zeros((3, 3)), "f": np.zeros((1, 3))}, f, protocol=2)
    with open(tmp_path / "bfm_noneck.pkl", "wb") as f:
        pickle.dump({"u": np.zeros(9), "w_shp": np.zeros((9, 2)), "w_exp": 0}, f)
    with open(tmp_path / "3ddfa_v1.pkl", "wb") as f:
        pickle.dump({"u_shp": np.zeros(9), "u_exp": np.zeros(9), "w_shp": np.zeros((9, 2))}, f)
    expected = {
        "m.npz": "native",
        "bfm.mat": "bfm2009",
        "deep.mat": "deep3d",
        "model2017.h5": "bfm2017",
        "sfm.bin": "eos",
        "flame.pkl": "flame",
        "bfm_noneck.pkl": "3ddfa",
        "3ddfa_v1.pkl": "3ddfa",
    }
    for name, fmt in expected.items():
        assert detect_format(tmp_path / name) == fmt, name


def test_pickle_detection_never_unpickles(tmp_path):
    marker = tmp_path / "unpickled"

    class Trap:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(tmp_path / "trap.pkl", "wb") as f:
        pickle.dump({"v_template": Trap()}, f)
    assert detect_format(tmp_path / "trap.pkl") == "flame"
    assert not marker.exists()


def test_unknown_and_ambiguous_files(tmp_path):
    (tmp_path / "face.stl").write_text("solid")
    with pytest.raises(ValueError, match=r"face\.stl: unknown model file type.*format=.*'bfm2017'"):
        detect_format(tmp_path / "face.stl")
    scipy.io.savemat(tmp_path / "odd.mat", {"vertices": np.zeros((3, 3))})
    with pytest.raises(ValueError, match=r"odd\.mat: .*matches no known layout.*'deep3d'"):
        load_model(tmp_path / "odd.mat")
    scipy.io.savemat(
        tmp_path / "both.mat", {"shapeMU": np.zeros((3, 1)), "meanshape": 0, "idBase": 0}
    )
    with pytest.raises(ValueError, match=r"both\.mat: .*matches bfm2009 and deep3d"):
        detect_format(tmp_path / "both.mat")
    with open(tmp_path / "other.pkl", "wb") as f:
        pickle.dump({"weights": [1, 2]}, f)
    with pytest.raises(ValueError, match=r"other\.pkl: cannot tell the model format"):
        detect_format(tmp_path / "other.pkl")


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mat"):
        load_model(tmp_path / "nowhere.mat")
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mat"):
        detect_format(str(tmp_path / "nowhere.mat"))


def test_unknown_format_argument(tmp_path, kit):
    _bfm2009(kit, tmp_path / "bfm.mat")
    with pytest.raises(ValueError, match=r"unknown model format 'bfm2019'.*'native', 'bfm2009'"):
        load_model(tmp_path / "bfm.mat", format="bfm2019")


def test_dispatch_reads_the_models(tmp_path, kit):
    mean, tri = kit.face_grid()
    _bfm2009(kit, tmp_path / "bfm.mat")
    _deep3d(kit, tmp_path / "deep.mat")
    bfm = load_model(str(tmp_path / "bfm.mat"), dtype=np.float64)
    deep = load_model(tmp_path / "deep.mat")
    for model in (bfm, deep):
        np.testing.assert_allclose(model.mean_shape, mean, rtol=1e-6)
        np.testing.assert_array_equal(model.triangles, tri)
    assert bfm.dtype == np.float64 and bfm.name.startswith("bfm2009")
    assert deep.name.startswith("deep3d")
    save_model(deep, tmp_path / "converted.npz")
    native = load_model(tmp_path / "converted.npz")
    np.testing.assert_array_equal(native.identity_basis, deep.identity_basis)
    # format= overrides detection: a Deep3D file read as BFM 2009 fails on BFM's keys.
    with pytest.raises(ValueError, match=r"deep\.mat: no 'shapeMU'"):
        load_model(tmp_path / "deep.mat", format="bfm2009")


@pytest.mark.parametrize(
    "fmt, module, function, kwargs",
    [
        ("3ddfa", "facejax.formats.threeddfa", "load_3ddfa", {"triangles_path": "tri.mat"}),
        ("flame", "facejax.formats.flame", "load_flame", {"landmarks_path": "lmk.npy"}),
    ],
)
def test_dispatch_to_other_readers(tmp_path, monkeypatch, fmt, module, function, kwargs):
    calls = []
    fake = types.ModuleType(module)
    setattr(fake, function, lambda path, **kw: calls.append((path, kw)) or "model")
    monkeypatch.setitem(sys.modules, module, fake)
    (tmp_path / "x.pkl").write_bytes(b"")
    assert load_model(tmp_path / "x.pkl", format=fmt, **kwargs) == "model"
    assert calls == [(str(tmp_path / "x.pkl"), kwargs)]


@pytest.mark.parametrize(
    "source, variant", [("synthetic", "default"), ("synthetic:small", "small")]
)
def test_synthetic_dispatch(monkeypatch, source, variant):
    calls = []
    fake = types.ModuleType("facejax.synthetic")
    fake.synthetic_model = lambda variant="default": calls.append(variant) or "model"
    monkeypatch.setitem(sys.modules, "facejax.synthetic", fake)
    assert load_model(source) == "model"
    assert calls == [variant]


def test_options_are_checked_against_the_reader(tmp_path, kit):
    _deep3d(kit, tmp_path / "deep.mat")
    with pytest.raises(
        ValueError, match=r"the deep3d reader takes no landmarks= \(it takes: dtype=\)"
    ):
        load_model(tmp_path / "deep.mat", landmarks="lmk.npy")


def test_landmarks_reach_readers_that_call_it_landmarks_path(tmp_path, monkeypatch):
    calls = []

    def load_flame(path, landmarks_path=None):
        calls.append(landmarks_path)
        return "model"

    fake = types.ModuleType("facejax.formats.flame")
    fake.load_flame = load_flame
    monkeypatch.setitem(sys.modules, "facejax.formats.flame", fake)
    (tmp_path / "generic_model.pkl").write_bytes(b"")
    assert load_model(tmp_path / "generic_model.pkl", format="flame", landmarks="e.npy") == "model"
    assert calls == ["e.npy"]
