"""clip_consistency_loss against a float64 numpy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses

RTOL_F64 = 1e-12


def _reference(codes):
    codes = np.asarray(codes, np.float64)
    out = np.zeros(codes.shape[:-2])
    for index in np.ndindex(*codes.shape[:-2]):
        clip = codes[index]
        mean = clip.mean(axis=0)
        out[index] = np.mean([np.sum((frame - mean) ** 2) for frame in clip])
    return out


def test_matches_reference_and_two_frames(x64):
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(2, 3, 5, 4))
    got = jax.jit(losses.clip_consistency_loss)(jnp.asarray(codes))
    np.testing.assert_allclose(got, _reference(codes), rtol=RTOL_F64)
    pair = rng.normal(size=(6, 2, 7))
    np.testing.assert_allclose(
        losses.clip_consistency_loss(jnp.asarray(pair)),
        np.sum((pair[:, 0] - pair[:, 1]) ** 2, axis=-1) / 4,
        rtol=RTOL_F64,
    )


def test_zero_only_for_a_constant_clip_and_gradients(x64):
    codes = jnp.broadcast_to(jnp.arange(4.0), (3, 5, 4))
    np.testing.assert_array_equal(losses.clip_consistency_loss(codes), np.zeros(3))
    moved = codes.at[1, 2, 0].add(1.0)
    assert float(losses.clip_consistency_loss(moved)[1]) > 0
    codes = jnp.asarray(np.random.default_rng(1).normal(size=(2, 3, 4)))
    check_grads(losses.clip_consistency_loss, (codes,), order=2, modes=("fwd", "rev"))


def test_float32_for_bfloat16_and_bad_input():
    out = losses.clip_consistency_loss(jnp.ones((2, 3, 4), jnp.bfloat16))
    assert out.dtype == jnp.float32 and out.shape == (2,)
    with pytest.raises(ValueError, match=r"\[\.\.\., T, K\]"):
        losses.clip_consistency_loss(jnp.ones((4,)))
