"""Dense 3D shape error: per-vertex distances and RMSE after Procrustes alignment.

Both meshes are in dense correspondence (same topology, vertex ``i`` of one is vertex ``i`` of
the other), as for a reconstruction decoded from a 3DMM against a ground-truth shape decoded from
the same model (synthetic data, fitted targets). The prediction is aligned onto the target, so
errors are in the target's units: millimetres under ``docs/conventions.md``.

Scan-to-mesh protocols (NoW, MICC Florence: nearest-point distances after ICP) measure
something else and are not computed here; see ``docs/evaluation.md``.
"""

import jax
import jax.numpy as jnp

from facejax.geometry import align as procrustes_align
from facejax.geometry import safe_norm
from facejax.geometry._validation import as_float

ALIGNMENTS = ("similarity", "rigid", None)


def _check(pred, target, weights, fn):
    if pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f"{fn}: pred must have shape [N, V, 3], got {tuple(pred.shape)}")
    if target.shape != pred.shape:
        raise ValueError(
            f"{fn}: target must have the shape of pred {tuple(pred.shape)}, "
            f"got {tuple(target.shape)}"
        )
    if weights is not None and weights.shape != pred.shape[1:2]:
        raise ValueError(
            f"{fn}: weights must have shape [V] = [{pred.shape[1]}], got {tuple(weights.shape)}"
        )


def _aligned(pred, target, align, weights, fn):
    """Validated float inputs, with ``pred`` aligned onto ``target``; weights as floats."""
    if align not in ALIGNMENTS:
        raise ValueError(f"{fn}: align must be one of {ALIGNMENTS}, got {align!r}")
    pred, target = as_float(pred), as_float(target)
    weights = None if weights is None else jnp.asarray(weights)
    _check(pred, target, weights, fn)
    if weights is not None:
        weights = weights.astype(pred.dtype)
        # Values can only be checked outside jit; under jit bad weights give NaN.
        if not isinstance(weights, jax.core.Tracer) and (
            bool(jnp.any(weights < 0)) or not bool(jnp.any(weights > 0))
        ):
            raise ValueError(f"{fn}: weights must be non-negative and not all zero")
    if align is not None:
        scale = align == "similarity"
        pred = jax.vmap(lambda p, t: procrustes_align(p, t, weights, scale=scale))(pred, target)
    return pred, target, weights


def aligned_vertex_errors(pred, target, *, align: str | None = "similarity", weights=None):
    """Euclidean distance of each vertex to its target after aligning ``pred`` onto ``target``.

    ``pred`` is moved by the least-squares similarity (``align="similarity"``: rotation,
    translation and scale, Umeyama 1991 via :func:`facejax.geometry.procrustes`), rigid motion
    (``"rigid"``) or not at all (``None``) that best maps it onto ``target``. Works under
    ``jax.jit`` (``align`` static) and ``jax.grad``.

    Args:
      pred: ``[N, V, 3]`` predicted vertices (``V >= 3`` for an alignment).
      target: ``[N, V, 3]`` ground-truth vertices, in millimetres.
      align: ``"similarity"``, ``"rigid"`` or ``None``.
      weights: optional ``[V]`` bool mask or non-negative per-vertex weights (e.g. a face-region
        mask), used in the alignment; the errors are returned for every vertex.

    Returns:
      ``[N, V]`` distances in the target's units (mm), e.g. for an error heat map.
    """
    pred, target, _ = _aligned(pred, target, align, weights, "aligned_vertex_errors")
    # safe_norm: a vertex with zero error keeps a finite (zero) gradient.
    return safe_norm(pred - target, axis=-1)


def vertex_rmse(pred, target, *, align: str | None = "similarity", weights=None):
    """Root-mean-square vertex error after alignment, one value per face.

    ``RMSE = sqrt(sum_i w_i |p_i - t_i|**2 / sum_i w_i)``: the square root of the (weighted) mean
    over vertices of the squared Euclidean distance between the aligned prediction ``p`` and the
    target ``t`` (uniform weights without ``weights``). The same weights are used in the
    alignment fit (see :func:`aligned_vertex_errors`) and in the mean, so a bool mask evaluates
    exactly the masked region.

    Args:
      pred: ``[N, V, 3]`` predicted vertices.
      target: ``[N, V, 3]`` ground-truth vertices, in millimetres.
      align: ``"similarity"`` (default), ``"rigid"`` or ``None``.
      weights: optional ``[V]`` bool mask or non-negative weights (not all zero).

    Returns:
      ``[N]`` RMSE in the target's units (mm).
    """
    pred, target, weights = _aligned(pred, target, align, weights, "vertex_rmse")
    squared = jnp.sum((pred - target) ** 2, axis=-1)
    if weights is None:
        return jnp.sqrt(jnp.mean(squared, axis=-1))
    return jnp.sqrt(jnp.sum(squared * weights[None, :], axis=-1) / jnp.sum(weights))
