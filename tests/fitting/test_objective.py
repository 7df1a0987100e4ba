"""The landmark objective's pieces against float64 numpy references, and their gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import fitting
from facejax.fitting.objective import sanitize

ATOL_F64 = 1e-12
GRAD_EPS = 1e-4


def huber_reference(z, delta):
    r = np.sqrt(z)
    return np.where(r <= delta, 0.5 * z, delta * (r - 0.5 * delta))


def test_robust_losses_match_references(x64):
    z = np.array([0.0, 1e-6, 0.01, 0.0625, 0.25, 1.0, 9.0])
    np.testing.assert_allclose(fitting.squared(z), 0.5 * z, atol=ATOL_F64)
    np.testing.assert_allclose(fitting.huber(z, 0.25), huber_reference(z, 0.25), atol=ATOL_F64)
    c = 0.3
    np.testing.assert_allclose(
        fitting.geman_mcclure(z, c), 0.5 * z * c**2 / (c**2 + z), atol=ATOL_F64
    )
    # All agree with least squares near zero; Geman-McClure saturates at 0.5 c^2.
    small = z[:3]
    for name in ("huber", "geman_mcclure"):
        np.testing.assert_allclose(
            fitting.robust_loss(small, name, 10.0), 0.5 * small, rtol=1e-3, atol=ATOL_F64
        )
    assert float(fitting.geman_mcclure(1e12, c)) == pytest.approx(0.5 * c**2)
    with pytest.raises(ValueError, match="unknown loss 'l1'"):
        fitting.robust_loss(z, "l1", 1.0)


def test_loss_gradients_are_finite_and_correct(x64):
    for fn in (lambda z: fitting.huber(z, 0.25), lambda z: fitting.geman_mcclure(z, 0.3)):
        check_grads(jax.jit(fn), (jnp.array([0.01, 0.3, 2.0]),), order=1, eps=GRAD_EPS)
        grad_at_zero = jax.grad(lambda z, fn=fn: jnp.sum(fn(z)))(jnp.zeros(3))
        np.testing.assert_allclose(grad_at_zero, 0.5, atol=ATOL_F64)


def face_size_reference(points, weights):
    centroid = (weights[:, None] * points).sum(0) / weights.sum()
    return np.sqrt((weights * ((points - centroid) ** 2).sum(-1)).sum() / weights.sum())


def test_face_size_and_data_term_match_references(x64):
    rng = np.random.default_rng(0)
    target = rng.uniform(50, 150, size=(68, 2))
    predicted = target + rng.normal(size=target.shape)
    weights = rng.uniform(0, 1, size=68)
    weights[[3, 7]] = 0.0
    size = fitting.face_size(target, weights)
    np.testing.assert_allclose(size, face_size_reference(target, weights), atol=ATOL_F64)
    z = ((predicted - target) ** 2).sum(-1) / face_size_reference(target, weights) ** 2
    expected = (weights * huber_reference(z, 0.05)).sum() / weights.sum()
    value = fitting.landmark_data_term(predicted, target, weights, size, loss="huber")
    np.testing.assert_allclose(value, expected, atol=ATOL_F64)
    check_grads(
        jax.jit(lambda p: fitting.landmark_data_term(p, target, weights, size, loss="huber")),
        (predicted,),
        order=1,
        eps=GRAD_EPS,
    )
    # The face size scales with the image, so the data term does not: a 10x larger image
    # with the same relative residuals costs the same.
    big = fitting.landmark_data_term(
        10 * predicted, 10 * target, weights, fitting.face_size(10 * target, weights)
    )
    np.testing.assert_allclose(
        big, fitting.landmark_data_term(predicted, target, weights, size), rtol=1e-10
    )


def test_no_weight_is_finite_and_errors_skip_unused_points(x64):
    target = np.zeros((68, 2))
    weights = np.zeros(68)
    size = fitting.face_size(target, weights)
    assert np.isfinite(float(size)) and float(size) > 0
    assert float(fitting.landmark_data_term(target + 1, target, weights, size)) == 0.0
    assert np.isnan(float(fitting.landmark_error(target + 1, target, weights)))
    weights[:2] = 1.0
    predicted = target.copy()
    predicted[:2] = [3.0, 4.0]  # 5 px away
    predicted[2:] = 100.0  # unused points
    assert float(fitting.landmark_error(predicted, target, weights)) == pytest.approx(5.0)


def test_sanitize_turns_nan_rows_into_zero_weight():
    points = np.ones((3, 2))
    points[1, 0] = np.nan
    clean, weights = sanitize(points, None)
    np.testing.assert_array_equal(weights, [1.0, 0.0, 1.0])
    assert np.all(np.isfinite(np.asarray(clean)))
