"""facejax.lighting against float64 numpy references and quadrature over the sphere."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax import lighting

QUADRATURE_ATOL = 2e-4  # midpoint rule on a 300 x 600 grid of the sphere
ATOL_F64 = 1e-12
# Central differences in float64, step 1e-6: O(step^2) truncation, O(eps / step) rounding.
ATOL_CENTRAL_DIFF = 1e-7
RTOL_F32 = 1e-5


def _sphere_grid(n_theta=300, n_phi=600):
    theta = (np.arange(n_theta) + 0.5) * np.pi / n_theta
    phi = (np.arange(n_phi) + 0.5) * 2 * np.pi / n_phi
    t, p = np.meshgrid(theta, phi, indexing="ij")
    dirs = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    weights = (np.sin(t) * (np.pi / n_theta) * (2 * np.pi / n_phi)).reshape(-1)
    return dirs, weights


def _reference_basis(n):
    x, y, z = n[..., 0], n[..., 1], n[..., 2]
    pi = np.pi
    return np.stack(
        [
            0.5 * np.sqrt(1 / pi) * np.ones_like(x),
            np.sqrt(3 / (4 * pi)) * y,
            np.sqrt(3 / (4 * pi)) * z,
            np.sqrt(3 / (4 * pi)) * x,
            0.5 * np.sqrt(15 / pi) * x * y,
            0.5 * np.sqrt(15 / pi) * y * z,
            0.25 * np.sqrt(5 / pi) * (3 * z * z - 1),
            0.5 * np.sqrt(15 / pi) * x * z,
            0.25 * np.sqrt(15 / pi) * (x * x - y * y),
        ],
        -1,
    )


def _random_normals(rng, n):
    v = rng.normal(size=(n, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_basis_matches_reference_and_is_orthonormal(x64):
    dirs, weights = _sphere_grid()
    basis = np.asarray(lighting.sh_basis(jnp.asarray(dirs)))
    np.testing.assert_allclose(basis, _reference_basis(dirs), atol=ATOL_F64)
    gram = (basis * weights[:, None]).T @ basis
    np.testing.assert_allclose(gram, np.eye(9), atol=QUADRATURE_ATOL)


def test_shading_is_irradiance_over_pi(x64):
    """Funk-Hecke: for radiance sum_k L_k Y_k, the clamped-cosine integral is sum A_l L_k Y_k."""
    rng = np.random.default_rng(0)
    coeffs = rng.normal(size=(9, 3))
    dirs, weights = _sphere_grid()
    radiance = _reference_basis(dirs) @ coeffs  # [N, 3]
    normals = _random_normals(rng, 5)
    cosine = np.maximum(normals @ dirs.T, 0.0)  # [5, N]
    irradiance = (cosine * weights) @ radiance
    got = np.asarray(lighting.shading(jnp.asarray(normals), jnp.asarray(coeffs)))
    np.testing.assert_allclose(got, irradiance / np.pi, atol=QUADRATURE_ATOL * 10)


def test_ambient_shades_every_normal_by_its_intensity():
    normals = jnp.asarray(_random_normals(np.random.default_rng(1), 10), jnp.float32)
    got = lighting.shading(normals, lighting.ambient(jnp.array([0.5, 1.0, 2.0])))
    np.testing.assert_allclose(got, np.broadcast_to([0.5, 1.0, 2.0], (10, 3)), rtol=RTOL_F32)


def test_directional_light_is_brightest_facing_it(x64):
    sh = lighting.directional(jnp.array([0.0, 0.0, 2.0]), intensity=1.0)
    facing = lighting.shading(jnp.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0]]), sh)
    np.testing.assert_allclose(facing[:, 0], [1.0625, 0.0625], atol=ATOL_F64)


def _deep3d_reference(normals, gamma, texture):
    """A float64 transcription of Deep3DFaceRecon_pytorch models/bfm.py compute_color."""
    a = [np.pi, 2 * np.pi / np.sqrt(3.0), 2 * np.pi / np.sqrt(8.0)]
    c = [
        1 / np.sqrt(4 * np.pi),
        np.sqrt(3.0) / np.sqrt(4 * np.pi),
        3 * np.sqrt(5.0) / np.sqrt(12 * np.pi),
    ]
    gamma = gamma.reshape(3, 9).copy()
    gamma[:, 0] += 0.8
    gamma = gamma.T  # [9, 3]
    x, y, z = normals[:, :1], normals[:, 1:2], normals[:, 2:]
    basis = np.concatenate(
        [
            a[0] * c[0] * np.ones_like(x),
            -a[1] * c[1] * y,
            a[1] * c[1] * z,
            -a[1] * c[1] * x,
            a[2] * c[2] * x * y,
            -a[2] * c[2] * y * z,
            0.5 * a[2] * c[2] / np.sqrt(3.0) * (3 * z**2 - 1),
            -a[2] * c[2] * x * z,
            0.5 * a[2] * c[2] * (x**2 - y**2),
        ],
        axis=-1,
    )
    return (basis @ gamma) * texture


def test_deep3d_conversion_matches_its_renderer(x64):
    rng = np.random.default_rng(2)
    normals = _random_normals(rng, 50)
    gamma = rng.normal(scale=0.3, size=27)
    texture = rng.uniform(size=(50, 3))
    sh = lighting.sh_from_deep3d(jnp.asarray(gamma))
    got = lighting.shade(jnp.asarray(texture), jnp.asarray(normals), sh)
    np.testing.assert_allclose(got, _deep3d_reference(normals, gamma, texture), atol=ATOL_F64)
    np.testing.assert_allclose(lighting.sh_to_deep3d(sh), gamma, atol=ATOL_F64)


def test_batched_conversion_equals_loop(x64):
    gammas = np.random.default_rng(3).normal(size=(4, 27))
    batched = lighting.sh_from_deep3d(jnp.asarray(gammas))
    looped = jnp.stack([lighting.sh_from_deep3d(jnp.asarray(g)) for g in gammas])
    np.testing.assert_allclose(batched, looped, atol=ATOL_F64)


def test_shade_gradients(x64):
    rng = np.random.default_rng(4)
    normals = jnp.asarray(_random_normals(rng, 6))
    albedo = jnp.asarray(rng.uniform(size=(6, 3)))
    sh = jnp.asarray(rng.normal(size=(9, 3)))
    check_grads(jax.jit(lighting.shade), (albedo, normals, sh), order=2, modes=["fwd", "rev"])


def test_shade_gradient_of_one_argument_matches_the_reference(x64):
    # shading's derivative rule skips the tangent of an argument held constant: the gradient
    # with respect to each argument alone is the float64 numpy reference's (analytic for the
    # coefficients, central differences for the normals).
    rng = np.random.default_rng(6)
    normals = _random_normals(rng, 7)
    sh = rng.normal(size=(9, 3))
    weights = rng.normal(size=(7, 3))
    factors = lighting.LAMBERT_FACTORS[:, None]

    def reference(n):  # the weighted sum of the shading, per vertex
        return np.sum(weights * np.einsum("vk,kc->vc", _reference_basis(n), factors * sh), -1)

    def ours(n, s):
        return jnp.sum(jnp.asarray(weights) * lighting.shading(n, s))

    grad_normals, grad_sh = (
        jax.jit(jax.grad(ours, argnums=i))(jnp.asarray(normals), jnp.asarray(sh)) for i in (0, 1)
    )
    want_sh = np.einsum("vc,vk->kc", weights, _reference_basis(normals)) * factors
    np.testing.assert_allclose(grad_sh, want_sh, atol=ATOL_F64)
    step = 1e-6
    want_normals = np.stack(
        [
            (reference(normals + step * e) - reference(normals - step * e)) / (2 * step)
            for e in np.eye(3)
        ],
        -1,
    )
    np.testing.assert_allclose(grad_normals, want_normals, atol=ATOL_CENTRAL_DIFF)


def test_jit_and_vmap_equal_eager():
    rng = np.random.default_rng(5)
    normals = jnp.asarray(_random_normals(rng, 8).reshape(2, 4, 3), jnp.float32)
    sh = jnp.asarray(rng.normal(size=(2, 9, 3)), jnp.float32)
    eager = jnp.stack([lighting.shading(n, s) for n, s in zip(normals, sh, strict=True)])
    np.testing.assert_allclose(
        jax.jit(jax.vmap(lighting.shading))(normals, sh), eager, rtol=RTOL_F32, atol=1e-6
    )


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
def test_dtype_is_preserved(dtype):
    with jax.enable_x64(dtype == jnp.float64):
        normals = jnp.ones((2, 3), dtype) / jnp.sqrt(3.0).astype(dtype)
        assert lighting.shading(normals, lighting.ambient(dtype=dtype)).dtype == dtype
