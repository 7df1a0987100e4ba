"""Vertex and landmark losses against float64 numpy references, with their edge cases."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses

ATOL_F64 = 1e-10
RTOL_F32 = 1e-5

# The vertex losses by the distance they average, as the float64 reference names them.
VERTEX_LOSSES = {"squared": losses.squared_vertex_error, "l2": losses.mean_vertex_distance}
vertex_losses = {kind: jax.jit(fn) for kind, fn in VERTEX_LOSSES.items()}
landmark_loss = jax.jit(losses.landmark_loss, static_argnames=("robust", "scale"))


def _reference_vertex(pred, target, weights, kind):
    d2 = ((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2).sum(-1)
    per = d2 if kind == "squared" else np.sqrt(d2)
    w = np.broadcast_to(np.asarray(weights, np.float64), per.shape)
    return (w * per).sum(-1) / w.sum(-1)


def _reference_landmark(pred, target, vis, robust, scale):
    d2 = ((np.asarray(pred, np.float64) - np.asarray(target, np.float64)) ** 2).sum(-1)
    if robust is None:
        rho = d2
    elif robust == "huber":
        d = np.sqrt(d2)
        rho = np.where(d <= scale, d2, 2 * scale * d - scale**2)
    else:
        rho = d2 * scale**2 / (d2 + scale**2)
    vis = np.asarray(vis, np.float64)
    return (vis * rho).sum(-1) / vis.sum(-1)


def _points(seed, shape, noise, dtype=np.float32):
    # numpy data: eager jax.random would compile a kernel per shape.
    rng = np.random.default_rng(seed)
    target = rng.uniform(0.0, 64.0, shape)
    pred = target + noise * rng.normal(size=shape)
    return jnp.asarray(pred.astype(dtype)), jnp.asarray(target.astype(dtype))


def _uniform(seed, shape, dtype=np.float32):
    return jnp.asarray(np.random.default_rng(seed).uniform(size=shape).astype(dtype))


@pytest.mark.parametrize("kind", ["squared", "l2"])
def test_vertex_losses_match_reference(x64, kind):
    pred, target = _points(0, (3, 20, 3), 2.0, np.float64)
    weights = _uniform(1, (20,), np.float64)
    per_face = _uniform(2, (3, 20), np.float64)
    for w in (weights, per_face):
        np.testing.assert_allclose(
            vertex_losses[kind](pred, target, w),
            _reference_vertex(pred, target, w, kind),
            atol=ATOL_F64,
        )
    np.testing.assert_allclose(
        vertex_losses[kind](pred, target),
        _reference_vertex(pred, target, np.ones(20), kind),
        atol=ATOL_F64,
    )


@pytest.mark.parametrize("robust", [None, "huber", "gm"])
def test_landmark_loss_matches_reference(x64, robust):
    pred, target = _points(3, (4, 68, 2), 3.0, np.float64)
    vis = (_uniform(4, (4, 68), np.float64) > 0.3).astype(jnp.float64)
    out = landmark_loss(pred, target, vis, robust=robust, scale=2.0)
    np.testing.assert_allclose(
        out, _reference_landmark(pred, target, vis, robust, 2.0), atol=ATOL_F64
    )
    if robust is not None:
        # Residuals on both sides of the scale, so both branches are exercised.
        d = np.linalg.norm(np.asarray(pred - target), axis=-1)
        assert (d < 2.0).any() and (d > 2.0).any()


def test_huber_is_continuous_and_matches_squared_near_zero(x64):
    scale = 1.5
    d2 = jnp.array([0.0, 0.25, scale**2 - 1e-9, scale**2 + 1e-9, 100.0])
    for robust in ("huber", "gm"):
        rho = np.asarray(losses.robust_penalty(d2, robust, scale))
        assert abs(rho[2] - rho[3]) < 1e-8
        np.testing.assert_allclose(rho[:2], np.asarray(d2[:2]) * [1, 1], rtol=0.2)
    np.testing.assert_allclose(losses.robust_penalty(d2[4], "huber", scale), 2 * 1.5 * 10 - 2.25)
    np.testing.assert_allclose(losses.robust_penalty(d2, None), d2)


@pytest.mark.parametrize("robust", [None, "huber", "gm"])
def test_landmark_gradients(x64, robust):
    pred, target = _points(5, (2, 10, 2), 2.0, np.float64)
    vis = np.ones((2, 10))
    vis[0, :3], vis[1, 5] = 0.0, 0.5
    loss = jax.jit(lambda p: losses.landmark_loss(p, target, vis, robust=robust, scale=1.0))
    check_grads(loss, (pred,), order=1, modes=("rev",))


def test_vertex_gradients(x64):
    pred, target = _points(6, (2, 8, 3), 1.0, np.float64)
    for fn in VERTEX_LOSSES.values():
        loss = jax.jit(lambda p, fn=fn: fn(p, target))
        check_grads(loss, (pred,), order=1, modes=("rev",))
        # Exact vertices: |p - t| has an infinite derivative at zero, the loss not.
        grad = jax.jit(jax.grad(lambda p, fn=fn: jnp.sum(fn(p, p))))
        assert np.all(np.isfinite(grad(target)))


def test_invisible_points_contribute_nothing_even_if_nan():
    pred, target = _points(7, (2, 68, 2), 2.0)
    vis = np.ones((2, 68), np.float32)
    vis[0, 10:20], vis[1] = 0.0, 0.0
    poisoned = np.array(target)
    poisoned[vis == 0] = np.nan

    def total(p, t):
        return jnp.sum(losses.landmark_loss(p, t, vis, robust="huber", scale=1.0))

    fn = jax.jit(jax.value_and_grad(total))
    value, grad = fn(pred, poisoned)
    clean_value, _ = fn(pred, target)
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(value, clean_value, rtol=RTOL_F32)
    # Face 1 has no visible landmark: loss 0, zero gradient; hidden points get no gradient.
    per_face = landmark_loss(pred, poisoned, vis)
    assert per_face[1] == 0.0 and per_face[0] > 0.0
    np.testing.assert_array_equal(grad[1], 0.0)
    np.testing.assert_array_equal(grad[0, 10:20], 0.0)


def test_all_zero_vertex_weights_give_zero():
    pred, target = _points(8, (2, 5, 3), 1.0)
    weights = np.array([[1.0] * 5, [0.0] * 5])
    out = vertex_losses["l2"](pred, target, weights)
    assert out[1] == 0.0 and out[0] > 0.0


def test_batched_equals_loop():
    pred, target = _points(9, (3, 68, 2), 2.0)
    vis = (_uniform(10, (3, 68)) > 0.2).astype(jnp.float32)
    batched = landmark_loss(pred, target, vis, robust="gm", scale=2.0)
    rows = zip(
        np.asarray(pred), np.asarray(target), np.asarray(vis), strict=True
    )  # numpy: no slicing
    looped = [landmark_loss(p, t, v, robust="gm", scale=2.0) for p, t, v in rows]
    np.testing.assert_allclose(batched, np.stack(looped), rtol=RTOL_F32)
    pred3, target3 = _points(11, (3, 7, 3), 2.0)
    vmapped = jax.jit(jax.vmap(losses.squared_vertex_error))(pred3, target3)
    np.testing.assert_allclose(vmapped, vertex_losses["squared"](pred3, target3), rtol=RTOL_F32)


def test_bad_input_is_named():
    pts = jnp.zeros((2, 68, 2))
    with pytest.raises(ValueError, match="differ in shape"):
        losses.landmark_loss(pts, jnp.zeros((2, 67, 2)))
    with pytest.raises(ValueError, match=r"\[\.\.\., N, 2\]"):
        losses.landmark_loss(jnp.zeros((2, 68, 3)), jnp.zeros((2, 68, 3)))
    with pytest.raises(ValueError, match="one weight per point"):
        losses.landmark_loss(pts, pts, jnp.ones((2, 5)))
    with pytest.raises(ValueError, match="unknown robust"):
        losses.landmark_loss(pts, pts, robust="cauchy")
    with pytest.raises(ValueError, match="unknown kind"), pytest.deprecated_call():
        losses.vertex_loss(jnp.zeros((1, 4, 3)), jnp.zeros((1, 4, 3)), kind="l1")
    with pytest.raises(ValueError, match=r"mean_vertex_distance: points must have shape"):
        losses.mean_vertex_distance(jnp.zeros((1, 4, 2)), jnp.zeros((1, 4, 2)))


@pytest.mark.parametrize("kind", ["squared", "l2"])
def test_deprecated_vertex_loss_warns_and_equals_its_replacement(kind):
    pred, target = _points(12, (2, 6, 3), 1.0)
    with pytest.deprecated_call(match="vertex_loss is deprecated"):
        old = losses.vertex_loss(pred, target, kind=kind)
    np.testing.assert_array_equal(old, VERTEX_LOSSES[kind](pred, target))
