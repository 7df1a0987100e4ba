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


# eos's ibug_to_sfm.txt layout: TOML, '#' comments, the jaw (1-8, 10-17) and the inner mouth
# corners (61, 65) left out, bare and quoted keys (eos wrote both over the years), and the
# [contour_landmarks] table with numbers as strings.
def _mapping_text(num_vertices):
    lines = [
        "# Mapping from the 68-point ibug annotations to the test model's vertex indices.",
        "# This file uses TOML syntax (https://github.com/toml-lang/toml).",
        "",
        "[landmark_mappings]",
        "            # 1 to 8 are the right contour landmarks",
        ' "9" =    7  # chin bottom',
        "            # 10 to 17 are the left contour landmarks",
    ]
    for number in range(18, 69):
        if number in (61, 65):
            lines.append(f"            # {number} not defined - would be an inner mouth corner")
            continue
        key = f'"{number}"' if number % 2 else str(number)
        lines.append(f"{key} = {number % num_vertices:5d}  # point {number}")
    lines += [
        "",
        "# Definitions of which 2D landmarks make up the right and left face contours:",
        "[contour_landmarks]",
        'right = [ "1", "2", "3", "4", "5", "6", "7", "8" ]',
        "left  = [ 10, 11, 12, 13,",
        "          14, 15, 16, 17 ]",
    ]
    return "\n".join(lines) + "\n"


CONTOUR_JSON = """{
    "model_contour": {
        "right_contour": [15, 10, 5, 0],
        "left_contour": [19, 14, 9, 4]
    }
}
"""

MISSING = set(range(0, 8)) | set(range(9, 17)) | {60, 64}  # 0-based


def test_eos_mapping_file(tmp_path, kit):
    from facejax.formats.eos_landmarks import read_landmark_mapping, read_model_contour

    mean_mm, _ = kit.face_grid()
    (tmp_path / "ibug_to_test.txt").write_text(_mapping_text(len(mean_mm)))
    mapping = read_landmark_mapping(tmp_path / "ibug_to_test.txt")
    assert set(np.flatnonzero(~mapping.defined)) == MISSING
    assert mapping.vertices[8] == 7 and mapping.vertices[17] == 18 % len(mean_mm)
    assert mapping.right_contour == tuple(range(8)) and mapping.left_contour == tuple(range(9, 17))
    (tmp_path / "contours.json").write_text(CONTOUR_JSON)
    right, left = read_model_contour(tmp_path / "contours.json")
    np.testing.assert_array_equal(right, [15, 10, 5, 0])
    np.testing.assert_array_equal(left, [19, 14, 9, 4])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[landmark_mappings]\n70 = 3\n", r"landmark 70 is outside 1 to 68"),
        ("[landmark_mappings]\nnose = 3\n", r"'nose' is not an iBUG landmark number"),
        ("[landmark_mappings]\n9 = -3\n", r"landmark 9 maps to -3"),
        ("[landmark_mappings]\n9 = 3.5\n", r"landmark 9 maps to 3.5"),
        ("[landmark_mappings\n9 = 3\n", r"not a valid eos landmark mapping"),
    ],
)
def test_bad_mapping_files_name_the_file(tmp_path, text, message):
    from facejax.formats.eos_landmarks import read_landmark_mapping

    (tmp_path / "bad.txt").write_text(text)
    with pytest.raises(ValueError, match=r"bad\.txt: .*" + message):
        read_landmark_mapping(tmp_path / "bad.txt")


def test_bad_contour_file_names_the_file(tmp_path):
    from facejax.formats.eos_landmarks import read_model_contour

    (tmp_path / "c.json").write_text('{"model_contour": {"right_contour": [1, 2]}}')
    with pytest.raises(ValueError, match=r"c\.json: model_contour\.left_contour"):
        read_model_contour(tmp_path / "c.json")


def test_eos_model_with_its_mapping_loads_and_fits(tmp_path, kit):
    """The eos model fixture with a mapping in eos's syntax and a model contour: it loads, the
    unmapped points are fitted at weight 0, the contour slides, and the fit finds the face."""
    eos = pytest.importorskip("eos")
    import jax.numpy as jnp

    from facejax import fitting, morphable
    from facejax.fitting.landmark_definition import landmark_definition

    m = eos.morphablemodel
    parts = _eos_parts(kit)
    m.save_model(
        m.MorphableModel(m.PcaModel(*parts["shape"], parts["tri"]), m.PcaModel()),
        str(tmp_path / "s.bin"),
    )
    mean_mm, _ = kit.face_grid()
    (tmp_path / "ibug_to_s.txt").write_text(_mapping_text(len(mean_mm)))
    (tmp_path / "contours.json").write_text(CONTOUR_JSON)
    from facejax.formats import load_model

    model = load_model(tmp_path / "s.bin", landmarks=tmp_path / "ibug_to_s.txt")
    assert model.num_landmarks == 68
    definition = landmark_definition(
        model, landmarks=tmp_path / "ibug_to_s.txt", contour=tmp_path / "contours.json"
    )
    assert set(np.flatnonzero(~definition.defined)) == {60, 64}  # the contour fills the jaw
    assert definition.contour.num_contour == 16 and definition.contour.num_candidates == 4
    fixed = landmark_definition(model, landmarks=tmp_path / "ibug_to_s.txt", sliding=False)
    assert fixed.contour is None and set(np.flatnonzero(~fixed.defined)) == MISSING

    model = morphable.to_device(model)
    camera = fitting.image_camera(200, 200)
    truth = morphable.neutral_params(model, camera=camera).replace(
        identity=jnp.array([0.5, -0.5, 0.3, 0.0]),
        rotation=jnp.deg2rad(jnp.array([0.0, 20.0, 0.0])),
        translation=jnp.array([0.0, 0.0, -900.0]),
    )
    face = morphable.pose(truth, morphable.shape(model, truth.identity))
    screen = np.asarray(morphable.project(truth, face))
    targets = np.asarray(morphable.landmarks(model, jnp.asarray(screen))[:, :2]).copy()
    # The jaw points where an annotator would put them: on vertices of the side's contour.
    right, left = [15, 10, 5, 0], [19, 14, 9, 4]
    for k in range(8):
        targets[k] = screen[right[k % 4], :2]
        targets[9 + k] = screen[left[k % 4], :2]
    # The unmapped points' targets are junk: at weight 0 they must not matter.
    targets[[60, 64]] = 1e4
    config = fitting.FitConfig(optimizer="adam", steps=160, contour_rounds=4)
    result = fitting.fit_landmarks(
        model,
        targets,
        definition.weights,
        image_size=(200, 200),
        config=config,
        contour=definition.contour,
    )
    assert float(result.landmark_error) < 0.5
    np.testing.assert_allclose(result.params.rotation[1], np.deg2rad(20.0), atol=np.deg2rad(3))
