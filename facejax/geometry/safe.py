"""Norms and inverse trigonometric functions whose values and gradients stay finite.

``jnp.linalg.norm`` has an infinite derivative at the zero vector, ``arccos``/``arcsin`` at
+-1 and ``arctan2`` a 0/0 derivative at the origin. These points are not exotic in geometry: a
degenerate triangle has a zero cross product, the identity rotation has ``cos(angle) = 1``. One NaN
in a gradient poisons a whole training step, so the functions here keep the ordinary value and
replace the derivative at the singular point by a finite one (zero, or a clipped slope), in the
style of brax's ``safe_norm`` / ``safe_arccos``.
"""

import functools

import jax
import jax.numpy as jnp

from facejax.geometry._validation import as_float

# Below this norm the derivative of the norm uses `eps` as its denominator: the slope x / eps is
# continuous, bounded by 1 and zero at the zero vector, and exact for every norm above eps.
NORM_EPS = 1e-12


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _safe_norm(x, axis, keepdims, eps):
    return jnp.sqrt(jnp.sum(x * x, axis=axis, keepdims=keepdims))


@_safe_norm.defjvp
def _safe_norm_jvp(axis, keepdims, eps, primals, tangents):
    (x,), (x_dot,) = primals, tangents
    norm = _safe_norm(x, axis, True, eps)
    norm_dot = jnp.sum(x * x_dot, axis=axis, keepdims=True) / jnp.maximum(norm, eps)
    if not keepdims:
        norm, norm_dot = jnp.squeeze(norm, axis), jnp.squeeze(norm_dot, axis)
    return norm, norm_dot


def safe_norm(x, axis: int | tuple[int, ...] = -1, keepdims: bool = False, eps: float = NORM_EPS):
    """Euclidean norm with a finite derivative everywhere (zero at the zero vector).

    Args:
      x: ``[..., D]`` array (or any shape with ``axis``).
      axis: axis or axes to reduce.
      keepdims: keep the reduced axes with size one.
      eps: norms below ``eps`` use ``eps`` as the denominator of the derivative, so the
        derivative is ``x / max(|x|, eps)``: exact above ``eps``, zero at the zero vector.

    Returns:
      ``[...]`` (or ``[..., 1]`` with ``keepdims``) norms, exactly ``sqrt(sum(x**2))``.
    """
    return _safe_norm(as_float(x), axis, keepdims, eps)


def safe_normalize(x, axis: int = -1, eps: float = NORM_EPS):
    """Unit vector along ``x``; the zero vector (norm <= ``eps``) maps to zero with zero gradient.

    Args:
      x: ``[..., D]`` vectors.
      axis: the vector axis.
      eps: vectors with norm at or below ``eps`` are treated as zero.

    Returns:
      ``[..., D]``: ``x / |x|`` where ``|x| > eps``, else zeros.
    """
    x = as_float(x)
    norm = safe_norm(x, axis=axis, keepdims=True, eps=eps)
    ok = norm > eps
    # Double `where`: the untaken branch never divides by zero, so its (discarded) cotangent
    # cannot be NaN, and NaN * 0 never reaches the gradient.
    return jnp.where(ok, x / jnp.where(ok, norm, 1.0), 0.0)


def _unit_margin(x):
    # The smallest 1 - x**2 used in the derivative of arccos/arcsin: the slope is then clipped to
    # about 1/sqrt(machine epsilon) (3e3 in float32, 7e7 in float64) instead of infinity.
    return jnp.finfo(x.dtype).eps


@jax.custom_jvp
def _safe_arccos(x):
    return jnp.arccos(jnp.clip(x, -1.0, 1.0))


@_safe_arccos.defjvp
def _safe_arccos_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    slope = jax.lax.rsqrt(jnp.maximum(1.0 - x * x, _unit_margin(x)))
    return _safe_arccos(x), -x_dot * slope


@jax.custom_jvp
def _safe_arcsin(x):
    return jnp.arcsin(jnp.clip(x, -1.0, 1.0))


@_safe_arcsin.defjvp
def _safe_arcsin_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    slope = jax.lax.rsqrt(jnp.maximum(1.0 - x * x, _unit_margin(x)))
    return _safe_arcsin(x), x_dot * slope


def safe_arccos(x):
    """``arccos`` of ``x`` clipped to [-1, 1], with a finite (clipped) derivative at +-1.

    Args:
      x: ``[...]`` cosines; values slightly outside [-1, 1] from round-off are clipped.

    Returns:
      ``[...]`` angles in [0, pi].
    """
    return _safe_arccos(as_float(x))


def safe_arcsin(x):
    """``arcsin`` of ``x`` clipped to [-1, 1], with a finite (clipped) derivative at +-1.

    Args:
      x: ``[...]`` sines; values slightly outside [-1, 1] from round-off are clipped.

    Returns:
      ``[...]`` angles in [-pi/2, pi/2].
    """
    return _safe_arcsin(as_float(x))


@jax.custom_jvp
def _safe_arctan2(y, x):
    return jnp.arctan2(y, x)


@_safe_arctan2.defjvp
def _safe_arctan2_jvp(primals, tangents):
    (y, x), (y_dot, x_dot) = primals, tangents
    r2 = x * x + y * y
    # At the origin the numerator is exactly zero too, so dividing by 1 gives a zero derivative.
    tangent = (x * y_dot - y * x_dot) / jnp.where(r2 > 0, r2, 1.0)
    return _safe_arctan2(y, x), tangent


def safe_arctan2(y, x):
    """``arctan2(y, x)`` whose derivative is zero instead of NaN at ``x = y = 0``.

    Args:
      y: ``[...]`` sine-like components.
      x: ``[...]`` cosine-like components, same shape as ``y``.

    Returns:
      ``[...]`` angles in [-pi, pi].
    """
    y, x = jnp.broadcast_arrays(as_float(y), as_float(x))
    return _safe_arctan2(y, x)
