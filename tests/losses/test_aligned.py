"""scale_aligned_squared_error against a float64 numpy reference, its invariances and gradients."""

import jax
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses

ATOL_F64 = 1e-10
RTOL_F32 = 1e-5

loss = jax.jit(losses.scale_aligned_squared_error)


def _reference(pred, target, weights):
    """The least-squares scale and translation from numpy's general lstsq solver (4 unknowns per
    face), independent of the closed form under test."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    w = np.asarray(weights, np.float64)
    out = []
    for p, t in zip(pred, target, strict=True):
        # Unknowns: scale s and translation c; residual sqrt(w) * (s p + c - t), linear in both.
        sw = np.sqrt(w)[:, None]
        rows = []
        for axis in range(3):
            block = np.zeros((len(p), 4))
            block[:, 0] = p[:, axis]
            block[:, 1 + axis] = 1.0
            rows.append(block * sw)
        a = np.concatenate(rows)
        b = np.concatenate([t[:, axis] * sw[:, 0] for axis in range(3)])
        x, *_ = np.linalg.lstsq(a, b, rcond=None)
        r = (x[0] * p + x[1:] - t) ** 2
        out.append((w * r.sum(-1)).sum() / w.sum())
    return np.array(out)


def _faces(seed, n=3, v=40):
    rng = np.random.default_rng(seed)
    target = rng.normal(0, 30, (n, v, 3))
    pred = target + rng.normal(0, 2, (n, v, 3))
    weights = (rng.uniform(size=v) > 0.3).astype(np.float64) * rng.uniform(0.5, 2, v)
    return pred, target, weights


def test_matches_float64_reference(x64):
    pred, target, weights = _faces(0)
    got = loss(pred, target, weights)
    np.testing.assert_allclose(got, _reference(pred, target, weights), atol=ATOL_F64, rtol=0)
    ones = np.ones(pred.shape[1])
    np.testing.assert_allclose(loss(pred, target), _reference(pred, target, ones), atol=ATOL_F64)


def test_float32_close_to_reference():
    pred, target, weights = _faces(1)
    got = loss(pred.astype(np.float32), target.astype(np.float32), weights.astype(np.float32))
    np.testing.assert_allclose(got, _reference(pred, target, weights), rtol=RTOL_F32)


def test_scale_and_translation_of_the_prediction_cost_nothing(x64):
    _, target, weights = _faces(2)
    moved = 1.37 * target + np.array([5.0, -3.0, 20.0])
    np.testing.assert_allclose(loss(moved, target, weights), 0.0, atol=1e-18)
    # A shape error that is not a scale still counts, and the same after scaling the prediction.
    bent = target.copy()
    bent[:, :10, 2] += 4.0
    assert np.all(np.asarray(loss(bent, target, weights)) > 0.1)
    np.testing.assert_allclose(
        loss(0.8 * bent + 7.0, target, weights), loss(bent, target, weights), rtol=1e-12
    )


def test_zero_weight_vertices_are_ignored_even_when_nan(x64):
    pred, target, weights = _faces(3)
    weights[:5] = 0.0
    poisoned = pred.copy()
    poisoned[:, :5] = np.nan
    np.testing.assert_allclose(loss(poisoned, target, weights), loss(pred, target, weights))
    grad = jax.grad(lambda p: loss(p, target, weights).sum())(poisoned)
    assert np.all(np.isfinite(grad)) and np.all(np.asarray(grad)[:, :5] == 0)


def test_degenerate_inputs_stay_finite(x64):
    pred, target, _ = _faces(4)
    point = np.zeros_like(pred)  # a prediction collapsed to a point: no scale to fit
    value = loss(point, target)
    assert np.all(np.isfinite(value))
    assert np.all(np.isfinite(jax.grad(lambda p: loss(p, target).sum())(point)))
    np.testing.assert_allclose(loss(pred, target, np.zeros(pred.shape[1])), 0.0)


def test_gradients(x64):
    pred, target, weights = _faces(5, n=2, v=12)
    check_grads(lambda p: loss(p, target, weights), (pred,), order=2, modes=("fwd", "rev"))


def test_batched_equals_loop(x64):
    pred, target, weights = _faces(6)
    looped = [loss(p[None], t[None], weights)[0] for p, t in zip(pred, target, strict=True)]
    np.testing.assert_allclose(loss(pred, target, weights), looped, rtol=1e-12)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"\[\.\.\., V, 3\]"):
        losses.scale_aligned_squared_error(np.zeros((2, 5, 2)), np.zeros((2, 5, 2)))
