"""synthetic_model: sizes per variant, determinism, caching, read-only arrays, use under jit."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import facejax.morphable as fm
from facejax.synthetic import VARIANTS, synthetic_model
from facejax.synthetic import model as synthetic_module

SIZES = {"default": (80, 64, 80), "small": (10, 10, 10)}  # identity, expression, albedo
VERTICES = {"default": (5000, 6500), "small": (1000, 2000)}
JIT_ATOL_MM = 1e-3  # float32 jit vs float64 numpy on millimetre coordinates


@pytest.mark.parametrize("variant", ["default", "small"])
def test_sizes_and_types(variant):
    m = synthetic_model(variant)
    assert (m.num_identity, m.num_expression, m.num_albedo) == SIZES[variant]
    lo, hi = VERTICES[variant]
    assert lo <= m.num_vertices <= hi
    assert m.num_landmarks == 68 and m.units == "mm" and m.name == f"synthetic-{variant}"
    for name in ("mean_shape", "identity_basis", "expression_basis", "albedo_basis", "face_mask"):
        assert getattr(m, name).dtype == np.float32, name
    assert m.triangles.dtype == np.int32 and m.landmark_triangles.dtype == np.int32
    assert m.identity_basis.shape == (m.num_vertices, 3, SIZES[variant][0])


def test_unknown_variant_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown synthetic model variant 'huge'.*default.*small"):
        synthetic_model("huge")


def test_cached_and_read_only():
    m = synthetic_model("small")
    assert synthetic_model("small") is m
    with pytest.raises(ValueError, match="read-only"):
        m.mean_shape[0, 0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.name = "other"


def test_deterministic_rebuild():
    """A second build from scratch gives bit-identical arrays."""
    cached = synthetic_model("small")
    fresh = synthetic_module._build.__wrapped__("small")
    for field in dataclasses.fields(cached):
        a, b = getattr(cached, field.name), getattr(fresh, field.name)
        if isinstance(a, np.ndarray):
            np.testing.assert_array_equal(a, b, err_msg=field.name)
        else:
            assert a == b, field.name


FINGERPRINT = {
    "mean_shape": 12501422.161701443,
    "identity": 351.9399000894577,
    "expression": 181.912762825078,
    "albedo_mean": 2102.5616399124265,
    "stds": 934.3851318359375,
    "landmarks": 38.61071351906482,
}


def test_fingerprint():
    """Sums of the small model's arrays, recorded when the model was made: a change of the
    model (or of its numbers on another machine) shows up here. Update them on purpose only."""
    m = synthetic_model("small")
    got = {
        "mean_shape": float(np.sum(np.asarray(m.mean_shape, np.float64) ** 2)),
        "identity": float(np.sum(np.abs(np.asarray(m.identity_basis, np.float64)))),
        "expression": float(np.sum(np.abs(np.asarray(m.expression_basis, np.float64)))),
        "albedo_mean": float(np.sum(np.asarray(m.albedo_mean, np.float64))),
        "stds": float(np.sum(m.identity_std) + np.sum(m.expression_std) + np.sum(m.albedo_std)),
        "landmarks": float(np.sum(np.asarray(m.landmark_barycentric, np.float64) ** 2)),
    }
    np.testing.assert_allclose([got[k] for k in FINGERPRINT], list(FINGERPRINT.values()), rtol=1e-5)


def test_works_with_the_morphable_functions_under_jit():
    m = synthetic_model("small")
    device_model = fm.to_device(m)

    @jax.jit
    def face(model, identity, expression):
        vertices = fm.shape(model, identity, expression)
        return vertices, fm.landmarks(model, vertices)

    rng = np.random.default_rng(0)
    identity = rng.normal(size=m.num_identity).astype(np.float32)
    expression = rng.normal(size=m.num_expression).astype(np.float32)
    vertices, lmk = face(device_model, jnp.asarray(identity), jnp.asarray(expression))
    expected = (
        np.asarray(m.mean_shape, np.float64)
        + np.asarray(m.identity_basis, np.float64) @ (identity * m.identity_std)
        + np.asarray(m.expression_basis, np.float64) @ (expression * m.expression_std)
    )
    np.testing.assert_allclose(vertices, expected, atol=JIT_ATOL_MM)
    assert lmk.shape == (68, 3)


def test_variants_listed():
    assert set(VARIANTS) == {"default", "small"}
