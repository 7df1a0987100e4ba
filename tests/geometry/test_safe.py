"""Safe norms and inverse trigonometry: ordinary values, finite gradients at singular points."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import geometry

# Compiled once per shape: eager dispatch compiles every primitive separately (slow on 2 cores).
safe_norm = jax.jit(geometry.safe_norm, static_argnames=("axis", "keepdims", "eps"))
safe_normalize = jax.jit(geometry.safe_normalize, static_argnames=("axis", "eps"))
safe_arccos = jax.jit(geometry.safe_arccos)
safe_arcsin = jax.jit(geometry.safe_arcsin)
safe_arctan2 = jax.jit(geometry.safe_arctan2)

ATOL_F64 = 1e-12
ATOL_F32 = 1e-6
GRAD_TOL = 1e-5  # check_grads finite differences in float64


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    """``assert_allclose`` with no hidden relative tolerance: the named tolerance is the test."""
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _vectors(seed=0, shape=(4, 3)):
    return np.random.default_rng(seed).normal(size=shape)


def test_safe_norm_matches_numpy(x64):
    x = _vectors(shape=(2, 5, 3))
    assert_close(safe_norm(x), np.linalg.norm(x, axis=-1), atol=ATOL_F64)
    assert_close(
        safe_norm(x, axis=1, keepdims=True), np.linalg.norm(x, axis=1, keepdims=True), atol=ATOL_F64
    )
    assert_close(safe_norm(x, axis=(1, 2)), np.sqrt((x**2).sum(axis=(1, 2))), atol=ATOL_F64)


def test_safe_norm_gradient_at_zero_is_finite():
    grad = jax.grad(lambda x: safe_norm(x))(jnp.zeros(3))
    np.testing.assert_array_equal(grad, np.zeros(3))
    hess = jax.hessian(lambda x: safe_norm(x))(jnp.zeros(3))
    assert np.all(np.isfinite(hess))
    # The plain norm is what we guard against: its gradient at zero is NaN.
    assert np.all(np.isnan(jax.grad(jnp.linalg.norm)(jnp.zeros(3))))


def test_safe_norm_gradient_elsewhere(x64):
    x = _vectors()
    grad = jax.vmap(jax.grad(lambda v: safe_norm(v)))(x)
    assert_close(grad, x / np.linalg.norm(x, axis=-1, keepdims=True), atol=ATOL_F64)
    check_grads(lambda v: safe_norm(v, axis=-1), (x,), order=2, atol=GRAD_TOL, rtol=GRAD_TOL)


def test_safe_normalize_values_and_zero(x64):
    x = _vectors()
    x[1] = 0.0
    out = np.asarray(safe_normalize(x))
    ref = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-300)
    assert_close(out, ref, atol=ATOL_F64)
    np.testing.assert_array_equal(out[1], np.zeros(3))


def test_safe_normalize_gradient(x64):
    x = _vectors()
    check_grads(safe_normalize, (x,), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    jac = jax.jacobian(safe_normalize)(x[0])
    u = x[0] / np.linalg.norm(x[0])
    assert_close(jac, (np.eye(3) - np.outer(u, u)) / np.linalg.norm(x[0]), atol=ATOL_F64)
    jac0 = jax.jacobian(safe_normalize)(jnp.zeros(3))
    np.testing.assert_array_equal(jac0, np.zeros((3, 3)))


@pytest.mark.parametrize(
    "safe_fn, np_fn, slope",
    [
        (safe_arccos, np.arccos, lambda x: -1.0 / np.sqrt(1 - x**2)),
        (safe_arcsin, np.arcsin, lambda x: 1.0 / np.sqrt(1 - x**2)),
    ],
)
def test_safe_inverse_trig(x64, safe_fn, np_fn, slope):
    x = np.linspace(-0.99, 0.99, 9)  # ends kept off the finite-difference stencil below
    assert_close(safe_fn(x), np_fn(x), atol=ATOL_F64)
    grad = jax.vmap(jax.grad(safe_fn))(x)
    assert_close(grad, slope(x), rtol=1e-10)
    check_grads(safe_fn, (x[1:-1],), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)
    # Round-off pushes cosines slightly past 1; values clip and gradients stay finite.
    edge = jnp.array([-1.0 - 1e-9, -1.0, 1.0, 1.0 + 1e-9])
    assert_close(safe_fn(edge), np_fn(np.clip(edge, -1, 1)), atol=ATOL_F64)
    assert np.all(np.isfinite(jax.vmap(jax.grad(safe_fn))(edge)))


def test_safe_inverse_trig_float32_edges():
    edge = jnp.array([-1.0, 1.0], jnp.float32)
    for fn in (safe_arccos, safe_arcsin):
        grad = jax.vmap(jax.grad(fn))(edge)
        assert grad.dtype == jnp.float32 and np.all(np.isfinite(grad))


def test_safe_arctan2(x64):
    rng = np.random.default_rng(1)
    y, x = rng.normal(size=(2, 6))
    assert_close(safe_arctan2(y, x), np.arctan2(y, x), atol=ATOL_F64)
    check_grads(safe_arctan2, (y, x), order=2, atol=GRAD_TOL, rtol=GRAD_TOL)
    gy, gx = jax.grad(safe_arctan2, argnums=(0, 1))(0.0, 0.0)
    assert gy == 0.0 and gx == 0.0


def test_safe_functions_under_jit_float32():
    x = jnp.asarray(_vectors(), jnp.float32)
    out = safe_normalize(x)
    assert out.dtype == jnp.float32
    assert_close(out, geometry.safe_normalize(x), atol=ATOL_F32)
    ref = x / np.linalg.norm(x, axis=-1, keepdims=True)
    assert_close(out, ref, atol=ATOL_F32)
    assert_close(safe_norm(x), np.linalg.norm(x, axis=-1), atol=ATOL_F32)
