"""Identity consistency: do a person's images give one shape, and different people different ones?

A reconstruction that knows who a face is gives the same identity shape for every photo of a
person, whatever the pose or expression, and different shapes for different people (Luo, Tu and
Xie's claim for their contrastive loss). :func:`identity_consistency` measures both sides on
predicted identity shapes of labelled test images, with the per-vertex distance of two shapes

    d(i, j)^2 = sum_v w_v |x_i,v - x_j,v|^2 / sum_v w_v     (mm^2, the RMSE between two shapes)

* ``within_mm``: the root-mean-square ``d`` over all pairs of images of the same person;
* ``between_mm``: the same over all pairs of images of different people;
* ``ratio``: ``within / between``: 0 is perfectly consistent, 1 means two photos of one person
  are as far apart as photos of two people (a shape that does not depend on who it is).

With yaws, the same-person pairs are also grouped by the absolute yaw difference of their two
images (``within_mm_yaw_45_180``: pairs 45 degrees or more apart), each beside ``between``: how
consistency holds across pose. A constant predictor (the mean face) has within = between = 0
and no ratio (NaN): its consistency is trivial and says nothing about identity.

All pairs are counted exactly in ``O(N V)`` (the sum of squared distances over pairs of a group
is ``2 n sum |y|^2 - 2 |sum y|^2``), so every image pair of the test split is used. Host-side
numpy in float64, like the other recognition metrics.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import numpy as np

from facejax.geometry import align as procrustes_align

DEFAULT_YAW_DIFFERENCE_BINS = (0.0, 15.0, 45.0, 180.0)
ALIGNMENTS = ("similarity", "rigid", None)
_PROCRUSTES_ROUNDS = 4


def _bin_name(low: float, high: float) -> str:
    return f"yaw_{low:g}_{high:g}"


def _aligned(shapes, weights, align, reference) -> np.ndarray:
    """Each shape moved by its best similarity (or rigid) transform onto ``reference``, or, with
    no reference, onto the mean of the aligned shapes (generalised Procrustes, a few rounds)."""
    if align is None:
        return shapes
    move = jax.jit(
        jax.vmap(
            lambda source, target, w: procrustes_align(
                source, target, w, scale=align == "similarity"
            ),
            in_axes=(0, None, None),
        )
    )
    if reference is not None:
        return np.asarray(move(shapes, reference, weights), dtype=np.float64)
    target = shapes.mean(axis=0)
    for _ in range(_PROCRUSTES_ROUNDS):
        aligned = np.asarray(move(shapes, target, weights), dtype=np.float64)
        target = aligned.mean(axis=0)
    return aligned


def _sum_of_pair_distances(rows: np.ndarray) -> float:
    """Sum over ordered pairs ``i != j`` of ``|rows_i - rows_j|^2``."""
    n = rows.shape[0]
    return float(2.0 * n * np.sum(rows * rows) - 2.0 * np.sum(rows.sum(axis=0) ** 2))


def identity_consistency(
    shapes,
    labels,
    *,
    weights=None,
    yaw_degrees=None,
    yaw_difference_bins: Sequence[float] = DEFAULT_YAW_DIFFERENCE_BINS,
    align: str | None = "similarity",
    reference=None,
) -> dict[str, float]:
    """Spread of one person's identity shapes against the spread between people (module doc).

    Args:
      shapes: ``[N, V, 3]`` predicted identity (neutral) shapes, mm, in one model frame.
      labels: ``[N]`` integer person labels.
      weights: optional ``[V]`` bool mask or non-negative weights (e.g. the face mask), used in
        the alignment and in the distance.
      yaw_degrees: optional ``[N]`` yaw of each image, degrees; groups same-person pairs by
        their absolute yaw difference.
      yaw_difference_bins: increasing edges of the yaw-difference groups, degrees; a pair
        belongs to ``[low, high)`` (the last group also takes ``high``).
      align: each shape is first moved onto ``reference`` by its best ``"similarity"``
        (default: scale and placement are not identity), ``"rigid"`` or no (``None``)
        transform.
      reference: ``[V, 3]`` shape to align onto, e.g. the model's mean face (then moving any
        input shape changes nothing); without it, the mean of the aligned shapes (generalised
        Procrustes), which a moved input shifts slightly.

    Returns:
      ``within_mm``, ``between_mm``, ``ratio``, ``num_within_pairs``, ``num_between_pairs``
      and, with yaws, ``within_mm_<bin>``, ``ratio_<bin>`` and ``num_within_pairs_<bin>`` for
      each yaw-difference bin (``<bin>`` as ``yaw_45_180``). An empty group gives NaN.

    Raises:
      ValueError: shapes not ``[N, V, 3]``, labels or yaws not ``[N]``, non-finite shapes or
        yaws, bad weights or bins.
    """
    fn = "identity_consistency"
    shapes = np.asarray(shapes, dtype=np.float64)
    if shapes.ndim != 3 or shapes.shape[-1] != 3:
        raise ValueError(f"{fn}: shapes must be [N, V, 3], got {shapes.shape}")
    n, v, _ = shapes.shape
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"{fn}: labels must be [N] = [{n}], got {labels.shape}")
    if not np.all(np.isfinite(shapes)):
        raise ValueError(f"{fn}: shapes contain NaN or infinite values")
    if align not in ALIGNMENTS:
        raise ValueError(f"{fn}: align must be one of {ALIGNMENTS}, got {align!r}")
    w = np.ones(v) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != (v,) or np.any(w < 0) or not np.any(w > 0):
        raise ValueError(f"{fn}: weights must be [V] = [{v}], non-negative, not all zero")
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float64)
        if reference.shape != (v, 3):
            raise ValueError(f"{fn}: reference must be [V, 3] = [{v}, 3], got {reference.shape}")
    shapes = _aligned(shapes, w, align, reference)
    # Rows whose squared Euclidean distances are the weighted mean squared vertex distances.
    rows = (shapes * np.sqrt(w / w.sum())[None, :, None]).reshape(n, -1)

    within_sum, within_count = 0.0, 0
    groups = [np.flatnonzero(labels == label) for label in np.unique(labels)]
    for members in groups:
        within_sum += _sum_of_pair_distances(rows[members])
        within_count += len(members) * (len(members) - 1)
    between_sum = _sum_of_pair_distances(rows) - within_sum
    between_count = n * (n - 1) - within_count
    within = np.sqrt(max(within_sum, 0.0) / within_count) if within_count else np.nan
    between = np.sqrt(max(between_sum, 0.0) / between_count) if between_count else np.nan

    def ratio(value):
        return float(value / between) if between > 0 else float("nan")

    result = {
        "within_mm": float(within),
        "between_mm": float(between),
        "ratio": ratio(within),
        "num_within_pairs": within_count // 2,
        "num_between_pairs": between_count // 2,
    }
    if yaw_degrees is None:
        return result
    yaw = np.asarray(yaw_degrees, dtype=np.float64)
    if yaw.shape != (n,) or not np.all(np.isfinite(yaw)):
        raise ValueError(f"{fn}: yaw_degrees must be [N] = [{n}] finite values, got {yaw.shape}")
    edges = np.asarray(yaw_difference_bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError(f"{fn}: yaw_difference_bins must be increasing edges, got {edges}")
    differences, distances = [], []
    for members in groups:
        a, b = np.triu_indices(len(members), k=1)
        i, j = members[a], members[b]
        differences.append(np.abs(yaw[i] - yaw[j]))
        distances.append(np.sum((rows[i] - rows[j]) ** 2, axis=-1))
    differences = np.concatenate(differences)
    distances = np.concatenate(distances)
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = k == edges.size - 2
        inside = (differences >= low) & ((differences <= high) if last else (differences < high))
        name = _bin_name(low, high)
        value = np.sqrt(np.mean(distances[inside])) if np.any(inside) else np.nan
        result[f"within_mm_{name}"] = float(value)
        result[f"ratio_{name}"] = ratio(value)
        result[f"num_within_pairs_{name}"] = int(np.sum(inside))
    return result
