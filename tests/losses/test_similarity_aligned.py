"""similarity_aligned_landmark_loss against a float64 numpy reference, its invariances and
gradients."""

import jax
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses

ATOL_F64 = 1e-10
RTOL_F32 = 1e-5

loss = jax.jit(losses.similarity_aligned_landmark_loss)


def _reference(pred, target, weights):
    """The least-squares in-plane similarity from numpy's general lstsq solver (4 unknowns per
    face: a, b of the scaled rotation [[a, -b], [b, a]] and the translation), independent of
    the closed form under test."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    w = np.broadcast_to(np.asarray(weights, np.float64), pred.shape[:-1])
    out = []
    for p, t, wi in zip(pred, target, w, strict=True):
        keep = wi > 0
        p, t, wi = p[keep], t[keep], wi[keep]
        sw = np.sqrt(wi)[:, None]
        zeros, ones = np.zeros(len(p)), np.ones(len(p))
        rows_x = np.stack([p[:, 0], -p[:, 1], ones, zeros], axis=1)
        rows_y = np.stack([p[:, 1], p[:, 0], zeros, ones], axis=1)
        a = np.concatenate([rows_x * sw, rows_y * sw])
        rhs = np.concatenate([t[:, 0] * sw[:, 0], t[:, 1] * sw[:, 0]])
        x, *_ = np.linalg.lstsq(a, rhs, rcond=None)
        r = (a @ x - rhs) ** 2
        out.append(r.sum() / wi.sum())
    return np.array(out)


def _landmarks(seed, n=3, count=68):
    rng = np.random.default_rng(seed)
    target = rng.uniform(10, 54, (n, count, 2))
    pred = target + rng.normal(0, 1.5, (n, count, 2))
    weights = (rng.uniform(size=(n, count)) > 0.2) * rng.uniform(0.5, 2, (n, count))
    return pred, target, weights


def _similarity(points, scale, angle, shift):
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, s], [-s, c]]) + np.asarray(shift)


def test_matches_float64_reference(x64):
    pred, target, weights = _landmarks(0)
    got = loss(pred, target, weights)
    np.testing.assert_allclose(got, _reference(pred, target, weights), atol=ATOL_F64, rtol=0)
    ones = np.ones(pred.shape[:-1])
    np.testing.assert_allclose(loss(pred, target), _reference(pred, target, ones), atol=ATOL_F64)


def test_float32_close_to_reference():
    pred, target, weights = _landmarks(1)
    got = loss(pred.astype(np.float32), target.astype(np.float32), weights.astype(np.float32))
    np.testing.assert_allclose(got, _reference(pred, target, weights), rtol=RTOL_F32)


def test_position_size_and_roll_cost_nothing_shape_does(x64):
    pred, target, weights = _landmarks(2)
    moved = _similarity(target, 1.3, 0.4, [6.0, -2.0])
    np.testing.assert_allclose(loss(moved, target, weights), 0.0, atol=1e-18)
    # A plain landmark loss charges the same move: the two differ exactly there.
    assert np.all(np.asarray(losses.landmark_loss(moved, target, weights)) > 1.0)
    # A shape error (a wider mouth) still counts, unchanged by a similarity of the prediction.
    wider = target.copy()
    wider[:, 48:68, 0] += np.linspace(-2.0, 2.0, 20)
    assert np.all(np.asarray(loss(wider, target, weights)) > 0.1)
    np.testing.assert_allclose(
        loss(_similarity(wider, 0.7, -1.1, [3.0, 9.0]), target, weights),
        loss(wider, target, weights),
        rtol=1e-10,
    )


def test_hidden_landmarks_are_ignored_even_when_nan(x64):
    pred, target, weights = _landmarks(3)
    weights[:, :5] = 0.0
    poisoned = target.copy()
    poisoned[:, :5] = np.nan
    np.testing.assert_allclose(loss(pred, poisoned, weights), loss(pred, target, weights))
    grad = jax.grad(lambda p: loss(p, poisoned, weights).sum())(pred)
    assert np.all(np.isfinite(grad)) and np.all(np.asarray(grad)[:, :5] == 0)


def test_degenerate_inputs_stay_finite(x64):
    pred, target, _ = _landmarks(4)
    point = np.zeros_like(pred)  # collapsed to a point: no similarity to fit
    assert np.all(np.isfinite(loss(point, target)))
    assert np.all(np.isfinite(jax.grad(lambda p: loss(p, target).sum())(point)))
    np.testing.assert_allclose(loss(pred, target, np.zeros(pred.shape[:-1])), 0.0)


def test_gradients(x64):
    pred, target, weights = _landmarks(5, n=2, count=9)
    check_grads(lambda p: loss(p, target, weights), (pred,), order=2, modes=("fwd", "rev"))


def test_vmap_equals_loop(x64):
    pred, target, weights = _landmarks(6)
    mapped = jax.vmap(losses.similarity_aligned_landmark_loss)(pred, target, weights)
    looped = [loss(p, t, w) for p, t, w in zip(pred, target, weights, strict=True)]
    np.testing.assert_allclose(mapped, looped, rtol=1e-12)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"\[\.\.\., L, 2\]"):
        losses.similarity_aligned_landmark_loss(np.zeros((2, 5, 3)), np.zeros((2, 5, 3)))
