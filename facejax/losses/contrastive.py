"""The contrastive loss of Hadsell, Chopra and LeCun (CVPR 2006), for Siamese identity codes.

Pairs of the same subject are pulled together, pairs of different subjects pushed until they are
at least ``margin`` apart::

    L = same * 0.5 * d^2 + (1 - same) * 0.5 * max(0, margin - d)^2

References:
  Hadsell, Chopra, LeCun, "Dimensionality Reduction by Learning an Invariant Mapping", CVPR 2006.
  Luo, Tu, Xie, "Learning Robust 3D Face Reconstruction and Discriminative Identity
  Representation" (the Siamese 3DMM regression that uses it on identity coefficients).
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from facejax.geometry import safe_norm, safe_normalize
from facejax.losses.masked import at_least_float32

Array = Any

DISTANCES = ("euclidean", "cosine")


def pair_distance(a, b, distance: str = "euclidean") -> Array:
    """Distance between paired vectors ``[..., D]`` -> ``[...]``.

    * ``"euclidean"``: ``|a - b|``, with a finite (zero) gradient at ``a = b``.
    * ``"cosine"``: ``1 - cos(a, b)`` in ``[0, 2]``; a zero vector has cosine 0 with everything.
    """
    if distance == "euclidean":
        return safe_norm(a - b, axis=-1)
    if distance == "cosine":
        return 1.0 - jnp.sum(safe_normalize(a) * safe_normalize(b), axis=-1)
    raise ValueError(f"contrastive_loss: unknown distance {distance!r}; known: {DISTANCES}")


def contrastive_loss(a, b, same, margin: float = 1.0, *, distance: str = "euclidean") -> Array:
    """Hadsell et al.'s contrastive loss of each pair.

    Args:
      a: ``[..., D]`` codes of the first image of each pair.
      b: ``[..., D]`` codes of the second image.
      same: ``[...]`` 1 (or True) where the pair shows the same subject, 0 where not; values in
        between weight the two terms.
      margin: distance beyond which a different-subject pair costs nothing (in the units of
        ``distance``: the codes' units for ``"euclidean"``, ``[0, 2]`` for ``"cosine"``).
      distance: ``"euclidean"`` or ``"cosine"`` (see :func:`pair_distance`).

    Returns:
      ``[...]`` losses.

    Raises:
      ValueError: mismatched shapes, or an unknown distance.
    """
    a, b = at_least_float32(a), at_least_float32(b)
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(
            f"contrastive_loss: a and b must be [..., D] of one shape, got {a.shape} and {b.shape}"
        )
    same = jnp.asarray(same)
    if same.shape != a.shape[:-1]:
        raise ValueError(
            f"contrastive_loss: same must have shape {a.shape[:-1]} (one flag per pair), "
            f"got {same.shape}"
        )
    same = same.astype(a.dtype)
    d = pair_distance(a, b, distance)
    pull = 0.5 * jnp.square(d)
    push = 0.5 * jnp.square(jnp.maximum(margin - d, 0.0))
    return same * pull + (1.0 - same) * push
