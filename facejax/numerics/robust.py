"""Robust penalties of a squared distance: equal to ``d^2`` near 0, gentler on outliers.

Each takes the per-element squared distance ``d^2`` and returns a per-element penalty
(``[...] -> [...]``, optax's convention: the caller weights and averages). All equal ``d^2``
for small ``d``, so a robust fit starts out as least squares; ``scale`` (same units as ``d``)
is where they depart from it. ``facejax.losses.landmark_loss`` uses them as they are; the
landmark fit (``facejax.fitting``) uses half of them (``0.5 d^2`` near 0, the least-squares
convention of its objective).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

Array = Any

ROBUST_KINDS = (None, "huber", "gm")


def huber_penalty(squared_distance, scale) -> Array:
    """Twice Huber's function of ``d``: ``d^2`` for ``d <= scale``, ``2 scale d - scale^2`` beyond.

    It matches ``d^2`` near 0 and its gradient grows no faster than ``2 scale``. The value and
    gradient are finite at ``d = 0``: the square root is only taken beyond ``scale``.
    """
    d2 = squared_distance
    far = d2 > scale * scale
    # sqrt only of the far branch (d > scale > 0): the near branch never sees sqrt'(0).
    d = jnp.sqrt(jnp.where(far, d2, 1.0))
    return jnp.where(far, 2.0 * scale * d - scale * scale, d2)


def geman_mcclure_penalty(squared_distance, scale) -> Array:
    """Geman-McClure ``d^2 scale^2 / (d^2 + scale^2)``: ``d^2`` near 0, saturating at ``scale^2``.

    A point far from the model (an outlier, a badly annotated landmark) costs at most
    ``scale^2`` and pulls with a force that vanishes as it goes farther (Geman and McClure 1987;
    the form of Black and Rangarajan 1996, scaled to match ``d^2`` at 0).
    """
    d2 = squared_distance
    s2 = scale * scale
    return d2 * s2 / (d2 + s2)


def robust_penalty(squared_distance, robust: str | None = None, scale: float = 1.0) -> Array:
    """A penalty ``rho`` of the squared distance ``d^2``, equal to ``d^2`` for small ``d``.

    * ``None``: ``d^2``.
    * ``"huber"``: :func:`huber_penalty`.
    * ``"gm"``: :func:`geman_mcclure_penalty`.

    Args:
      squared_distance: ``[...]`` ``d^2 >= 0``.
      robust: ``None``, ``"huber"`` or ``"gm"``.
      scale: the distance where the robust penalty departs from ``d^2`` (same units as ``d``).
    """
    if robust is None:
        return squared_distance
    if robust == "huber":
        return huber_penalty(squared_distance, scale)
    if robust == "gm":
        return geman_mcclure_penalty(squared_distance, scale)
    raise ValueError(f"robust_penalty: unknown robust {robust!r}; known: {ROBUST_KINDS}")
