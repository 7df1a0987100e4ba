"""Identity, expression and albedo bases: orthonormal, ordered, in range, doing what they say."""

import numpy as np
import pytest

from facejax.synthetic import EXPRESSION_NAMES, VARIANTS, synthetic_model
from facejax.synthetic.landmarks import landmark_positions
from facejax.synthetic.mesh import MOUTH_CAVITY, build_mesh

ORTHONORMAL_ATOL = 1e-5  # float32 basis vectors of a float64 Gram-Schmidt
MIRROR_ATOL_MM = 1e-4
ALBEDO_BOUND = 3.0  # albedo stays in [0, 1] for coefficients within +-3


@pytest.fixture(scope="module")
def small():
    return synthetic_model("small")


def _flat(basis):
    basis = np.asarray(basis, np.float64)
    return basis.reshape(-1, basis.shape[-1])


@pytest.mark.parametrize("variant", ["small", "default"])
@pytest.mark.parametrize("kind", ["identity", "expression", "albedo"])
def test_bases_are_orthonormal_with_decreasing_stds(variant, kind):
    m = synthetic_model(variant)
    basis = _flat(getattr(m, f"{kind}_basis"))
    np.testing.assert_allclose(basis.T @ basis, np.eye(basis.shape[1]), atol=ORTHONORMAL_ATOL)
    std = np.asarray(getattr(m, f"{kind}_std"), np.float64)
    assert np.all(std > 0.0) and np.all(np.diff(std) <= 0.0)
    assert std[0] > 5.0 * std[-1]  # the fine components are much smaller


def _shape(m, identity=None, expression=None):
    v = np.asarray(m.mean_shape, np.float64).copy()
    for coeffs, kind in ((identity, "identity"), (expression, "expression")):
        if coeffs is not None:
            basis = np.asarray(getattr(m, f"{kind}_basis"), np.float64)
            v += basis @ (np.asarray(coeffs) * np.asarray(getattr(m, f"{kind}_std")))
    return v


def _landmarks(m, v):
    return landmark_positions(v, m.triangles, m.landmark_triangles, m.landmark_barycentric)


def _expression(m, name, value=1.0):
    beta = np.zeros(m.num_expression)
    beta[m.expression_names.index(name)] = value
    return _landmarks(m, _shape(m, expression=beta)) - _landmarks(m, _shape(m))


def test_named_expressions_lead_the_basis(small):
    assert small.expression_names == EXPRESSION_NAMES
    assert synthetic_model("default").expression_names == EXPRESSION_NAMES
    required = {"jaw_open", "smile", "brow_raise", "brow_frown", "lip_pucker", "eye_close_left",
                "eye_close_right", "cheek_puff", "mouth_left", "mouth_right"}  # fmt: skip
    assert required <= set(EXPRESSION_NAMES)


@pytest.mark.parametrize("variant", ["small", "default"])
def test_jaw_open_drops_the_chin_and_parts_the_lips(variant):
    m = synthetic_model(variant)
    d = _expression(m, "jaw_open")
    assert d[8, 1] < -8.0  # the chin goes down by more than 8 mm at a coefficient of 1
    assert d[66, 1] - d[62, 1] < -5.0  # the inner lips part
    assert abs(d[62, 1]) < 1.0 and np.abs(d[17:48]).max() < 0.5  # upper face stays


def test_named_expressions_move_the_right_landmarks(small):
    d = {name: _expression(small, name) for name in EXPRESSION_NAMES}
    assert d["smile"][48, 1] > 1.0 and d["smile"][54, 1] > 1.0  # corners up
    assert d["smile"][54, 0] - d["smile"][48, 0] > 1.0  # and apart
    assert d["lip_pucker"][51, 2] > 2.0 and d["lip_pucker"][57, 2] > 2.0  # lips forward
    assert d["lip_pucker"][54, 0] - d["lip_pucker"][48, 0] < -2.0  # mouth narrower
    assert np.all(d["brow_raise"][17:27, 1] > 1.0)
    assert d["brow_frown"][21, 1] < -1.0 and d["brow_frown"][22, 1] < -1.0  # inner brows down
    assert d["brow_frown"][22, 0] - d["brow_frown"][21, 0] < -1.0  # and together
    assert np.all(d["mouth_left"][48:68, 0] > 0.5) and np.all(d["mouth_right"][48:68, 0] < -0.5)
    # eye_close_left closes the subject's left eye (landmarks 42-47), not the right one.
    for name, eye, other in (("eye_close_left", 42, 36), ("eye_close_right", 36, 42)):
        upper, lower = (eye + 1, eye + 2), (eye + 5, eye + 4)
        opening = d[name][list(upper), 1] - d[name][list(lower), 1]
        assert np.all(opening < -2.0), name
        assert np.abs(d[name][other : other + 6]).max() < 0.1, name  # 20 times less


def test_cheek_puff_pushes_the_cheeks_out(small):
    beta = np.zeros(small.num_expression)
    beta[small.expression_names.index("cheek_puff")] = 1.0
    offset = _shape(small, expression=beta) - _shape(small)
    v = np.asarray(small.mean_shape)
    cheek = np.argmin(np.linalg.norm(v - np.array([40.0, -45.0, 60.0]), axis=1))
    assert offset[cheek, 0] > 1.5 and np.linalg.norm(offset[cheek]) > 2.5


def _cavity_vertices(variant):
    mesh = build_mesh(VARIANTS[variant].resolution)
    return np.flatnonzero(mesh.part == MOUTH_CAVITY)


def _mirror(variant):
    """The mesh's vertex mirror map (upper and lower lips share positions along the lip line,
    so a nearest-neighbour search cannot tell them apart)."""
    mirror = build_mesh(VARIANTS[variant].resolution).mirror
    v = np.asarray(synthetic_model(variant).mean_shape)
    np.testing.assert_allclose(v[mirror] * np.array([-1.0, 1.0, 1.0]), v, atol=MIRROR_ATOL_MM)
    return mirror


def _symmetry(m, kind, mirror):
    """Per component: 1 for a mirror-symmetric field, 0 antisymmetric, between for one-sided."""
    basis = np.asarray(getattr(m, f"{kind}_basis"), np.float64)
    mirrored = basis[mirror] * np.array([-1.0, 1.0, 1.0])[None, :, None]
    return np.linalg.norm((basis + mirrored).reshape(-1, basis.shape[-1]), axis=0) / 2.0


def test_bases_are_mostly_symmetric_with_asymmetric_components():
    m = synthetic_model("default")
    mirror = _mirror("default")
    identity = _symmetry(m, "identity", mirror)
    symmetric = identity > 1.0 - MIRROR_ATOL_MM
    antisymmetric = identity < MIRROR_ATOL_MM
    assert symmetric.sum() > 45 and antisymmetric.sum() > 10
    assert np.all(symmetric | antisymmetric)
    expression = _symmetry(m, "expression", mirror)[: len(EXPRESSION_NAMES)]
    one_sided = [n for n, s in zip(EXPRESSION_NAMES, expression, strict=True) if s < 0.99]
    assert set(one_sided) == {"mouth_left", "mouth_right", "eye_close_left", "eye_close_right"}


def test_mirror_pairs_are_mirror_images(small):
    mirror = _mirror("small")
    basis = np.asarray(small.expression_basis, np.float64)
    for left, right in (("mouth_left", "mouth_right"), ("eye_close_left", "eye_close_right")):
        a = basis[..., EXPRESSION_NAMES.index(left)]
        b = basis[..., EXPRESSION_NAMES.index(right)]
        np.testing.assert_allclose(a[mirror] * np.array([-1.0, 1.0, 1.0]), b, atol=1e-5)


def test_identity_components_are_smooth_and_plausible(small):
    id_std = np.asarray(small.identity_std)
    offsets = np.asarray(small.identity_basis) * id_std  # one std of each component
    peak = np.linalg.norm(offsets, axis=1).max(axis=0)
    assert np.all(peak < 12.0) and peak[0] > 2.0  # millimetres, not centimetres
    # Random faces (coefficients ~ N(0, 1)) stay valid: no triangle of the outer surface turns
    # over (the mouth cavity's thin contact strip behind the lips may fold; it is hidden).
    rng = np.random.default_rng(0)
    v0 = np.asarray(small.mean_shape, np.float64)
    tris = np.asarray(small.triangles)
    tris = tris[~np.any(np.isin(tris, _cavity_vertices("small")), axis=1)]
    n0 = np.cross(v0[tris[:, 1]] - v0[tris[:, 0]], v0[tris[:, 2]] - v0[tris[:, 0]])
    for _ in range(5):
        v = _shape(small, identity=rng.normal(size=small.num_identity))
        n = np.cross(v[tris[:, 1]] - v[tris[:, 0]], v[tris[:, 2]] - v[tris[:, 0]])
        assert np.all(np.sum(n * n0, axis=1) > 0.0)


@pytest.mark.parametrize("variant", ["small", "default"])
def test_albedo_stays_in_range_within_three_stds(variant):
    m = synthetic_model(variant)
    mean = np.asarray(m.albedo_mean, np.float64)
    basis = np.asarray(m.albedo_basis, np.float64)
    std = np.asarray(m.albedo_std, np.float64)
    reach = ALBEDO_BOUND * np.sum(np.abs(basis) * std, axis=-1)  # the worst case, exactly
    assert np.all(mean - reach >= -1e-6) and np.all(mean + reach <= 1.0 + 1e-6)
    rng = np.random.default_rng(1)
    for _ in range(5):
        gamma = rng.uniform(-ALBEDO_BOUND, ALBEDO_BOUND, size=m.num_albedo)
        colour = mean + basis @ (gamma * std)
        assert colour.min() >= -1e-6 and colour.max() <= 1.0 + 1e-6


def test_albedo_mean_paints_the_face(small):
    colour = np.asarray(small.albedo_mean)
    v = np.asarray(small.mean_shape)
    tip = np.argmax(v[:, 2])
    skin = colour[tip]
    assert skin[0] > skin[1] > skin[2] > 0.3  # a skin tone at the nose tip
    lips = _landmarks(small, v.astype(np.float64))[57]
    lip = colour[np.argmin(np.linalg.norm(v - lips, axis=1))]
    assert lip[0] - lip[1] > skin[0] - skin[1]  # redder lips
    crown = colour[np.argmax(v[:, 1])]
    assert crown.mean() < 0.3  # hair
