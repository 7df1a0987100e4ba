"""Least-squares similarity (or rigid) alignment of corresponding point sets (Umeyama 1991).

Unbatched: ``source [N, 3]`` and ``target [N, 3]`` with row ``i`` of one corresponding to row
``i`` of the other; batch with ``jax.vmap``. Used e.g. to compare a reconstructed face with a
ground-truth scan after removing pose and scale.
"""

import jax
import jax.numpy as jnp

from facejax.geometry._validation import as_float, check_shape
from facejax.geometry.transform import similarity_transform


def procrustes(
    source, target, weights=None, *, scale: bool = True
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The similarity ``x -> s R x + t`` that best maps ``source`` onto ``target``.

    Minimises ``sum_i w_i |s R source_i + t - target_i|**2`` over ``s > 0`` (or ``s = 1`` with
    ``scale=False``), rotations ``R`` (``det R = +1``: reflections are excluded) and ``t``,
    in closed form (Umeyama, "Least-squares estimation of transformation parameters between two
    point patterns", TPAMI 1991): with weighted centroids and the cross-covariance
    ``C = sum_i w_i (target_i - mu_t)(source_i - mu_s).T = U D V.T``,
    ``R = U diag(1, 1, d) V.T`` with ``d = sign(det U det V)``,
    ``s = (D . (1, 1, d)) / sum_i w_i |source_i - mu_s|**2`` and ``t = mu_t - s R mu_s``.

    Differentiable through ``jnp.linalg.svd``. Its gradient is finite when the singular values of
    ``C`` are distinct (any generic point set); symmetric configurations with repeated singular
    values (e.g. the vertices of a regular polyhedron) have a well-defined alignment but an
    ill-defined SVD gradient, and may give NaN gradients.

    Args:
      source: ``[N, 3]`` points to move, ``N >= 3``, not all collinear.
      target: ``[N, 3]`` corresponding points.
      weights: optional ``[N]`` non-negative weights (normalised inside); ``None`` for equal
        weights. A zero weight removes a point from the fit.
      scale: estimate the scale; ``False`` gives the best rigid transform (``s = 1``).

    Returns:
      ``(s [], R [3, 3], t [3])`` such that ``s * R @ source_i + t ~ target_i``.
    """
    source, target = as_float(source), as_float(target)
    check_shape(source, (None, 3), "source", "procrustes")
    check_shape(target, source.shape, "target", "procrustes")
    n = source.shape[0]
    if n < 3:
        raise ValueError(f"procrustes: need at least 3 point pairs to fix a rotation, got {n}")
    if weights is None:
        weights = jnp.full((n,), 1.0 / n, dtype=source.dtype)
    else:
        weights = as_float(weights)
        check_shape(weights, (n,), "weights", "procrustes")
        weights = weights / jnp.sum(weights)

    mu_source = weights @ source
    mu_target = weights @ target
    centred_source = source - mu_source[None, :]
    centred_target = target - mu_target[None, :]
    covariance = jnp.einsum("n,ni,nj->ij", weights, centred_target, centred_source)

    u, singular, vt = jnp.linalg.svd(covariance, full_matrices=False)
    # The reflection fix is piecewise constant: no gradient flows through the sign.
    d = jax.lax.stop_gradient(jnp.sign(jnp.linalg.det(u) * jnp.linalg.det(vt)))
    signs = jnp.stack([jnp.ones_like(d), jnp.ones_like(d), d])
    rotation = (u * signs[None, :]) @ vt

    if scale:
        variance = jnp.sum(weights * jnp.sum(centred_source**2, axis=-1))
        s = jnp.sum(singular * signs) / jnp.where(variance > 0, variance, 1.0)
    else:
        s = jnp.ones((), dtype=source.dtype)
    translation = mu_target - s * (rotation @ mu_source)
    return s, rotation, translation


def align(source, target, weights=None, *, scale: bool = True) -> jax.Array:
    """``source`` moved by the ``procrustes`` similarity onto ``target``.

    Args:
      source: ``[N, 3]`` points to move.
      target: ``[N, 3]`` corresponding points.
      weights: optional ``[N]`` non-negative weights.
      scale: estimate the scale (similarity); ``False`` for a rigid fit.

    Returns:
      ``[N, 3]`` aligned source points, ``s * R @ source_i + t``.
    """
    s, rotation, translation = procrustes(source, target, weights, scale=scale)
    return similarity_transform(source, s, rotation, translation)
