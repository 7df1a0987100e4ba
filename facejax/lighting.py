"""Spherical-harmonics (SH) lighting and Lambertian shading.

Lighting is a distant environment described by the first 9 real SH coefficients (bands
l = 0, 1, 2) of its radiance, per colour channel: ``sh_coeffs`` of shape ``[9, 3]``. Normals and
lighting live in the same frame; facejax lights faces in the camera frame (after pose), as
Deep3DFaceRecon does, so a light does not turn with the head.

Basis order and constants (real SH, Ramamoorthi & Hanrahan 2001, "An Efficient Representation
for Irradiance Environment Maps"), for a unit normal ``n = (x, y, z)``::

    k  (l, m)   Y_k(n)
    0  (0,  0)  0.282095                      = 1 / (2 sqrt(pi))
    1  (1, -1)  0.488603 y                    = sqrt(3 / (4 pi)) y
    2  (1,  0)  0.488603 z
    3  (1,  1)  0.488603 x
    4  (2, -2)  1.092548 x y                  = sqrt(15 / (4 pi)) x y
    5  (2, -1)  1.092548 y z
    6  (2,  0)  0.315392 (3 z^2 - 1)          = sqrt(5 / (16 pi)) (3 z^2 - 1)
    7  (2,  1)  1.092548 x z
    8  (2,  2)  0.546274 (x^2 - y^2)          = sqrt(15 / (16 pi)) (x^2 - y^2)

Irradiance of a Lambertian surface convolves the radiance with the clamped cosine, which scales
band l by ``A_l = (pi, 2 pi / 3, pi / 4)``. facejax's shading is the irradiance over pi,

    shading(n) = sum_k (A_l(k) / pi) * sh_coeffs[k] * Y_k(n),    colour = albedo * shading,

so that a uniform white environment of radiance 1 (``sh_coeffs[0] = 2 sqrt(pi)``, see
:func:`ambient`) gives shading 1 and the colour equals the albedo.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

NUM_SH_COEFFS = 9

_SQRT_PI = np.sqrt(np.pi)
# Y_k(n) = SH_CONSTANTS[k] * monomial_k(n); the monomials are listed in sh_basis.
SH_CONSTANTS = np.array(
    [
        1.0 / (2.0 * _SQRT_PI),
        np.sqrt(3.0 / (4.0 * np.pi)),
        np.sqrt(3.0 / (4.0 * np.pi)),
        np.sqrt(3.0 / (4.0 * np.pi)),
        np.sqrt(15.0 / (4.0 * np.pi)),
        np.sqrt(15.0 / (4.0 * np.pi)),
        np.sqrt(5.0 / (16.0 * np.pi)),
        np.sqrt(15.0 / (4.0 * np.pi)),
        np.sqrt(15.0 / (16.0 * np.pi)),
    ]
)
# Lambertian band attenuation A_l / pi for each of the 9 coefficients.
LAMBERT_FACTORS = np.array([1.0, 2.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0, 0.25, 0.25, 0.25, 0.25, 0.25])


def _nonconstant_monomials(x, y, z):
    """The 8 monomials after the constant, in basis order, of coordinates of any shape."""
    return (y, z, x, x * y, y * z, 3.0 * z * z - 1.0, x * z, x * x - y * y)


def _monomials(normals):
    x, y, z = normals[..., 0], normals[..., 1], normals[..., 2]
    return jnp.stack([jnp.ones_like(x), *_nonconstant_monomials(x, y, z)], axis=-1)


def sh_basis(normals):
    """The 9 real SH basis functions at unit ``normals``.

    Args:
      normals: ``[..., 3]`` unit vectors.

    Returns:
      ``[..., 9]`` values ``Y_k(n)`` in the order of the module docstring.
    """
    return jnp.einsum("...k,k->...k", _monomials(normals), jnp.asarray(SH_CONSTANTS, normals.dtype))


def shading(normals, sh_coeffs):
    """Lambertian shading (irradiance / pi) of surfaces with the given normals.

    Args:
      normals: ``[..., 3]`` unit normals, in the frame of the lighting.
      sh_coeffs: ``[9, 3]`` SH radiance coefficients per RGB channel.

    Returns:
      ``[..., 3]`` shading per channel (1 under uniform white light of radiance 1). Not clamped:
      lights with negative lobes can give negative values, as in the SH model itself.
    """
    return _shading(normals, sh_coeffs)


def _factors(dtype):
    """``[9]``: each basis function's constant times its band's Lambertian attenuation."""
    return jnp.asarray(SH_CONSTANTS * LAMBERT_FACTORS, dtype=dtype)


@jax.custom_jvp
def _shading(normals, sh_coeffs):
    # The nine terms as fused multiply-adds per vertex: XLA's CPU dot over a contraction of 9
    # took 60 ms for 32 x 35,709 normals, these 1 ms (benchmarks/image_formation_stages.py).
    weights = _factors(normals.dtype)[:, None] * sh_coeffs  # [9, 3]
    x, y, z = (normals[..., i : i + 1] for i in range(3))
    terms = (1.0, *_nonconstant_monomials(x, y, z))
    shape = (1,) * (normals.ndim - 1) + (3,)
    return sum(term * weights[k].reshape(shape) for k, term in enumerate(terms))


def _shading_jvp(primals, tangents):
    normals, sh_coeffs = primals
    d_normals, d_sh = tangents
    out = _shading(normals, sh_coeffs)
    factors = _factors(normals.dtype)
    # The coefficients' tangent as a dot over the 9 basis functions: its transpose (their
    # gradient, summed over every vertex) is what XLA runs fast. A zero tangent (constant
    # lighting or normals) costs nothing.
    terms = []
    if not isinstance(d_normals, SymbolicZero):
        # Per channel, as multiply-adds on coordinate planes: as a dot over the 9 functions,
        # the transpose (the normals' gradient, a contraction of 3 per vertex) is slow on CPU
        # (the cycle recipe's render of 32 faces: 3.7 ms of its 122 ms of op time).
        weights = factors[:, None] * sh_coeffs  # [9, 3]
        planes = tuple(normals[..., i] for i in range(3))
        d_planes = tuple(d_normals[..., i] for i in range(3))
        # The constant's derivative is zero: the 8 others.
        _, d_terms = jax.jvp(_nonconstant_monomials, planes, d_planes)
        channels = [sum(t * weights[k + 1, c] for k, t in enumerate(d_terms)) for c in range(3)]
        terms.append(jnp.stack(channels, axis=-1))
    if not isinstance(d_sh, SymbolicZero):
        terms.append(jnp.einsum("...k,k,kc->...c", _monomials(normals), factors, d_sh))
    return out, sum(terms) if terms else jnp.zeros_like(out)


_shading.defjvp(_shading_jvp, symbolic_zeros=True)


def shade(albedo, normals, sh_coeffs):
    """Colour of Lambertian surfaces: ``albedo * shading(normals, sh_coeffs)``.

    Args:
      albedo: ``[..., 3]`` RGB albedo in ``[0, 1]``.
      normals: ``[..., 3]`` unit normals.
      sh_coeffs: ``[9, 3]``.

    Returns:
      ``[..., 3]`` RGB colour (unclamped).
    """
    return albedo * shading(normals, sh_coeffs)


def ambient(intensity=1.0, dtype=None):
    """SH coefficients ``[9, 3]`` of a uniform environment that shades every normal by
    ``intensity`` (per channel if ``intensity`` is ``[3]``)."""
    dtype = dtype or jnp.result_type(float)  # float32, or float64 under x64
    intensity = jnp.broadcast_to(jnp.asarray(intensity, dtype=dtype), (3,))
    dc = jnp.asarray(2.0 * _SQRT_PI, dtype=dtype) * intensity
    return jnp.zeros((NUM_SH_COEFFS, 3), dtype=dtype).at[0].set(dc)


def directional(direction, intensity=1.0, ambient_intensity=0.0, dtype=None):
    """SH coefficients ``[9, 3]`` of a distant light from ``direction`` (pointing towards the
    light, any length) of ``intensity``, plus a uniform ``ambient_intensity``.

    This is the band-limited (l <= 2) projection of a delta light whose clamped-cosine shading
    peaks at ``intensity``; the 9-coefficient version shades a surface facing the light by
    ``1.0625 * intensity`` and the opposite side by ``0.0625 * intensity`` (the usual SH
    ringing), on top of the ambient term.
    """
    dtype = dtype or jnp.result_type(float)
    direction = jnp.asarray(direction, dtype=dtype)
    direction = direction / jnp.linalg.norm(direction)
    # Radiance of a delta light of irradiance pi*I at normal incidence: L_k = pi * I * Y_k(d).
    coeffs = jnp.pi * sh_basis(direction)
    intensity = jnp.broadcast_to(jnp.asarray(intensity, dtype=dtype), (3,))
    return jnp.outer(coeffs, intensity) + ambient(ambient_intensity, dtype=dtype)


# Deep3DFaceRecon (models/bfm.py, compute_color) builds, per channel, Y_d3d(n) @ gamma with
#   a = (pi, 2 pi / sqrt(3), 2 pi / sqrt(8)),
#   c = (1 / sqrt(4 pi), sqrt(3) / sqrt(4 pi), 3 sqrt(5) / sqrt(12 pi)),
#   Y_d3d = [a0 c0, -a1 c1 y, a1 c1 z, -a1 c1 x, a2 c2 x y, -a2 c2 y z,
#            0.5 a2 c2 / sqrt(3) (3 z^2 - 1), -a2 c2 x z, 0.5 a2 c2 (x^2 - y^2)],
# with gamma stored channel-major ([27] -> [3, 9]) and 0.8 added to each channel's first
# coefficient (its `init_lit`). Each Deep3D function is a multiple of ours:
#   Y_d3d[k] = DEEP3D_FACTORS[k] * (A_l / pi) * Y_k.
_A = (np.pi, 2.0 * np.pi / np.sqrt(3.0), 2.0 * np.pi / np.sqrt(8.0))
_C = (
    1.0 / np.sqrt(4.0 * np.pi),
    np.sqrt(3.0) / np.sqrt(4.0 * np.pi),
    3.0 * np.sqrt(5.0) / np.sqrt(12.0 * np.pi),
)
_DEEP3D_MONOMIAL_SCALE = np.array(
    [
        _A[0] * _C[0],
        -_A[1] * _C[1],
        _A[1] * _C[1],
        -_A[1] * _C[1],
        _A[2] * _C[2],
        -_A[2] * _C[2],
        0.5 * _A[2] * _C[2] / np.sqrt(3.0),
        -_A[2] * _C[2],
        0.5 * _A[2] * _C[2],
    ]
)
DEEP3D_FACTORS = _DEEP3D_MONOMIAL_SCALE / (SH_CONSTANTS * LAMBERT_FACTORS)
DEEP3D_INIT_LIT = 0.8


def sh_from_deep3d(gamma, add_init_lit=True):
    """Converts Deep3DFaceRecon lighting ``gamma`` to facejax ``sh_coeffs``.

    Args:
      gamma: ``[..., 27]`` Deep3DFaceRecon lighting coefficients (channel-major: 9 for red, then
        green, then blue), as its network predicts them.
      add_init_lit: add Deep3DFaceRecon's ``init_lit`` (0.8 on each channel's first coefficient),
        as its renderer does before shading.

    Returns:
      ``[..., 9, 3]`` coefficients such that ``shading(n, sh)`` equals Deep3DFaceRecon's
      per-channel lighting term at normal ``n``.
    """
    gamma = jnp.asarray(gamma)
    per_channel = jnp.swapaxes(gamma.reshape(gamma.shape[:-1] + (3, 9)), -1, -2)
    if add_init_lit:
        per_channel = per_channel.at[..., 0, :].add(DEEP3D_INIT_LIT)
    factors = jnp.asarray(DEEP3D_FACTORS, dtype=per_channel.dtype)
    return jnp.einsum("...kc,k->...kc", per_channel, factors)


def sh_to_deep3d(sh_coeffs, subtract_init_lit=True):
    """Inverse of :func:`sh_from_deep3d`: ``[..., 9, 3]`` -> ``[..., 27]``."""
    sh_coeffs = jnp.asarray(sh_coeffs)
    factors = jnp.asarray(DEEP3D_FACTORS, dtype=sh_coeffs.dtype)
    per_channel = jnp.einsum("...kc,k->...kc", sh_coeffs, 1.0 / factors)
    if subtract_init_lit:
        per_channel = per_channel.at[..., 0, :].add(-DEEP3D_INIT_LIT)
    return jnp.swapaxes(per_channel, -1, -2).reshape(sh_coeffs.shape[:-2] + (27,))
