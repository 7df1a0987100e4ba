"""Umeyama alignment: exact recovery, numpy reference on noisy data, reflections, weights, grads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.spatial.transform import Rotation

from facejax import geometry

procrustes = jax.jit(geometry.procrustes, static_argnames="scale")
align = jax.jit(geometry.align, static_argnames="scale")

ATOL_F64 = 1e-10
ATOL_F32 = 1e-3  # points of size ~100 (mm)
GRAD_TOL = 1e-5


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    """``assert_allclose`` with no hidden relative tolerance: the named tolerance is the test."""
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _cloud(n=20, seed=0):
    # Anisotropic, so the cross-covariance has distinct singular values.
    return np.random.default_rng(seed).normal(size=(n, 3)) * np.array([80.0, 50.0, 20.0])


def _similarity(seed):
    rng = np.random.default_rng(seed)
    return (
        rng.uniform(0.5, 2.0),
        Rotation.from_rotvec(rng.normal(size=3)).as_matrix(),
        rng.normal(size=3) * 30,
    )


def _umeyama_reference(src, tgt, w=None, scale=True):
    """Float64 numpy transcription of Umeyama (1991), eqs. 34-42, with weights."""
    w = np.full(len(src), 1.0 / len(src)) if w is None else w / w.sum()
    mu_s, mu_t = w @ src, w @ tgt
    xs, xt = src - mu_s, tgt - mu_t
    cov = (w[:, None] * xt).T @ xs
    u, d, vt = np.linalg.svd(cov)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2] = -1
    r = u @ np.diag(sign) @ vt
    s = (d * sign).sum() / (w * (xs**2).sum(-1)).sum() if scale else 1.0
    return s, r, mu_t - s * r @ mu_s


def test_recovers_known_similarity(x64):
    src = _cloud()
    s, r, t = _similarity(1)
    tgt = s * src @ r.T + t
    s_hat, r_hat, t_hat = procrustes(src, tgt)
    assert_close(s_hat, s, atol=ATOL_F64)
    assert_close(r_hat, r, atol=ATOL_F64)
    assert_close(t_hat, t, atol=1e-8)
    assert_close(align(src, tgt), tgt, atol=1e-8)


def test_matches_numpy_on_noisy_data(x64):
    src = _cloud(seed=2)
    s, r, t = _similarity(3)
    rng = np.random.default_rng(4)
    tgt = s * src @ r.T + t + rng.normal(size=src.shape) * 5.0
    w = rng.uniform(0.1, 1.0, len(src))
    for weights in (None, w):
        for scale in (True, False):
            got = procrustes(src, tgt, weights, scale=scale)
            ref = _umeyama_reference(src, tgt, weights, scale)
            for a, b in zip(got, ref, strict=True):
                assert_close(a, b, atol=1e-9)


def test_rigid_fit_and_reflection(x64):
    src = _cloud(seed=5)
    _, r, t = _similarity(6)
    s_hat, r_hat, t_hat = procrustes(src, 1.7 * src @ r.T + t, scale=False)
    assert s_hat == 1.0
    assert_close(r_hat, r, atol=ATOL_F64)  # the scale cannot be absorbed
    # A mirrored target: the best proper rotation, never a reflection.
    mirrored = src * np.array([-1.0, 1.0, 1.0])
    _, r_hat, _ = procrustes(src, mirrored)
    assert_close(np.linalg.det(r_hat), 1.0, atol=ATOL_F64)
    assert_close(r_hat, _umeyama_reference(src, mirrored)[1], atol=ATOL_F64)


def test_zero_weights_ignore_outliers(x64):
    src = _cloud(seed=7)
    s, r, t = _similarity(8)
    tgt = s * src @ r.T + t
    tgt[:3] += 500.0  # corrupted correspondences
    w = np.ones(len(src))
    w[:3] = 0.0
    s_hat, r_hat, _ = procrustes(src, tgt, w)
    assert_close(s_hat, s, atol=ATOL_F64)
    assert_close(r_hat, r, atol=ATOL_F64)


def test_gradients(x64):
    src = _cloud(n=6, seed=9)
    s, r, t = _similarity(10)
    tgt = s * src @ r.T + t + np.random.default_rng(11).normal(size=src.shape)
    check_grads(procrustes, (src, tgt), order=1, atol=GRAD_TOL, rtol=GRAD_TOL)


def test_vmap_matches_loop():
    srcs = np.stack([_cloud(n=8, seed=s) for s in range(3)])
    tgts = np.stack([_similarity(s)[0] * c for s, c in enumerate(srcs)])
    srcs, tgts = jnp.asarray(srcs, jnp.float32), jnp.asarray(tgts, jnp.float32)
    out = jax.jit(jax.vmap(geometry.align))(srcs, tgts)
    assert out.dtype == jnp.float32
    loop = np.stack([align(a, b) for a, b in zip(srcs, tgts, strict=True)])
    assert_close(out, loop, atol=ATOL_F32)
    assert_close(out, tgts, atol=ATOL_F32)


def test_bad_input():
    with pytest.raises(ValueError, match=r"target must have shape \[5, 3\]"):
        geometry.procrustes(jnp.zeros((5, 3)), jnp.zeros((6, 3)))
    with pytest.raises(ValueError, match=r"weights must have shape \[5\]"):
        geometry.procrustes(jnp.zeros((5, 3)), jnp.zeros((5, 3)), jnp.ones(4))
    with pytest.raises(ValueError, match="at least 3 point pairs"):
        geometry.procrustes(jnp.zeros((2, 3)), jnp.zeros((2, 3)))
