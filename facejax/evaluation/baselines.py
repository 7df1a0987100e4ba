"""Learned metrics beside what a trivial predictor scores on the same data.

A reconstruction error means something only next to the error of predicting the same face for
everyone, and a recognition score only next to chance. The functions here put the two side by
side, with their ratio, under flat metric names (``identity_rmse_face_mm``,
``identity_rmse_face_mean_face_mm``, ``identity_rmse_face_ratio``, ...):

* **Shape** (:func:`shape_rmse_with_baseline`): the per-vertex RMSE after similarity alignment
  (:func:`facejax.evaluation.vertex_rmse`) of the prediction and of a *mean face* (the mean
  identity of the training people, the best constant a network could learn without reading the
  image), over each region: the whole head, and the face region (the morphable model's face
  mask: what a photo shows). A ratio below 1 is what the network learned; 1 is nothing.
* **Recognition** (:func:`recognition_chance`): what a random feature scores: verification
  accuracy and AUC 0.5 (balanced genuine/impostor pairs), rank-1 identification one over the
  gallery's people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from facejax.data.fixed_batches import map_fixed_batches
from facejax.evaluation.shape_metrics import vertex_rmse

Array = Any

_per_face_rmse = jax.jit(
    lambda pairs, weights: vertex_rmse(pairs[:, 0], pairs[:, 1], weights=weights)
)


def shape_regions(model) -> dict[str, Array | None]:
    """``{"head": None, "face": [V] bool}``: the regions shape errors are reported over.

    ``"head"`` is every vertex; ``"face"`` the model's face mask (``face_mask > 0.5``), left out
    for a model without one.
    """
    regions: dict[str, Array | None] = {"head": None}
    if model.face_mask is not None:
        regions["face"] = np.asarray(model.face_mask) > 0.5
    return regions


def shape_rmse_with_baseline(
    name: str,
    pred,
    target,
    mean_face,
    regions: Mapping[str, Array | None],
    *,
    batch_size: int = 256,
) -> dict[str, float]:
    """Mean RMSE (mm) of ``pred`` and of the mean face against ``target``, per region, and ratio.

    Args:
      name: the metric prefix, e.g. ``"identity"`` (the neutral face) or ``"shape"``.
      pred: ``[N, V, 3]`` predicted vertices (mm).
      target: ``[N, V, 3]`` ground-truth vertices (mm).
      mean_face: ``[V, 3]`` the trivial prediction (e.g. the training people's mean identity).
      regions: ``{region: [V] weights or None}`` (:func:`shape_regions`).
      batch_size: faces per compiled call (memory); the last call is padded to it, so one
        compilation serves a whole test set.

    Returns:
      ``{f"{name}_rmse_{region}_mm", f"{name}_rmse_{region}_mean_face_mm",
      f"{name}_rmse_{region}_ratio"}`` for each region, as floats.
    """
    pred, target = np.asarray(pred), np.asarray(target)
    if pred.shape != target.shape or pred.ndim != 3:
        raise ValueError(
            f"shape_rmse_with_baseline: pred {pred.shape} and target {target.shape} must both "
            "be [N, V, 3]"
        )
    mean_face = np.asarray(mean_face, target.dtype)
    if mean_face.shape != target.shape[1:]:
        raise ValueError(
            f"shape_rmse_with_baseline: mean_face must be [V, 3] = {target.shape[1:]}, got "
            f"{mean_face.shape}"
        )

    def mean_rmse(prediction, weights):
        pairs = np.stack([np.broadcast_to(prediction, target.shape), target], axis=1)
        per_face = map_fixed_batches(
            lambda chunk: _per_face_rmse(chunk, weights), pairs, min(batch_size, len(pairs))
        )
        return float(np.mean(per_face))

    metrics = {}
    for region, weights in regions.items():
        w = None if weights is None else jnp.asarray(weights)
        learned, baseline = mean_rmse(pred, w), mean_rmse(mean_face, w)
        metrics[f"{name}_rmse_{region}_mm"] = learned
        metrics[f"{name}_rmse_{region}_mean_face_mm"] = baseline
        metrics[f"{name}_rmse_{region}_ratio"] = learned / baseline
    return metrics


def recognition_chance(num_gallery_identities: int) -> dict[str, float]:
    """What a random feature scores: ``verification_accuracy_chance`` and
    ``verification_auc_chance`` (0.5, for balanced pairs) and ``rank_1_chance``
    (``1 / num_gallery_identities``)."""
    if num_gallery_identities < 1:
        raise ValueError(
            f"recognition_chance: need at least one gallery identity, got {num_gallery_identities}"
        )
    return {
        "verification_accuracy_chance": 0.5,
        "verification_auc_chance": 0.5,
        "rank_1_chance": 1.0 / num_gallery_identities,
    }
