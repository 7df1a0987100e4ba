"""Native .npz model files: exact round trips, no pickle, errors that name file and field."""

import json
import zipfile

import numpy as np
import pytest

from facejax.formats.native import load_native, read_landmark_defined, save_model
from facejax.morphable import Skinning, create_model

NUM_JOINTS = 3


def _model(kit, dtype=np.float32, masks=True, skinning=True):
    mean, triangles = kit.face_grid()
    v = len(mean)
    rng = np.random.default_rng(0)
    skin = None
    if skinning:
        weights = rng.uniform(size=(v, NUM_JOINTS))
        skin = Skinning(
            joint_regressor=rng.uniform(size=(NUM_JOINTS, v)).astype(dtype),
            weights=(weights / weights.sum(-1, keepdims=True)).astype(dtype),
            pose_correctives=rng.normal(size=(v, 3, 9 * (NUM_JOINTS - 1))).astype(dtype),
            parents=np.array([-1, 0, 0], np.int32),
            joint_names=("neck", "jaw", "head"),
        )
    model = create_model(
        mean,
        triangles,
        identity_basis=rng.normal(size=(v, 3, 4)),
        identity_std=[4.0, 3.0, 2.0, 1.0],
        expression_basis=rng.normal(size=(v, 3, 2)),
        expression_std=[1.5, 0.5],
        albedo_mean=rng.uniform(size=(v, 3)),
        albedo_basis=rng.normal(size=(v, 3, 3)) * 0.1,
        albedo_std=[0.2, 0.1, 0.05],
        landmark_triangles=np.arange(68) % len(triangles),
        landmark_barycentric=rng.dirichlet(np.ones(3), size=68),
        face_mask=(np.arange(v) % 2) if masks else None,
        skin_mask=(np.arange(v) % 3 == 0) if masks else None,
        name="test face",
        units="mm",
        expression_names=("smile", "jaw_open"),
        dtype=dtype,
    )
    return model.replace(skinning=skin)


def _assert_same(a, b):
    for field in (
        "mean_shape",
        "identity_basis",
        "identity_std",
        "expression_basis",
        "expression_std",
        "albedo_mean",
        "albedo_basis",
        "albedo_std",
        "triangles",
        "landmark_triangles",
        "landmark_barycentric",
        "face_mask",
        "skin_mask",
    ):
        x, y = getattr(a, field), getattr(b, field)
        if x is None or y is None:
            assert x is None and y is None, field
            continue
        assert np.asarray(x).dtype == np.asarray(y).dtype, field
        np.testing.assert_array_equal(x, y, err_msg=field)
    assert (a.name, a.units, a.expression_names) == (b.name, b.units, b.expression_names)
    assert (a.skinning is None) == (b.skinning is None)
    if a.skinning is not None:
        for field in ("joint_regressor", "weights", "pose_correctives", "parents"):
            np.testing.assert_array_equal(
                getattr(a.skinning, field), getattr(b.skinning, field), err_msg=field
            )
        assert b.skinning.parents.dtype == np.int32
        assert a.skinning.joint_names == b.skinning.joint_names


@pytest.mark.parametrize("masks, skinning", [(True, True), (False, False)])
def test_round_trip_is_exact(tmp_path, masks, skinning, kit):
    model = _model(kit, masks=masks, skinning=skinning)
    path = tmp_path / "model.facejax"  # no .npz appended
    save_model(model, path)
    assert path.exists()
    _assert_same(model, load_native(path))


def test_round_trip_float64(tmp_path, x64, kit):
    model = _model(kit, dtype=np.float64)
    save_model(model, tmp_path / "m.npz")
    loaded = load_native(tmp_path / "m.npz")
    assert loaded.dtype == np.float64
    _assert_same(model, loaded)
    assert load_native(tmp_path / "m.npz", dtype=np.float32).dtype == np.float32


def test_metadata_is_json_without_pickle(tmp_path, kit):
    save_model(_model(kit), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as npz:
        metadata = json.loads(npz["metadata"].tobytes().decode("utf-8"))
        assert all(npz[k].dtype != object for k in npz.files)
    assert metadata["format"] == "facejax.MorphableModel" and metadata["version"] == 1
    assert metadata["skinning"]["joint_names"] == ["neck", "jaw", "head"]


def _rewrite(path, out, **changes):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del arrays[key]
    with open(out, "wb") as f:
        np.savez(f, **arrays)


def test_wrong_shape_names_file_and_field(tmp_path, kit):
    save_model(_model(kit), tmp_path / "m.npz")
    _rewrite(tmp_path / "m.npz", tmp_path / "bad.npz", identity_std=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"bad\.npz: field 'identity_std' must have 4 entries"):
        load_native(tmp_path / "bad.npz")
    _rewrite(tmp_path / "m.npz", tmp_path / "w.npz", skinning_weights=np.ones((20, 2)))
    with pytest.raises(ValueError, match=r"w\.npz: field 'skinning_weights' must have shape"):
        load_native(tmp_path / "w.npz")
    _rewrite(tmp_path / "m.npz", tmp_path / "gone.npz", albedo_basis=None)
    with pytest.raises(ValueError, match=r"gone\.npz: field\(s\) \['albedo_basis'\] missing"):
        load_native(tmp_path / "gone.npz")


def test_pickled_object_array_is_refused(tmp_path, kit):
    save_model(_model(kit), tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["extra"] = np.array([{"payload": 1}], dtype=object)
    np.savez(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(ValueError, match=r"pickled\.npz: field 'extra' is a pickled object array"):
        load_native(tmp_path / "pickled.npz")


def test_foreign_files(tmp_path, kit):
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_native(tmp_path / "missing.npz")
    np.savez(tmp_path / "plain.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match=r"plain\.npz: no 'metadata' field"):
        load_native(tmp_path / "plain.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"text\.npz: not a facejax \.npz model file"):
        load_native(tmp_path / "text.npz")
    save_model(_model(kit), tmp_path / "m.npz")
    future = json.dumps({"format": "facejax.MorphableModel", "version": 99}).encode()
    _rewrite(tmp_path / "m.npz", tmp_path / "new.npz", metadata=np.frombuffer(future, np.uint8))
    with pytest.raises(ValueError, match=r"new\.npz: written by a newer facejax"):
        load_native(tmp_path / "new.npz")
    assert zipfile.is_zipfile(tmp_path / "m.npz")


def test_landmark_defined_mask_is_kept(tmp_path, kit):
    """The landmarks an eos mapping leaves out stay marked in the file (a fit weighs them 0);
    a file without the mask defines every landmark, and the model loads the same either way."""
    model = _model(kit)
    defined = np.ones(68, bool)
    defined[[0, 1, 60, 64]] = False
    save_model(model, tmp_path / "masked.npz", landmark_defined=defined)
    np.testing.assert_array_equal(read_landmark_defined(tmp_path / "masked.npz"), defined)
    _assert_same(model, load_native(tmp_path / "masked.npz"))
    save_model(model, tmp_path / "plain.npz", landmark_defined=np.ones(68, bool))
    with np.load(tmp_path / "plain.npz") as npz:
        assert "landmark_defined" not in npz.files  # all defined: nothing stored
    assert read_landmark_defined(tmp_path / "plain.npz").all()
    with pytest.raises(ValueError, match=r"landmark_defined must be \[68\].*\(67,\)"):
        save_model(model, tmp_path / "short.npz", landmark_defined=defined[:67])
    _rewrite(tmp_path / "masked.npz", tmp_path / "bad.npz", landmark_defined=np.ones(5, bool))
    with pytest.raises(ValueError, match=r"bad\.npz: field 'landmark_defined' must be \[68\]"):
        read_landmark_defined(tmp_path / "bad.npz")
    np.savez(tmp_path / "foreign.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match=r"foreign\.npz: not a facejax \.npz model file"):
        read_landmark_defined(tmp_path / "foreign.npz")
