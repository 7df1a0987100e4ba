"""The derivatives of facejax.render.interpolate, whose tangent is written out by hand.

``interpolate`` blends with a custom JVP (its transpose is a cheaper backward on a CPU, issue
16). These tests hold it to the plain formula: its derivatives, forward and reverse, first and
second order, must be those of ``sum_k b_k * attributes[corner_k]`` masked to the covered pixels,
in float64, for shared and per-image attributes, few channels (summed written out) and many (a
reduction), under ``jax.vmap``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax.render import Fragments, interpolate

GRAD_EPS = 1e-6  # finite-difference step; the blend is bilinear, so any small step is exact
GRAD_TOL = 1e-6
RTOL_AUTODIFF_F64 = 1e-12  # one formula differentiated two ways, float64
ATOL_PROGRAMS_F32 = 1e-6  # one computation compiled two ways (fusion, FMA) differs in ulps

HEIGHT, WIDTH, NUM_VERTICES = 5, 6, 9
TRIANGLES = np.array([[0, 1, 2], [2, 3, 4], [4, 5, 6], [6, 7, 8], [8, 0, 3]], np.int32)


def _fragments(seed: int, batch_shape=()):
    """Random fragments: triangle ids with background pixels (``-1``) and barycentrics that
    are zero there, as ``rasterize`` returns them."""
    rng = np.random.default_rng(seed)
    shape = batch_shape + (HEIGHT, WIDTH)
    triangle_id = rng.integers(-1, len(TRIANGLES), size=shape).astype(np.int32)
    triangle_id.reshape(-1)[:2] = [-1, 0]  # background and triangle 0 always present
    barycentric = rng.uniform(0.05, 1.0, size=shape + (3,))
    barycentric /= barycentric.sum(-1, keepdims=True)
    barycentric[triangle_id < 0] = 0.0
    barycentric = jnp.asarray(barycentric)  # float64 under the x64 fixture, else float32
    return Fragments(
        triangle_id=jnp.asarray(triangle_id),
        barycentric=barycentric,
        depth=jnp.asarray(np.where(triangle_id >= 0, 1.0, np.inf), barycentric.dtype),
        mask=jnp.asarray(triangle_id >= 0, barycentric.dtype),
        overflow_count=jnp.zeros(batch_shape, jnp.int32),
    )


def _plain_blend(fragments, triangles, attributes):
    """The formula ``interpolate`` computes, in plain JAX (autodiff's derivatives)."""
    ids = jnp.asarray(triangles)[jnp.maximum(fragments.triangle_id, 0)]  # [..., H, W, 3]
    if attributes.ndim == 2:
        corners = attributes[ids]  # [..., H, W, 3, C]
    else:
        corners = jax.vmap(lambda a, i: a[i])(
            attributes.reshape((-1,) + attributes.shape[-2:]), ids.reshape((-1,) + ids.shape[-3:])
        ).reshape(ids.shape + attributes.shape[-1:])
    blended = jnp.sum(fragments.barycentric[..., None] * corners, axis=-2)
    return jnp.where(fragments.triangle_id[..., None] >= 0, blended, 0.0)


def _loss(blend, fragments, weights):
    def loss(barycentric, attributes):
        image = blend(fragments.replace(barycentric=barycentric), TRIANGLES, attributes)
        return jnp.sum(image * weights) + 0.5 * jnp.sum(image**2)

    return loss


@pytest.mark.parametrize(
    "batch_shape, per_image, channels",
    [
        ((), False, 3),
        ((2,), False, 3),
        ((2,), True, 3),
        ((2,), True, 2),
        ((), False, 4),
        ((2,), True, 9),
    ],
)
def test_derivatives_are_those_of_the_plain_formula(x64, batch_shape, per_image, channels):
    fragments = _fragments(0, batch_shape)
    rng = np.random.default_rng(1)
    attributes_shape = (batch_shape if per_image else ()) + (NUM_VERTICES, channels)
    attributes = jnp.asarray(rng.normal(size=attributes_shape))
    weights = jnp.asarray(rng.normal(size=batch_shape + (HEIGHT, WIDTH, channels)))
    args = (fragments.barycentric, attributes)
    loss = _loss(interpolate, fragments, weights)
    reference = _loss(_plain_blend, fragments, weights)

    np.testing.assert_allclose(loss(*args), reference(*args), rtol=RTOL_AUTODIFF_F64)
    for got, want in zip(
        jax.grad(loss, argnums=(0, 1))(*args),
        jax.grad(reference, argnums=(0, 1))(*args),
        strict=True,
    ):
        np.testing.assert_allclose(got, want, rtol=RTOL_AUTODIFF_F64, atol=1e-14)
    # Forward mode: one directional derivative, against autodiff's.
    tangents = tuple(jnp.asarray(rng.normal(size=a.shape)) for a in args)
    np.testing.assert_allclose(
        jax.jvp(loss, args, tangents)[1],
        jax.jvp(reference, args, tangents)[1],
        rtol=RTOL_AUTODIFF_F64,
    )
    # Second order, both modes, against finite differences.
    check_grads(loss, args, order=2, modes=("fwd", "rev"), eps=GRAD_EPS, atol=GRAD_TOL)


def test_gradient_with_respect_to_one_argument_only(x64):
    # Each of the two tangent terms alone (the other argument's tangent a symbolic zero).
    fragments = _fragments(2, (2,))
    rng = np.random.default_rng(3)
    attributes = jnp.asarray(rng.normal(size=(NUM_VERTICES, 3)))
    weights = jnp.asarray(rng.normal(size=(2, HEIGHT, WIDTH, 3)))
    args = (fragments.barycentric, attributes)
    loss = _loss(interpolate, fragments, weights)
    reference = _loss(_plain_blend, fragments, weights)
    for argnum in (0, 1):
        np.testing.assert_allclose(
            jax.grad(loss, argnums=argnum)(*args),
            jax.grad(reference, argnums=argnum)(*args),
            rtol=RTOL_AUTODIFF_F64,
            atol=1e-14,
        )


def test_vmapped_gradient_matches_a_loop():
    fragments = _fragments(4, (3,))
    rng = np.random.default_rng(5)
    attributes = jnp.asarray(rng.normal(size=(3, NUM_VERTICES, 3)), jnp.float32)
    weights = jnp.asarray(rng.normal(size=(3, HEIGHT, WIDTH, 3)), jnp.float32)
    barycentric = fragments.barycentric

    def one_image_grad(triangle_id, barycentric, attributes, weights):
        single = Fragments(
            triangle_id=triangle_id,
            barycentric=barycentric,
            depth=jnp.zeros(triangle_id.shape, jnp.float32),
            mask=(triangle_id >= 0).astype(jnp.float32),
            overflow_count=jnp.zeros((), jnp.int32),
        )
        loss = _loss(interpolate, single, weights)
        return jax.grad(loss, argnums=(0, 1))(barycentric, attributes)

    inputs = (fragments.triangle_id, barycentric, attributes, weights)
    mapped = jax.jit(jax.vmap(one_image_grad))(*inputs)
    for k in range(3):
        alone = jax.jit(one_image_grad)(*(x[k] for x in inputs))
        for got, want in zip(mapped, alone, strict=True):
            np.testing.assert_allclose(got[k], want, atol=ATOL_PROGRAMS_F32)
