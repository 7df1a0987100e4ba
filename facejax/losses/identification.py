"""Face identification losses: softmax cross-entropy and margin softmax (ArcFace, CosFace).

The classifier of a model gives either plain logits ``z @ W`` (softmax) or the cosines between
the L2-normalised feature and the L2-normalised class weights (margin softmax). Both losses are
per example: ``[..., C]`` scores and ``[...]`` integer labels give ``[...]``.

References:
  Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", CVPR 2019.
  Wang et al., "CosFace: Large Margin Cosine Loss for Deep Face Recognition", CVPR 2018.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from facejax.geometry import safe_arccos
from facejax.losses.masked import at_least_float32

Array = Any

MARGIN_KINDS = ("arcface", "cosface")
# The margins of the papers: ArcFace's additive angle (radians), CosFace's cosine offset.
DEFAULT_MARGINS = {"arcface": 0.5, "cosface": 0.35}
DEFAULT_SCALE = 64.0


def _check_labels(scores, labels, fn: str):
    labels = jnp.asarray(labels)
    if not jnp.issubdtype(labels.dtype, jnp.integer):
        raise ValueError(f"{fn}: labels must be integer class indices, got dtype {labels.dtype}")
    if scores.ndim < 1 or labels.shape != scores.shape[:-1]:
        raise ValueError(
            f"{fn}: labels must have the leading shape of the scores [..., C]: scores "
            f"{tuple(scores.shape)}, labels {tuple(labels.shape)}"
        )
    return labels


def softmax_cross_entropy_with_integer_labels(logits, labels) -> Array:
    """Cross-entropy of a softmax over classes with integer labels.

    optax's function of the same name; ``optax.softmax_cross_entropy`` takes one-hot labels.

    ``logsumexp(logits) - logits[label]``, stable for any logit magnitude.

    Args:
      logits: ``[..., C]`` unnormalised class scores.
      labels: ``[...]`` integer class indices in ``[0, C)``.

    Returns:
      ``[...]`` losses (float32 or wider, also for bfloat16 logits).
    """
    logits = at_least_float32(logits)
    labels = _check_labels(logits, labels, "softmax_cross_entropy_with_integer_labels")
    target = jnp.take_along_axis(logits, labels[..., None], axis=-1)[..., 0]
    return jax.nn.logsumexp(logits, axis=-1) - target


def softmax_cross_entropy(logits, labels) -> Array:
    """Deprecated: :func:`softmax_cross_entropy_with_integer_labels` (this one takes integer
    labels, where ``optax.softmax_cross_entropy`` takes one-hot ones)."""
    warnings.warn(
        "facejax.losses.softmax_cross_entropy is deprecated: use "
        "softmax_cross_entropy_with_integer_labels",
        DeprecationWarning,
        stacklevel=2,
    )
    return softmax_cross_entropy_with_integer_labels(logits, labels)


def margin_logits(
    cosines,
    labels,
    *,
    kind: str = "arcface",
    scale: float = DEFAULT_SCALE,
    margin: float | None = None,
    easy_margin: bool = False,
) -> Array:
    """Logits of a margin softmax: the target class's cosine penalised, all scaled by ``scale``.

    * ``"arcface"``: the target becomes ``cos(theta + m)`` with ``theta = arccos(cos)``. Beyond
      ``theta = pi - m`` the function ``cos(theta + m)`` would rise again, so there (insightface's
      threshold) the target is ``cos - m sin m`` instead, which stays decreasing. With
      ``easy_margin`` the margin applies only where ``cos > 0`` and the target is ``cos``
      elsewhere.
    * ``"cosface"``: the target becomes ``cos - m``.

    ``theta`` comes from :func:`facejax.geometry.safe_arccos`, so the value is exact and the
    gradient is finite at ``cos = +-1`` (where the true derivative of ``cos(theta + m)`` in
    ``cos`` is infinite).

    Args:
      cosines: ``[..., C]`` cosines between normalised features and class weights, in [-1, 1].
      labels: ``[...]`` integer class indices.
      kind: ``"arcface"`` or ``"cosface"``.
      scale: ``s``, the norm the features are rescaled to (64 in both papers).
      margin: ``m``; ``None`` takes the paper's (0.5 rad for ArcFace, 0.35 for CosFace).
      easy_margin: ArcFace only, see above.

    Returns:
      ``[..., C]`` logits for :func:`softmax_cross_entropy_with_integer_labels`.

    Raises:
      ValueError: unknown ``kind``, or labels that do not match the cosines.
    """
    if kind not in MARGIN_KINDS:
        raise ValueError(f"margin_logits: unknown kind {kind!r}; known: {MARGIN_KINDS}")
    cosines = at_least_float32(cosines)
    labels = _check_labels(cosines, labels, "margin_logits")
    m = DEFAULT_MARGINS[kind] if margin is None else float(margin)
    if kind == "cosface":
        target = cosines - m
    else:
        theta = safe_arccos(cosines)
        penalised = jnp.cos(theta + m)
        if easy_margin:
            target = jnp.where(cosines > 0, penalised, cosines)
        else:
            threshold = math.cos(math.pi - m)
            target = jnp.where(cosines > threshold, penalised, cosines - m * math.sin(m))
    is_target = jax.nn.one_hot(labels, cosines.shape[-1], dtype=jnp.bool_)
    return scale * jnp.where(is_target, target, cosines)


def margin_softmax_loss(
    cosines,
    labels,
    *,
    kind: str = "arcface",
    scale: float = DEFAULT_SCALE,
    margin: float | None = None,
    easy_margin: bool = False,
) -> Array:
    """Margin softmax loss: :func:`softmax_cross_entropy_with_integer_labels` of
    :func:`margin_logits`.

    Args: as :func:`margin_logits`.

    Returns:
      ``[...]`` losses.
    """
    logits = margin_logits(
        cosines, labels, kind=kind, scale=scale, margin=margin, easy_margin=easy_margin
    )
    return softmax_cross_entropy_with_integer_labels(logits, labels)
