"""Photometric, cycle-consistency and prior losses, and the masked mean they share."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses

ATOL_F64 = 1e-10
RTOL_F32 = 1e-5

photometric_loss = jax.jit(losses.photometric_loss, static_argnames="kind")
cycle_loss = jax.jit(losses.cycle_consistency_loss, static_argnames="kind")


def _images(seed, shape=(2, 6, 5, 3), dtype=np.float32):
    # numpy data: eager jax.random would compile a kernel per shape.
    rng = np.random.default_rng(seed)
    a = rng.uniform(size=shape)
    b = np.clip(a + 0.2 * rng.normal(size=shape), 0.0, 1.0)
    mask = rng.uniform(size=shape[:-1])  # soft mask
    return tuple(jnp.asarray(x.astype(dtype)) for x in (a, b, mask))


def _reference_photometric(r, t, mask, kind):
    diff = np.asarray(r, np.float64) - np.asarray(t, np.float64)
    per = {
        "l2": np.sqrt((diff**2).sum(-1)),
        "l1": np.abs(diff).sum(-1),
        "squared": (diff**2).sum(-1),
    }[kind]
    m = np.broadcast_to(np.asarray(mask, np.float64), per.shape)
    return (m * per).sum((-2, -1)) / m.sum((-2, -1))


@pytest.mark.parametrize("kind", ["l2", "l1", "squared"])
def test_photometric_matches_reference(x64, kind):
    r, t, mask = _images(0, dtype=np.float64)
    np.testing.assert_allclose(
        photometric_loss(r, t, mask, kind=kind),
        _reference_photometric(r, t, mask, kind),
        atol=ATOL_F64,
    )
    # An [H, W] mask is shared by the batch.
    np.testing.assert_allclose(
        photometric_loss(r, t, mask[0], kind=kind),
        _reference_photometric(r, t, mask[0], kind),
        atol=ATOL_F64,
    )


def test_photometric_gradients_and_empty_mask(x64):
    r, t, mask = _images(1, dtype=np.float64)
    loss = jax.jit(lambda x: losses.photometric_loss(x, t, mask))
    check_grads(loss, (r,), order=1, modes=("rev",))

    empty, poisoned = np.array(mask), np.array(t)
    empty[1], poisoned[1] = 0.0, np.nan
    value, grad = jax.jit(
        jax.value_and_grad(lambda x: jnp.sum(losses.photometric_loss(x, poisoned, empty)))
    )(r)
    per_image = photometric_loss(r, poisoned, empty)
    assert per_image[1] == 0.0 and per_image[0] > 0.0 and np.isfinite(value)
    np.testing.assert_array_equal(grad[1], 0.0)
    # A perfect render: the l2 colour distance's derivative at zero stays finite.
    grad = jax.jit(jax.grad(lambda x: jnp.sum(losses.photometric_loss(x, x, mask))))(r)
    assert np.all(np.isfinite(grad))


def test_cycle_matches_reference(x64):
    a, b, mask = _images(2, dtype=np.float64)
    diff = np.abs(np.asarray(a - b))
    per_pixel = diff.mean(-1)
    m = np.asarray(mask)
    ref = (m * per_pixel).sum((1, 2)) / m.sum((1, 2))
    np.testing.assert_allclose(cycle_loss(a, b, mask), ref, atol=ATOL_F64)
    np.testing.assert_allclose(cycle_loss(a, b), diff.mean((1, 2, 3)), atol=ATOL_F64)
    params_a, params_b = a.reshape(2, -1), b.reshape(2, -1)
    np.testing.assert_allclose(
        cycle_loss(params_a, params_b, kind="squared"),
        (np.asarray(params_a - params_b) ** 2).mean(-1),
        atol=ATOL_F64,
    )
    loss = jax.jit(lambda x: losses.cycle_consistency_loss(x, b, mask, kind="squared"))
    check_grads(loss, (a,), order=1, modes=("rev",))


def test_cycle_edge_cases():
    a, b, mask = _images(3)
    assert np.all(np.asarray(cycle_loss(a, a, mask)) == 0.0)
    out = cycle_loss(a, b, np.asarray(mask) * [[[0.0]], [[1.0]]])
    assert out[0] == 0.0 and out[1] > 0.0
    a_np, b_np, m_np = np.asarray(a), np.asarray(b), np.asarray(mask)  # numpy: no slicing ops
    looped = np.stack(
        [cycle_loss(a_np[i : i + 1], b_np[i : i + 1], m_np[i : i + 1]) for i in range(2)]
    )
    np.testing.assert_allclose(cycle_loss(a, b, mask), looped[:, 0], rtol=RTOL_F32)
    with pytest.raises(ValueError, match="leading part"):
        losses.cycle_consistency_loss(a, b, mask[:, :, :2])
    with pytest.raises(ValueError, match="one shape"):
        losses.cycle_consistency_loss(a, b[..., :2])
    with pytest.raises(ValueError, match="unknown kind"):
        losses.cycle_consistency_loss(a, b, kind="huber")


def test_photometric_bad_input_is_named():
    r, t, mask = _images(4)
    with pytest.raises(ValueError, match="one shape"):
        losses.photometric_loss(r, t[..., :2], mask)
    with pytest.raises(ValueError, match="mask must have shape"):
        losses.photometric_loss(r, t, mask[..., :3])
    with pytest.raises(ValueError, match="unknown kind"):
        losses.photometric_loss(r, t, mask, kind="ssim")


def test_coefficient_prior(x64):
    c = jnp.asarray(np.random.default_rng(5).normal(size=(4, 7)))
    np.testing.assert_allclose(
        losses.coefficient_prior(c), 0.5 * (np.asarray(c) ** 2).sum(-1), atol=ATOL_F64
    )
    check_grads(jax.jit(losses.coefficient_prior), (c,), order=1, modes=("rev",))
    assert losses.coefficient_prior(jnp.ones((2, 3), jnp.bfloat16)).dtype == jnp.float32


def test_masked_mean():
    values = jnp.array([[1.0, 2.0, jnp.nan], [jnp.inf, 5.0, 6.0]])
    weights = jnp.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(losses.masked_mean(values, weights), [7.0 / 4.0, 0.0])
    np.testing.assert_allclose(losses.masked_mean(jnp.ones((2, 3))), [1.0, 1.0])
    with pytest.raises(ValueError, match="weights shape"):
        losses.masked_mean(values, weights[:, :2])
