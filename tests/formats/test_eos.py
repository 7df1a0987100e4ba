"""eos .bin reader: models written by eos-py's own save function, and the missing-extra error."""

import sys

import numpy as np
import pytest

from facejax.formats import eos as eos_format

ATOL_MM_F32 = 1e-4
ATOL_MICROMETRE_F32 = 2e-3  # mm, for a face stored in float32 micrometres
NUM_ID, NUM_EXP, NUM_COLOUR = 4, 2, 3


def _eos_parts(kit, unit_scale=1.0):
    mean_mm, ccw = kit.face_grid()
    v3 = mean_mm.size
    return {
        "tri": ccw.tolist(),
        "shape": (
            (mean_mm.reshape(-1) * unit_scale).astype(np.float32),
            kit.orthonormal(v3, NUM_ID, 1).astype(np.float32),
            (np.array([16.0, 9.0, 4.0, 1.0]) * unit_scale**2).astype(np.float32),  # variances
        ),
        "expression": (
            (np.random.default_rng(2).normal(size=v3) * unit_scale).astype(np.float32),
            kit.orthonormal(v3, NUM_EXP, 3).astype(np.float32),
            (np.array([4.0, 2.25]) * unit_scale**2).astype(np.float32),
        ),
        "colour": (
            np.full(v3, 0.5, np.float32),
            kit.orthonormal(v3, NUM_COLOUR, 4).astype(np.float32),
            np.array([0.01, 0.004, 0.001], np.float32),
        ),
    }


def _decode(model, alpha, beta):
    def part(basis, coeff, std):
        return np.einsum("vck,k->vc", np.asarray(basis, np.float64), coeff * np.asarray(std))

    return (
        np.asarray(model.mean_shape, np.float64)
        + part(model.identity_basis, alpha, model.identity_std)
        + part(model.expression_basis, beta, model.expression_std)
    )


def _reference(parts, alpha, beta, unit_scale=1.0):
    """eos: sample = mean + U sqrt(eigenvalue) c, expression model added to the shape."""

    def sample(mean, basis, eigenvalues, c):
        basis = np.asarray(basis, np.float64)
        return np.asarray(mean, np.float64) + basis @ (np.sqrt(np.float64(eigenvalues)) * c)

    shape = sample(*parts["shape"], alpha) + sample(*parts["expression"], beta)
    return shape.reshape(-1, 3) / unit_scale


def test_pca_expression_model(tmp_path, kit):
    eos = pytest.importorskip("eos")
    m = eos.morphablemodel
    parts = _eos_parts(kit)
    model = m.MorphableModel(
        m.PcaModel(*parts["shape"], parts["tri"]),
        m.PcaModel(*parts["expression"], parts["tri"]),
        m.PcaModel(*parts["colour"], parts["tri"]),
        vertex_definitions={"center.nose.tip": 12},
    )
    m.save_model(model, str(tmp_path / "model.bin"))
    loaded = eos_format.load_eos(tmp_path / "model.bin")
    alpha, beta = np.array([1.0, -2.0, 0.5, 1.0]), np.array([-1.0, 2.0])
    np.testing.assert_allclose(
        _decode(loaded, alpha, beta), _reference(parts, alpha, beta), atol=ATOL_MM_F32
    )
    # eos-py's own sampler agrees (it takes coefficients in units of std as well).
    eos_sample = model.draw_sample(alpha.tolist(), beta.tolist(), [0.0] * NUM_COLOUR)
    np.testing.assert_allclose(
        _decode(loaded, alpha, beta), np.asarray(eos_sample.vertices), atol=ATOL_MM_F32
    )
    np.testing.assert_allclose(loaded.albedo_std, np.sqrt(parts["colour"][2]), rtol=1e-6)
    _, ccw = kit.face_grid()
    np.testing.assert_array_equal(loaded.triangles, ccw)


def test_blendshapes_and_separate_file(tmp_path, kit):
    eos = pytest.importorskip("eos")
    m = eos.morphablemodel
    parts = _eos_parts(kit)
    v3 = parts["shape"][0].size
    deformations = np.random.default_rng(9).normal(size=(2, v3)).astype(np.float32)
    shapes = [m.Blendshape(n, d) for n, d in zip(("smile", "jaw_open"), deformations, strict=True)]
    shape_model = m.PcaModel(*parts["shape"], parts["tri"])
    colour_model = m.PcaModel(*parts["colour"], parts["tri"])
    m.save_model(m.MorphableModel(shape_model, shapes, colour_model), str(tmp_path / "bs.bin"))
    loaded = eos_format.load_eos(tmp_path / "bs.bin")
    assert loaded.expression_names == ("smile", "jaw_open")
    np.testing.assert_array_equal(loaded.expression_std, 1.0)
    beta = np.array([0.7, -0.2])
    # Blendshapes: mean + sum_k beta_k deformation_k, with no PCA expression mean.
    expected = parts["shape"][0].astype(np.float64) + beta @ deformations.astype(np.float64)
    expected = expected.reshape(-1, 3)
    np.testing.assert_allclose(_decode(loaded, np.zeros(NUM_ID), beta), expected, atol=ATOL_MM_F32)
    # Shape-only model plus the blendshapes file, as eos ships sfm_shape + expression_blendshapes.
    m.save_model(m.MorphableModel(shape_model, m.PcaModel()), str(tmp_path / "shape.bin"))
    m.save_blendshapes(shapes, str(tmp_path / "blendshapes.bin"))
    both = eos_format.load_eos(tmp_path / "shape.bin", blendshapes=tmp_path / "blendshapes.bin")
    assert both.expression_names == ("smile", "jaw_open") and both.num_albedo == 0
    np.testing.assert_allclose(both.expression_basis, loaded.expression_basis)


def test_micrometre_model_is_converted(tmp_path, kit):
    eos = pytest.importorskip("eos")
    m = eos.morphablemodel
    parts = _eos_parts(kit, unit_scale=1000.0)  # like convert-bfm2009-to-eos.py output
    model = m.MorphableModel(
        m.PcaModel(*parts["shape"], parts["tri"]),
        m.PcaModel(*parts["expression"], parts["tri"]),
        m.PcaModel(*parts["colour"], parts["tri"]),
    )
    m.save_model(model, str(tmp_path / "um.bin"))
    alpha, beta = np.array([1.0, 1.0, -1.0, 2.0]), np.array([0.5, 1.0])
    reference = _reference(parts, alpha, beta, unit_scale=1000.0)
    inferred = eos_format.load_eos(tmp_path / "um.bin")
    np.testing.assert_allclose(_decode(inferred, alpha, beta), reference, atol=ATOL_MICROMETRE_F32)
    explicit = eos_format.load_eos(tmp_path / "um.bin", scale=1e-3)
    np.testing.assert_array_equal(explicit.mean_shape, inferred.mean_shape)


def test_landmarks_and_bad_files(tmp_path, kit):
    eos = pytest.importorskip("eos")
    m = eos.morphablemodel
    parts = _eos_parts(kit)
    shape_model = m.PcaModel(*parts["shape"], parts["tri"])
    m.save_model(m.MorphableModel(shape_model, m.PcaModel()), str(tmp_path / "s.bin"))
    (tmp_path / "lmk.txt").write_text(" ".join(str(i % 20 + 1) for i in range(68)))
    model = eos_format.load_eos(
        tmp_path / "s.bin", landmarks=tmp_path / "lmk.txt", landmarks_one_based=True
    )
    assert model.num_landmarks == 68
    (tmp_path / "junk.bin").write_bytes(b"\x01\x02junk")
    with pytest.raises(ValueError, match=r"junk\.bin: not a readable eos model"):
        eos_format.load_eos(tmp_path / "junk.bin")


def test_unit_inference(kit):
    mean_mm, _ = kit.face_grid()
    assert eos_format.infer_length_scale(mean_mm) == 1.0
    assert eos_format.infer_length_scale(mean_mm * 1000.0) == 1e-3
    assert eos_format.infer_length_scale(mean_mm / 1000.0) == 1e3
    with pytest.raises(ValueError, match=r"odd\.bin: cannot tell the length unit.*scale="):
        eos_format.infer_length_scale(mean_mm * 20.0, "odd.bin")


def test_missing_eos_py_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "eos", None)  # makes `import eos` raise ImportError
    (tmp_path / "model.bin").write_bytes(b"")
    with pytest.raises(ImportError, match=r"pip install 'facejax\[eos\]'"):
        eos_format.load_eos(tmp_path / "model.bin")
