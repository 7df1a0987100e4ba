"""Hadsell et al.'s contrastive loss against a float64 numpy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses

ATOL_F64 = 1e-10
RTOL_F32 = 1e-5

contrastive_loss = jax.jit(losses.contrastive_loss, static_argnames=("margin", "distance"))


def _reference(a, b, same, margin, distance):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if distance == "euclidean":
        d = np.linalg.norm(a - b, axis=-1)
    else:
        d = 1 - (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    same = np.asarray(same, np.float64)
    return same * 0.5 * d**2 + (1 - same) * 0.5 * np.maximum(margin - d, 0) ** 2


def _pairs(seed, dtype=np.float32):
    # numpy data: eager jax.random would compile a kernel per shape.
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(6, 4))
    b = a + 0.8 * rng.normal(size=(6, 4))
    same = jnp.array([1, 0, 1, 0, 0, 1])
    return jnp.asarray(a.astype(dtype)), jnp.asarray(b.astype(dtype)), same


@pytest.mark.parametrize("distance, margin", [("euclidean", 2.0), ("cosine", 0.5)])
def test_matches_reference(x64, distance, margin):
    a, b, same = _pairs(0, np.float64)
    out = contrastive_loss(a, b, same, margin, distance=distance)
    np.testing.assert_allclose(out, _reference(a, b, same, margin, distance), atol=ATOL_F64)
    # The push term must be active for some pair, or the test could not catch a wrong sign.
    d = np.asarray(jax.jit(losses.pair_distance, static_argnums=2)(a, b, distance))
    assert np.any((np.asarray(same) == 0) & (d < margin))


def test_far_negatives_and_identical_positives_cost_nothing():
    a = jnp.array([[0.0, 0.0], [1.0, 2.0]])
    b = jnp.array([[3.0, 4.0], [1.0, 2.0]])  # distance 5 > margin; identical pair
    out = contrastive_loss(a, b, jnp.array([False, True]), margin=1.0)
    np.testing.assert_array_equal(out, [0.0, 0.0])


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_gradients(x64, distance):
    a, b, same = _pairs(1, np.float64)
    loss = jax.jit(lambda x, y: losses.contrastive_loss(x, y, same, 1.5, distance=distance))
    check_grads(loss, (a, b), order=1, modes=("rev",))
    # Identical codes: the Euclidean distance has an infinite derivative there, the loss not.
    grads = jax.jit(jax.grad(lambda x: jnp.sum(loss(x, x))))(a)
    assert np.all(np.isfinite(grads))


def test_batched_equals_loop():
    a, b, same = _pairs(2)
    rows = zip(np.asarray(a), np.asarray(b), np.asarray(same), strict=True)  # numpy: no slicing ops
    looped = np.stack([contrastive_loss(*row) for row in rows])
    np.testing.assert_allclose(contrastive_loss(a, b, same), looped, rtol=RTOL_F32)


def test_bad_input_is_named():
    a = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match="one shape"):
        losses.contrastive_loss(a, jnp.zeros((3, 5)), jnp.ones(3))
    with pytest.raises(ValueError, match="one flag per pair"):
        losses.contrastive_loss(a, a, jnp.ones(4))
    with pytest.raises(ValueError, match="unknown distance"):
        losses.contrastive_loss(a, a, jnp.ones(3), distance="manhattan")
