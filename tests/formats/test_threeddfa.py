"""3DDFA_V2 model pickles: small files with the real keys, shapes, dtypes, units and index bases."""

import pickle

import numpy as np
import pytest
import scipy.io

from facejax.formats.threeddfa import load_3ddfa

ATOL_MM_F64 = 1e-9  # decoded vertices, float64 model vs float64 numpy reference (~100 mm)
NX, NY = 6, 5  # a 30-vertex face-like grid
NUM_SHAPE, NUM_EXP = 40, 10


def _face_grid_um():
    """``[V, 3]`` a cap bulging towards +z (out of the face), in micrometres; CCW triangles."""
    x, y = np.meshgrid(np.linspace(-80.0, 80.0, NX), np.linspace(-100.0, 100.0, NY))
    z = 100.0 - (x**2 + y**2) / 200.0
    vertices = np.stack([x, y, z], axis=-1).reshape(-1, 3) * 1000.0
    tris = []
    for i in range(NY - 1):
        for j in range(NX - 1):
            k = i * NX + j
            tris += [[k, k + 1, k + NX], [k + 1, k + NX + 1, k + NX]]
    return vertices, np.array(tris)


def _write_model(folder, *, num_shape=NUM_SHAPE, num_exp=NUM_EXP, tri_inside=False, stats=True):
    """Writes bfm_noneck_v3.pkl (+ tri.pkl, param stats) as 3DDFA_V2 ships them."""
    rng = np.random.default_rng(0)
    vertices, ccw = _face_grid_um()
    num_vertices = len(vertices)
    u = vertices.reshape(-1, 1).astype(np.float32)  # [3V, 1], xyz interleaved
    w_shp = np.linalg.qr(rng.normal(size=(3 * num_vertices, num_shape)))[0].astype(np.float32)
    w_exp = (rng.normal(size=(3 * num_vertices, num_exp)) * 800.0).astype(np.float32)
    landmark_vertices = rng.integers(0, num_vertices, size=68)
    keypoints = (3 * landmark_vertices[:, None] + np.arange(3)).reshape(-1).astype(np.int64)
    model = {"u": u, "w_shp": w_shp, "w_exp": w_exp, "keypoints": keypoints}
    clockwise = ccw[:, ::-1]  # 3DDFA's winding seen from outside (its OBJ writer reverses it)
    tri = np.ascontiguousarray(clockwise.T).astype(np.int32)  # [3, F], 0-based
    if tri_inside:
        model["tri"] = tri
    else:
        with open(folder / "tri.pkl", "wb") as f:
            pickle.dump(tri, f)
    with open(folder / "bfm_noneck_v3.pkl", "wb") as f:
        pickle.dump(model, f)
    std = np.concatenate(
        [
            rng.uniform(1e-4, 30.0, size=12),
            np.geomspace(5.7e5, 1.2e4, num_shape),
            np.geomspace(1.6, 0.16, num_exp),
        ]
    ).astype(np.float32)
    if stats:
        with open(folder / "param_mean_std_62d_120x120.pkl", "wb") as f:
            pickle.dump({"mean": np.zeros_like(std), "std": std}, f)
    return model, std, ccw, landmark_vertices


def _reference_mm(model, alpha, beta):
    """3DDFA_V2's recon_dense without the pose: ``(u + w_shp @ alpha + w_exp @ beta)``."""
    u, w_shp, w_exp = (np.float64(model[k]) for k in ("u", "w_shp", "w_exp"))
    flat = u + w_shp[:, : len(alpha)] @ alpha[:, None] + w_exp[:, : len(beta)] @ beta[:, None]
    return flat.reshape(3, -1, order="F").T / 1000.0  # micrometres -> mm


def _decode(model, identity, expression):
    return (
        np.float64(model.mean_shape)
        + np.einsum("vck,k->vc", model.identity_basis, identity * model.identity_std)
        + np.einsum("vck,k->vc", model.expression_basis, expression * model.expression_std)
    )


def test_decoded_faces_match_3ddfa_formula(tmp_path):
    raw, std, _, _ = _write_model(tmp_path)
    model = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl", dtype=np.float64)
    assert model.units == "mm" and model.num_vertices == NX * NY
    assert (model.num_identity, model.num_expression) == (NUM_SHAPE, NUM_EXP)
    rng = np.random.default_rng(1)
    for _ in range(3):
        coeff_id, coeff_exp = rng.normal(size=NUM_SHAPE), rng.normal(size=NUM_EXP)
        # 3DDFA's alpha/beta are facejax coefficients times the training-set std.
        alpha = coeff_id * np.float64(std[12:52])
        beta = coeff_exp * np.float64(std[52:62])
        expected = _reference_mm(raw, alpha, beta)
        np.testing.assert_allclose(
            _decode(model, coeff_id, coeff_exp), expected, rtol=0, atol=ATOL_MM_F64
        )
    # The mean face is u in millimetres: a face ~16 cm wide, not 160 m.
    assert 150.0 < np.ptp(model.mean_shape[:, 0]) < 170.0


def test_triangles_landmarks_and_winding(tmp_path):
    _, _, ccw, landmark_vertices = _write_model(tmp_path)
    model = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl")
    # 3DDFA's clockwise triangles come back counter-clockwise seen from outside (+z).
    np.testing.assert_array_equal(np.sort(model.triangles, 1), np.sort(ccw, 1))
    v = np.float64(model.mean_shape)
    t = model.triangles
    normals = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    tip = int(np.argmax(v[:, 2]))  # the nose tip of the cap
    assert normals[np.any(t == tip, axis=1), 2].sum() > 0
    assert np.all(normals[:, 2] > 0)
    # Landmark k sits on vertex keypoints[3k] // 3.
    assert model.num_landmarks == 68
    corners = v[model.triangles[model.landmark_triangles]]
    points = np.einsum("lk,lkc->lc", model.landmark_barycentric, corners)
    np.testing.assert_allclose(points, v[landmark_vertices], atol=1e-4)


def test_triangle_sources_agree(tmp_path):
    _write_model(tmp_path)
    from_pkl = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl").triangles
    tri0 = pickle.loads((tmp_path / "tri.pkl").read_bytes())
    # 3DDFA v1's visualize/tri.mat: the same [3, F] array, 1-based.
    scipy.io.savemat(tmp_path / "tri_v1.mat", {"tri": tri0.astype(np.float64) + 1})
    from_mat = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl", triangles_path=tmp_path / "tri_v1.mat")
    np.testing.assert_array_equal(from_mat.triangles, from_pkl)
    inside = tmp_path / "inside"
    inside.mkdir()
    _write_model(inside, tri_inside=True)
    np.testing.assert_array_equal(load_3ddfa(inside / "bfm_noneck_v3.pkl").triangles, from_pkl)


def test_without_parameter_statistics_warns_and_keeps_raw_scale(tmp_path):
    raw, _, _, _ = _write_model(tmp_path, stats=False)
    with pytest.warns(UserWarning, match="raw alpha/beta"):
        model = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl", dtype=np.float64)
    np.testing.assert_allclose(model.identity_std, 1e-3)
    alpha, beta = np.full(NUM_SHAPE, 2e4), np.full(NUM_EXP, 0.5)
    np.testing.assert_allclose(
        _decode(model, alpha, beta), _reference_mm(raw, alpha, beta), rtol=0, atol=ATOL_MM_F64
    )


def test_more_components_than_statistics_are_cut_like_3ddfa(tmp_path):
    _write_model(tmp_path, num_shape=60, num_exp=29, stats=False)
    std = np.geomspace(1e6, 1.0, 62)  # 3DDFA_V2's 62 = 12 pose + 40 shape + 10 expression
    with open(tmp_path / "param_mean_std_62d_120x120.pkl", "wb") as f:
        pickle.dump({"mean": np.zeros(62), "std": std}, f)
    model = load_3ddfa(tmp_path / "bfm_noneck_v3.pkl", dtype=np.float64)
    assert (model.num_identity, model.num_expression) == (40, 10)
    np.testing.assert_allclose(model.identity_std, np.float64(std[12:52]) * 1e-3)
    np.testing.assert_allclose(model.expression_std, np.float64(std[52:62]) * 1e-3)


def test_bad_files_are_named(tmp_path):
    raw, _, _, _ = _write_model(tmp_path)
    path = tmp_path / "bfm_noneck_v3.pkl"
    broken = dict(raw)
    del broken["w_exp"]
    path.write_bytes(pickle.dumps(broken))
    with pytest.raises(ValueError, match=r"bfm_noneck_v3\.pkl: field 'w_exp' missing"):
        load_3ddfa(path)
    broken = dict(raw, keypoints=np.arange(68))
    path.write_bytes(pickle.dumps(broken))
    with pytest.raises(ValueError, match="'keypoints' must be x, y, z indices"):
        load_3ddfa(path)
    path.write_bytes(pickle.dumps(raw))
    (tmp_path / "tri.pkl").unlink()
    with pytest.raises(ValueError, match=r"no triangles.*triangles_path="):
        load_3ddfa(path)
    with pytest.raises(FileNotFoundError, match="tri.pkl"):
        load_3ddfa(path, triangles_path=tmp_path / "tri.pkl")
    (tmp_path / "tri.pkl").write_bytes(pickle.dumps(np.array([[0, 1, 500]] * 3)))
    with pytest.raises(ValueError, match="do not fit the model's 30 vertices"):
        load_3ddfa(path)
    stats = tmp_path / "stats141.pkl"
    stats.write_bytes(pickle.dumps({"mean": np.zeros(141), "std": np.ones(141)}))
    with pytest.raises(ValueError, match="statistics for 100 shape / 29 expression"):
        load_3ddfa(path, triangles_path=tmp_path / "tri.pkl", param_stats_path=stats)
