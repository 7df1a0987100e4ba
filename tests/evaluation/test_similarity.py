"""Cosine similarity: numpy reference, zero features, jit/vmap, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import evaluation
from facejax.evaluation.similarity import normalized_features

cosine_similarity = jax.jit(evaluation.cosine_similarity)

ATOL_F64 = 1e-12
ATOL_F32 = 1e-6
GRAD_TOL = 1e-6


def test_matches_numpy(x64):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 5, 16))
    ref = np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    np.testing.assert_allclose(cosine_similarity(a, b), ref, atol=ATOL_F64, rtol=0)
    # The host-side normalisation used by identification agrees.
    np.testing.assert_allclose(
        np.sum(normalized_features(a) * normalized_features(b), -1),
        ref,
        atol=ATOL_F64,
        rtol=0,
    )
    np.testing.assert_allclose(cosine_similarity(a, 3.0 * a), np.ones(5), atol=ATOL_F64, rtol=0)


def test_zero_feature_scores_zero_with_finite_gradient(x64):
    a, b = np.zeros(8), np.arange(8.0)
    assert cosine_similarity(a, b) == 0.0
    grad = jax.jit(jax.grad(evaluation.cosine_similarity))(jnp.asarray(a), b)
    assert np.all(np.isfinite(grad))
    rng = np.random.default_rng(1)
    check_grads(
        jax.jit(evaluation.cosine_similarity),
        tuple(rng.normal(size=(2, 3, 4))),
        order=1,
        modes=("rev",),
        atol=GRAD_TOL,
        rtol=GRAD_TOL,
    )


def test_float32_vmap_equals_loop():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(2, 6, 32)).astype(np.float32)
    batched = cosine_similarity(a, b)
    assert batched.dtype == jnp.float32
    vmapped = jax.jit(jax.vmap(evaluation.cosine_similarity))(a, b)
    looped = [cosine_similarity(a[i], b[i]) for i in range(6)]
    np.testing.assert_allclose(batched, looped, atol=ATOL_F32, rtol=0)
    np.testing.assert_allclose(vmapped, looped, atol=ATOL_F32, rtol=0)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="same shape"):
        evaluation.cosine_similarity(np.ones((2, 4)), np.ones((2, 5)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        normalized_features(np.array([[np.nan, 1.0]]))
