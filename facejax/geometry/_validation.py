"""Input checks shared by the geometry modules: float conversion and trailing-shape errors.

Shapes are static under ``jit``, so these checks cost nothing at run time and turn a confusing
broadcasting error deep inside a kernel into a message that names the argument and the function.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp


def as_float(x) -> jax.Array:
    """Returns ``x`` as a JAX array, casting integers and bools to the default float dtype."""
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


def check_trailing(x: jax.Array, trailing: Sequence[int], name: str, fn: str) -> None:
    """Raises ValueError unless ``x.shape`` ends with ``trailing``."""
    trailing = tuple(trailing)
    n = len(trailing)
    if x.ndim < n or tuple(x.shape[x.ndim - n :]) != trailing:
        want = ", ".join(["..."] + [str(d) for d in trailing])
        raise ValueError(f"{fn}: {name} must have shape [{want}], got {tuple(x.shape)}")


def check_shape(x: jax.Array, shape: Sequence[int | None], name: str, fn: str) -> None:
    """Raises ValueError unless ``x.shape`` matches ``shape`` (``None`` matches any size)."""
    shape = tuple(shape)
    ok = x.ndim == len(shape) and all(
        s is None or s == d for s, d in zip(shape, x.shape, strict=True)
    )
    if not ok:
        want = ", ".join("N" if s is None else str(s) for s in shape)
        raise ValueError(f"{fn}: {name} must have shape [{want}], got {tuple(x.shape)}")
