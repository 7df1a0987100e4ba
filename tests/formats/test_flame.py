"""FLAME pickles: a 30-vertex file laid out like generic_model.pkl, read without chumpy."""

import pickle
import sys
import types

import jax
import numpy as np
import pytest
import scipy.sparse

from facejax.formats.flame import load_flame
from facejax.formats.restricted_pickle import RefusedClassError
from facejax.morphable.skinning import articulate

ATOL_MM_F64 = 1e-9  # decoded / articulated vertices, float64 (~100 mm coordinates)
NX, NY = 6, 5
NUM_JOINTS = 5
PARENTS = np.array([-1, 0, 1, 1, 1])  # global, neck, jaw, left eye, right eye


def _instance(cls, state):
    obj = object.__new__(cls)
    obj.__dict__.update(state)
    return obj


def _flame_arrays(seed=0):
    """Arrays with FLAME's keys, dtypes and shape pattern, in metres, CCW triangles."""
    rng = np.random.default_rng(seed)
    x, y = np.meshgrid(np.linspace(-0.08, 0.08, NX), np.linspace(-0.1, 0.1, NY))
    z = 0.1 - (x**2 + y**2) / 0.2
    template = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    num_vertices = len(template)
    tris = []
    for i in range(NY - 1):
        for j in range(NX - 1):
            k = i * NX + j
            tris += [[k, k + 1, k + NX], [k + 1, k + NX + 1, k + NX]]
    regressor = np.where(rng.uniform(size=(NUM_JOINTS, num_vertices)) < 0.3, 1.0, 0.0)
    regressor[:, 0] = 1.0  # every joint regresses from some vertices
    regressor /= regressor.sum(axis=1, keepdims=True)
    weights = rng.uniform(size=(num_vertices, NUM_JOINTS)) ** 4
    weights /= weights.sum(axis=1, keepdims=True)
    return {
        "v_template": template,
        "shapedirs": rng.normal(scale=2e-3, size=(num_vertices, 3, 400)),
        "posedirs": rng.normal(scale=1e-3, size=(num_vertices, 3, 9 * (NUM_JOINTS - 1))),
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.array([[2**32 - 1, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "f": np.array(tris, dtype=np.uint32),
    }


def _write_flame(path, monkeypatch, kit, arrays):
    """Pickles ``arrays`` as FLAME's file holds them: chumpy Ch, old-path scipy csc_matrix."""
    setstate = {"__setstate__": lambda self, state: self.__dict__.update(state)}
    ch = kit.fake_class("chumpy.ch", "Ch", **setstate)
    csc = kit.fake_class("scipy.sparse.csc", "csc_matrix", **setstate)
    sparse = scipy.sparse.csc_matrix(arrays["J_regressor"])
    chumpy_state = {"_dirty_vars": set(), "_itr": None, "_depends_on_deps": {}}
    obj = dict(arrays)
    obj["shapedirs"] = _instance(ch, {"x": arrays["shapedirs"], **chumpy_state})
    obj["J"] = _instance(ch, {"x": arrays["J_regressor"] @ arrays["v_template"], **chumpy_state})
    obj["J_regressor"] = _instance(
        csc,
        {
            "_shape": sparse.shape,
            "data": sparse.data,
            "indices": sparse.indices,
            "indptr": sparse.indptr,
            "maxprint": 50,
            "format": "csc",
        },
    )
    obj["bs_style"], obj["bs_type"] = "lbs", "lrotmin"
    data = kit.dump_with_fake_modules(monkeypatch, obj, [ch, csc])
    assert b"chumpy.ch\nCh\n" in data and b"scipy.sparse.csc\ncsc_matrix\n" in data
    path.write_bytes(data)


def _rodrigues(v):
    theta = np.linalg.norm(v)
    if theta == 0.0:
        return np.eye(3)
    k = v / theta
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(theta) * kx + (1.0 - np.cos(theta)) * kx @ kx


def _flame_reference_mm(arrays, betas, pose):
    """FLAME's forward pass (smplx ``lbs``) in metres, numpy float64, then millimetres."""
    v = arrays["v_template"] + np.einsum("vck,k->vc", arrays["shapedirs"], betas)
    joints = arrays["J_regressor"] @ v
    rot = np.stack([_rodrigues(p) for p in pose])
    feature = (rot[1:] - np.eye(3)).reshape(-1)
    v = v + np.einsum("vcp,p->vc", arrays["posedirs"], feature)
    world = [np.eye(4)] * NUM_JOINTS
    for j in range(NUM_JOINTS):
        local = np.eye(4)
        local[:3, :3] = rot[j]
        local[:3, 3] = joints[j] - (joints[PARENTS[j]] if j else 0.0)
        world[j] = local if j == 0 else world[PARENTS[j]] @ local
    rel = np.stack(world)
    rel[:, :3, 3] -= np.einsum("jab,jb->ja", rel[:, :3, :3], joints)
    blended = np.einsum("vj,jab->vab", arrays["weights"], rel)
    posed = np.einsum("vab,vb->va", blended[:, :3, :3], v) + blended[:, :3, 3]
    return posed * 1000.0


def test_decoded_and_articulated_match_flame(tmp_path, monkeypatch, x64, kit):
    arrays = _flame_arrays()
    path = tmp_path / "generic_model.pkl"
    _write_flame(path, monkeypatch, kit, arrays)
    assert "chumpy" not in sys.modules
    model = load_flame(path, dtype=np.float64)
    assert (model.num_identity, model.num_expression, model.num_vertices) == (300, 100, NX * NY)
    np.testing.assert_array_equal(model.identity_std, 1.0)
    np.testing.assert_array_equal(model.expression_std, 1.0)
    assert model.skinning.joint_names == ("global", "neck", "jaw", "left_eye", "right_eye")
    np.testing.assert_array_equal(model.skinning.parents, PARENTS)
    assert model.skinning.parents.dtype == np.int32
    rng = np.random.default_rng(1)
    shape, expression = rng.normal(size=300), rng.normal(size=100)
    pose = rng.normal(scale=0.3, size=(NUM_JOINTS, 3))
    shaped = (
        model.mean_shape
        + np.einsum("vck,k->vc", model.identity_basis, shape * model.identity_std)
        + np.einsum("vck,k->vc", model.expression_basis, expression * model.expression_std)
    )
    betas = np.concatenate([shape, expression])
    np.testing.assert_allclose(
        shaped, _flame_reference_mm(arrays, betas, np.zeros((5, 3))), rtol=0, atol=ATOL_MM_F64
    )
    posed = jax.jit(articulate)(model, shaped, pose)
    expected = _flame_reference_mm(arrays, betas, pose)
    np.testing.assert_allclose(np.asarray(posed), expected, rtol=0, atol=ATOL_MM_F64)
    assert np.abs(expected - shaped).max() > 1.0  # the pose does move the head (mm)


def test_units_winding_and_float32(tmp_path, monkeypatch, kit):
    arrays = _flame_arrays()
    path = tmp_path / "generic_model.pkl"
    _write_flame(path, monkeypatch, kit, arrays)
    model = load_flame(path)
    assert model.dtype == np.float32 and model.units == "mm"
    assert 150.0 < np.ptp(model.mean_shape[:, 0]) < 170.0  # 16 cm wide, not 0.16
    np.testing.assert_array_equal(model.triangles, arrays["f"].astype(np.int32))  # kept: CCW
    v, t = np.float64(model.mean_shape), model.triangles
    tip = int(np.argmax(v[:, 2]))  # the nose tip of the cap: its normals point out (+z)
    assert _normals(v, t)[np.any(t == tip, axis=1), 2].sum() > 0
    # A file wound the other way is turned outwards.
    _write_flame(path, monkeypatch, kit, dict(arrays, f=arrays["f"][:, ::-1].copy()))
    rewound = load_flame(path).triangles
    np.testing.assert_array_equal(np.sort(rewound, 1), np.sort(t, 1))
    assert np.all(_normals(v, rewound)[:, 2] > 0)


def _normals(v, t):
    return np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])


def _torch_stand_in():
    def rebuild(*args):
        raise AssertionError("never called")

    rebuild.__module__, rebuild.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    return rebuild, type("Tensor", (), {"__reduce__": lambda self: (rebuild, (b"s", 0, (79,)))})()


def test_landmark_embeddings(tmp_path, monkeypatch, kit):
    arrays = _flame_arrays()
    path = tmp_path / "generic_model.pkl"
    _write_flame(path, monkeypatch, kit, arrays)
    rng = np.random.default_rng(2)
    num_triangles = len(arrays["f"])
    faces = rng.integers(0, num_triangles, size=68)
    bary = rng.dirichlet(np.ones(3), size=68)
    rebuild, tensor = _torch_stand_in()
    deca = {
        "static_lmk_faces_idx": faces[17:],
        "static_lmk_bary_coords": bary[17:],
        "dynamic_lmk_faces_idx": tensor,  # a torch tensor in DECA's file
        "full_lmk_faces_idx": faces[None],
        "full_lmk_bary_coords": bary[None],
    }
    deca_path = tmp_path / "landmark_embedding.npy"
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "torch", types.ModuleType("torch"))
        patch.setitem(sys.modules, "torch._utils", types.ModuleType("torch._utils"))
        sys.modules["torch._utils"]._rebuild_tensor_v2 = rebuild
        np.save(deca_path, np.array(deca, dtype=object), allow_pickle=True)
    model = load_flame(path, landmarks_path=deca_path, dtype=np.float64)
    assert model.num_landmarks == 68
    corners = arrays["v_template"][arrays["f"][faces].astype(np.int64)] * 1000.0
    expected = np.einsum("lk,lkc->lc", bary, corners)
    got = np.einsum(
        "lk,lkc->lc",
        model.landmark_barycentric,
        model.mean_shape[model.triangles[model.landmark_triangles]],
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL_MM_F64)
    # Re-winding a clockwise file moves the barycentric weights with the corners.
    # (the embedding refers to the file's own corner order, so the points are the same weights
    # on the clockwise corners).
    clockwise_f = arrays["f"][:, [0, 2, 1]].copy()
    clockwise = tmp_path / "clockwise.pkl"
    _write_flame(clockwise, monkeypatch, kit, dict(arrays, f=clockwise_f))
    rewound = load_flame(clockwise, landmarks_path=deca_path, dtype=np.float64)
    assert not np.array_equal(rewound.triangles, clockwise_f)
    corners = arrays["v_template"][clockwise_f[faces].astype(np.int64)] * 1000.0
    expected = np.einsum("lk,lkc->lc", bary, corners)
    got = np.einsum(
        "lk,lkc->lc",
        rewound.landmark_barycentric,
        rewound.mean_shape[rewound.triangles[rewound.landmark_triangles]],
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL_MM_F64)
    # FLAME's own 51-point static embedding: iBUG points 18-68 only.
    static_path = tmp_path / "flame_static_embedding.pkl"
    static = {"lmk_face_idx": faces[17:].astype(np.uint32), "lmk_b_coords": bary[17:]}
    static_path.write_bytes(pickle.dumps(static, protocol=2))
    model51 = load_flame(path, landmarks_path=static_path, dtype=np.float64)
    assert model51.num_landmarks == 51
    np.testing.assert_array_equal(model51.landmark_triangles, faces[17:])
    bad = tmp_path / "bad_embedding.pkl"
    bad.write_bytes(
        pickle.dumps({"lmk_face_idx": np.array([num_triangles]), "lmk_b_coords": bary[:1]})
    )
    with pytest.raises(ValueError, match="landmark triangle indices outside"):
        load_flame(path, landmarks_path=bad)


def test_bad_files_are_named(tmp_path, monkeypatch, kit):
    arrays = _flame_arrays()
    path = tmp_path / "generic_model.pkl"
    _write_flame(path, monkeypatch, kit, {k: v for k, v in arrays.items() if k != "posedirs"})
    with pytest.raises(ValueError, match=r"generic_model\.pkl: field 'posedirs' missing"):
        load_flame(path)
    _write_flame(path, monkeypatch, kit, dict(arrays, posedirs=arrays["posedirs"][:, :, :27]))
    with pytest.raises(ValueError, match=r"'posedirs' must have shape \[30, 3, 36\]"):
        load_flame(path)
    _write_flame(
        path,
        monkeypatch,
        kit,
        dict(arrays, kintree_table=np.array([[9, 0, 1, 1, 7], [0, 1, 2, 3, 4]])),
    )
    with pytest.raises(ValueError, match="joint 4 has parent 7"):
        load_flame(path)
    _write_flame(path, monkeypatch, kit, arrays)
    with pytest.raises(ValueError, match="fewer than the 500 identity"):
        load_flame(path, num_identity=500)
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(RefusedClassError, match=r"evil\.pkl.*'os\.system'"):
        load_flame(evil)
