"""Softmax and margin-softmax identification losses against float64 numpy references."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import losses

ATOL_F64 = 1e-10
RTOL_F32 = 1e-5
GRAD_EPS = 1e-4  # finite-difference step of check_grads, away from the arccos kink at +-1

# Jitted once per shape: op-by-op dispatch compiles every primitive and is slower.
_OPTIONS = ("kind", "scale", "margin", "easy_margin")
margin_logits = jax.jit(losses.margin_logits, static_argnames=_OPTIONS)
margin_softmax_loss = jax.jit(losses.margin_softmax_loss, static_argnames=_OPTIONS)
cross_entropy = jax.jit(losses.softmax_cross_entropy_with_integer_labels)


def _reference_cross_entropy(logits, labels):
    logits = np.asarray(logits, np.float64)
    top = logits.max(-1, keepdims=True)
    lse = top[..., 0] + np.log(np.exp(logits - top).sum(-1))
    return lse - np.take_along_axis(logits, np.asarray(labels)[..., None], -1)[..., 0]


def _reference_margin_logits(cos, labels, kind, scale, margin, easy_margin=False):
    cos = np.asarray(cos, np.float64)
    theta = np.arccos(np.clip(cos, -1, 1))
    if kind == "cosface":
        target = cos - margin
    elif easy_margin:
        target = np.where(cos > 0, np.cos(theta + margin), cos)
    else:
        # insightface: th = cos(pi - m), mm = sin(pi - m) * m.
        th, mm = math.cos(math.pi - margin), math.sin(math.pi - margin) * margin
        target = np.where(cos > th, np.cos(theta + margin), cos - mm)
    onehot = np.eye(cos.shape[-1], dtype=bool)[labels]
    return scale * np.where(onehot, target, cos)


def _cosines(seed, shape, dtype=np.float32):
    # Spread over the whole range, including the region below ArcFace's threshold cos(pi - m).
    # numpy data: eager jax.random would compile a kernel per shape.
    return jnp.asarray(np.random.default_rng(seed).uniform(-0.999, 0.999, shape).astype(dtype))


def test_softmax_cross_entropy_with_integer_labels_matches_reference_and_is_stable(x64):
    logits = jnp.asarray(np.random.default_rng(0).normal(size=(5, 7)) * 3.0)
    labels = jnp.array([0, 6, 3, 3, 1])
    np.testing.assert_allclose(
        cross_entropy(logits, labels),
        _reference_cross_entropy(logits, labels),
        atol=ATOL_F64,
    )
    huge = logits * 1e4  # exp would overflow without the max shift
    out = cross_entropy(huge, labels)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, _reference_cross_entropy(huge, labels), rtol=1e-12)


@pytest.mark.parametrize(
    "kind, margin, easy",
    [("arcface", 0.5, False), ("arcface", 0.3, True), ("cosface", 0.35, False)],
)
def test_margin_logits_match_reference(x64, kind, margin, easy):
    cos = _cosines(1, (6, 9), np.float64)
    labels = jnp.array([0, 8, 2, 2, 5, 7])
    out = margin_logits(cos, labels, kind=kind, scale=30.0, margin=margin, easy_margin=easy)
    ref = _reference_margin_logits(cos, labels, kind, 30.0, margin, easy)
    np.testing.assert_allclose(out, ref, atol=ATOL_F64)
    # Non-target classes are the scaled cosines, untouched.
    onehot = np.eye(9, dtype=bool)[np.asarray(labels)]
    np.testing.assert_allclose(np.asarray(out)[~onehot], 30.0 * np.asarray(cos)[~onehot])
    np.testing.assert_allclose(
        margin_softmax_loss(cos, labels, kind=kind, scale=30.0, margin=margin, easy_margin=easy),
        _reference_cross_entropy(ref, labels),
        atol=ATOL_F64,
    )


def test_default_margins_are_the_papers():
    cos = jnp.array([[0.8, 0.1]])
    labels = jnp.array([0])
    arc = margin_logits(cos, labels, kind="arcface")
    cosface = margin_logits(cos, labels, kind="cosface")
    np.testing.assert_allclose(arc[0, 0], 64.0 * math.cos(math.acos(0.8) + 0.5), rtol=RTOL_F32)
    np.testing.assert_allclose(cosface[0, 0], 64.0 * (0.8 - 0.35), rtol=RTOL_F32)


@pytest.mark.parametrize("kind", ["arcface", "cosface"])
def test_margin_loss_gradients(x64, kind):
    cos = _cosines(2, (4, 5), np.float64) * 0.9
    labels = jnp.array([1, 0, 4, 2])
    loss = jax.jit(lambda c: losses.margin_softmax_loss(c, labels, kind=kind, scale=8.0))
    check_grads(loss, (cos,), order=1, modes=("rev",), eps=GRAD_EPS)


@pytest.mark.parametrize("value", [1.0, -1.0])
def test_arcface_gradient_finite_at_unit_cosine(value):
    cos = jnp.array([[value, 0.2, -0.3], [0.1, value, value]])
    labels = jnp.array([0, 2])
    grad = jax.jit(jax.grad(lambda c: jnp.sum(losses.margin_softmax_loss(c, labels))))(cos)
    assert np.all(np.isfinite(grad))
    # The value itself is exact at the endpoint: cos(0 + m) for a perfect match.
    logits = margin_logits(jnp.array([[1.0, 0.0]]), jnp.array([0]), scale=1.0)
    np.testing.assert_allclose(logits[0, 0], math.cos(0.5), rtol=RTOL_F32)


def test_batched_equals_loop():
    cos = _cosines(3, (5, 6))
    labels = jnp.array([5, 0, 1, 1, 3])
    batched = margin_softmax_loss(cos, labels)
    rows = zip(np.asarray(cos), np.asarray(labels), strict=True)  # numpy: no slicing ops
    looped = np.stack([margin_softmax_loss(*row) for row in rows])
    np.testing.assert_allclose(batched, looped, rtol=RTOL_F32)
    vmapped = jax.jit(jax.vmap(losses.softmax_cross_entropy_with_integer_labels))(cos * 10, labels)
    np.testing.assert_allclose(vmapped, cross_entropy(cos * 10, labels), rtol=RTOL_F32)


def test_bfloat16_scores_give_float32_losses():
    cos = _cosines(4, (3, 4)).astype(jnp.bfloat16)
    labels = jnp.array([0, 1, 2])
    assert margin_softmax_loss(cos, labels).dtype == jnp.float32
    assert cross_entropy(cos, labels).dtype == jnp.float32


def test_bad_input_is_named():
    cos = jnp.zeros((3, 4))
    with pytest.raises(ValueError, match="unknown kind"):
        margin_logits(cos, jnp.array([0, 1, 2]), kind="sphereface")
    with pytest.raises(ValueError, match="integer class indices"):
        losses.softmax_cross_entropy_with_integer_labels(cos, jnp.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="leading shape"):
        losses.softmax_cross_entropy_with_integer_labels(cos, jnp.array([0, 1]))


def test_deprecated_softmax_cross_entropy_warns_and_equals_its_replacement():
    logits = jnp.asarray(np.random.default_rng(5).normal(size=(3, 4)).astype(np.float32))
    labels = jnp.array([0, 3, 1])
    with pytest.deprecated_call(match="softmax_cross_entropy_with_integer_labels"):
        old = losses.softmax_cross_entropy(logits, labels)
    np.testing.assert_array_equal(
        old, losses.softmax_cross_entropy_with_integer_labels(logits, labels)
    )
