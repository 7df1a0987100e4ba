"""3DDFA's raw Shape_Para / Exp_Para as coefficients of a model read from 3DDFA's BFM files."""

import numpy as np
import pytest

from facejax.formats import coefficients_from_3ddfa
from facejax.morphable import create_model, truncate

RTOL_F32 = 1e-6  # float32 coefficients against the float64 formula
ATOL_OFFSET_MM = 1e-3  # float32 coefficients summed over 40-199 components of ~100 mm each
NUM_VERTICES = 12


def _model(name="3ddfa:bfm_noneck_v3", num_identity=40, num_expression=10, seed=0):
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=(NUM_VERTICES, 3)) * 50.0
    triangles = np.array([[0, 1, 2], [2, 3, 0]])
    return create_model(
        mean,
        triangles,
        identity_basis=rng.normal(size=(NUM_VERTICES, 3, num_identity)),
        identity_std=np.geomspace(570.0, 12.0, num_identity),  # mm, as load_3ddfa makes them
        expression_basis=rng.normal(size=(NUM_VERTICES, 3, num_expression)),
        expression_std=np.geomspace(1.6e-3, 1.6e-4, num_expression),
        name=name,
        dtype=np.float64,
    )


def _raw(seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=199) * 1e5, rng.normal(size=29)


@pytest.mark.parametrize(
    ("name", "num_identity", "num_expression"),
    [("3ddfa:bfm_noneck_v3", 40, 10), ("bfm2009:BFM", 199, 29)],
)
def test_coefficients_decode_the_3ddfa_face(name, num_identity, num_expression):
    model = _model(name, num_identity, num_expression)
    shape, expression = _raw()
    identity_coeffs, expression_coeffs = coefficients_from_3ddfa(
        model, shape[:, None], expression[:, None]
    )
    assert identity_coeffs.dtype == np.float32 and identity_coeffs.shape == (num_identity,)
    assert expression_coeffs.shape == (num_expression,)
    # The loaders keep 3DDFA's basis columns: the facejax offset is 3DDFA's w @ Shape_Para
    # (micrometres) in millimetres.
    expected = np.einsum("vck,k->vc", model.identity_basis, shape[:num_identity]) / 1000.0
    got = np.einsum(
        "vck,k->vc", model.identity_basis, np.float64(identity_coeffs) * model.identity_std
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL_OFFSET_MM)
    np.testing.assert_allclose(
        identity_coeffs, shape[:num_identity] / (1000.0 * model.identity_std), rtol=RTOL_F32
    )
    np.testing.assert_allclose(
        expression_coeffs,
        expression[:num_expression] / (1000.0 * model.expression_std),
        rtol=RTOL_F32,
    )


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_model("synthetic:default"), r"'synthetic:default' is not a BFM 2009 / 3DDFA model"),
        (_model("native:converted"), r"'native:converted' is not a BFM 2009 / 3DDFA model"),
        (_model("3ddfa:big", num_identity=200), r"'3ddfa:big' has 200 identity components"),
        (_model("3ddfa:big", num_expression=30), r"'3ddfa:big' has 30 expression components"),
        (truncate(_model("bfm2009:01_MorphableModel"), expression=0), r"0 expression components"),
        (
            _model("3ddfa:x").replace(units="cm"),
            r"'3ddfa:x' is in 'cm', not millimetres",
        ),
    ],
)
def test_models_that_cannot_hold_3ddfa_parameters_are_refused(model, message):
    shape, expression = _raw()
    with pytest.raises(ValueError, match=message) as info:
        coefficients_from_3ddfa(model, shape, expression)
    assert "bfm_noneck_v3.pkl" in str(info.value)  # says which files would do


def test_parameters_of_the_wrong_size_are_refused():
    shape, expression = _raw()
    with pytest.raises(ValueError, match=r"Shape_Para \[199\].*got \[40\] and \[29\]"):
        coefficients_from_3ddfa(_model(), shape[:40], expression)
