"""Face verification metrics over scored pairs: LFW 10-fold accuracy, ROC, AUC, EER, TAR@FAR.

A pair is *genuine* (``same``: both faces of one person) or *impostor*; its score is a
similarity (higher = more alike, e.g. :func:`facejax.evaluation.cosine_similarity`). A pair is
accepted as genuine when ``score >= threshold``, everywhere in this module. Pairs and folds
come from :func:`facejax.data.protocols.verification_pairs` (or LFW's ``pairs.txt``).

Host-side numpy in float64: these are sorts and counts over a few thousand pairs, not traced
computations. The exact definitions and the papers they follow are in ``docs/evaluation.md``.
"""

import math

import numpy as np
from scipy.stats import rankdata

# ``far * num_impostor`` is floored to an integer count of allowed false accepts; the slack
# keeps e.g. 1e-3 * 3000 = 2.9999999999999996 from losing an accept to rounding.
_COUNT_SLACK = 1e-9

LFW_PROTOCOL = (
    "LFW View 2 (Huang et al. 2007): for each fold, the threshold maximising accuracy on the "
    "other folds is tested on it; accept iff score >= threshold"
)


def _pairs(scores, same, fn: str) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64)
    same_arr = np.asarray(same)
    if scores.ndim != 1:
        raise ValueError(f"{fn}: scores must have shape [P], got {scores.shape}")
    if same_arr.shape != scores.shape:
        raise ValueError(
            f"{fn}: same must have the shape of scores {scores.shape}, got {same_arr.shape}"
        )
    if same_arr.dtype != bool:
        if not np.issubdtype(same_arr.dtype, np.integer) or not np.all(np.isin(same_arr, (0, 1))):
            raise ValueError(f"{fn}: same must be bool (or 0/1), got {same_arr.dtype}")
        same_arr = same_arr.astype(bool)
    if not np.all(np.isfinite(scores)):
        raise ValueError(f"{fn}: scores contain {int(np.sum(~np.isfinite(scores)))} NaN/inf values")
    if not same_arr.any() or same_arr.all():
        raise ValueError(
            f"{fn}: need both genuine and impostor pairs, got {int(same_arr.sum())} genuine of "
            f"{same_arr.size}"
        )
    return scores, same_arr


def roc_curve(scores, same) -> dict[str, np.ndarray]:
    """The ROC curve: true- and false-accept rates at every distinct score used as threshold.

    Point ``j`` accepts the pairs with ``score >= thresholds[j]``; thresholds run from ``+inf``
    (nothing accepted: ``(far, tar) = (0, 0)``) down to the lowest score (everything accepted:
    ``(1, 1)``). Tied scores enter together, so a tie between genuine and impostor pairs is a
    diagonal segment; the area under the piecewise-linear curve is then :func:`roc_auc`.

    Args:
      scores: ``[P]`` similarity of each pair.
      same: ``[P]`` bool, True for genuine pairs.

    Returns:
      ``{"far": [K + 1], "tar": [K + 1], "thresholds": [K + 1]}`` (``K`` distinct scores),
      ``far`` and ``tar`` non-decreasing.
    """
    scores, same = _pairs(scores, same, "roc_curve")
    order = np.argsort(-scores, kind="stable")
    ordered, genuine = scores[order], same[order]
    last_of_tie = np.r_[ordered[1:] != ordered[:-1], True]
    true_accepts = np.cumsum(genuine)[last_of_tie]
    false_accepts = np.cumsum(~genuine)[last_of_tie]
    return {
        "far": np.r_[0.0, false_accepts / np.sum(~same)],
        "tar": np.r_[0.0, true_accepts / np.sum(same)],
        "thresholds": np.r_[np.inf, ordered[last_of_tie]],
    }


def roc_auc(scores, same) -> float:
    """Exact area under the ROC curve, ties counted one half.

    ``AUC = P(s_genuine > s_impostor) + 0.5 P(s_genuine = s_impostor)`` over all genuine x
    impostor pairs: the Mann-Whitney U statistic of the genuine scores divided by
    ``n_genuine * n_impostor``, from mid-ranks in ``O(P log P)``.

    Args:
      scores: ``[P]`` similarity of each pair.
      same: ``[P]`` bool, True for genuine pairs.

    Returns:
      The AUC in ``[0, 1]``.
    """
    scores, same = _pairs(scores, same, "roc_auc")
    n_genuine, n_impostor = int(same.sum()), int((~same).sum())
    ranks = rankdata(scores, method="average")
    u = np.sum(ranks[same]) - n_genuine * (n_genuine + 1) / 2.0
    return float(u / (n_genuine * n_impostor))


def equal_error_rate(scores, same) -> tuple[float, float]:
    """Equal error rate: where the false-accept rate equals the false-reject rate ``1 - TAR``.

    Found on the piecewise-linear ROC curve of :func:`roc_curve` (the one whose area is the AUC):
    the first point with ``FAR >= 1 - TAR`` and linear interpolation from the point before it.

    Args:
      scores: ``[P]`` similarity of each pair.
      same: ``[P]`` bool, True for genuine pairs.

    Returns:
      ``(eer, threshold)``: the EER in ``[0, 1]`` and the threshold of that first ROC point (at
      which FAR >= FRR for the first time as the threshold decreases).
    """
    roc = roc_curve(scores, same)
    far, tar = roc["far"], roc["tar"]
    gap = far - (1.0 - tar)  # -1 at (0, 0), +1 at (1, 1), non-decreasing
    j = int(np.argmax(gap >= 0.0))
    if gap[j] == 0.0:
        return float(far[j]), float(roc["thresholds"][j])
    alpha = -gap[j - 1] / (gap[j] - gap[j - 1])
    eer = far[j - 1] + alpha * (far[j] - far[j - 1])
    return float(eer), float(roc["thresholds"][j])


def tar_at_far(scores, same, far: float) -> tuple[float, float, float]:
    """True-accept rate at the lowest threshold whose false-accept rate is at most ``far``.

    No interpolation: with ``n`` impostor pairs, at most ``k = floor(far * n)`` of them may be
    accepted; the threshold is the lowest ROC threshold accepting no more than ``k`` (the
    ``(k+1)``-th highest impostor score is rejected, and so is everything tied with it), and the
    TAR is that of the same threshold. The achieved FAR is at most ``far`` (equal when no ties).

    When ``far * n < 1`` (fewer than ``1 / far`` impostor pairs) no threshold resolves that FAR:
    the only admissible one has FAR 0, which would report a TAR at FAR 0 under the name of
    ``far``. The result is then NaN (and :func:`verification_metrics` adds a note).

    Args:
      scores: ``[P]`` similarity of each pair.
      same: ``[P]`` bool, True for genuine pairs.
      far: target false-accept rate in ``(0, 1]``.

    Returns:
      ``(tar, threshold, achieved_far)``, all NaN when ``far`` cannot be resolved.
    """
    if not 0.0 < far <= 1.0:
        raise ValueError(f"tar_at_far: far must be in (0, 1], got {far}")
    roc = roc_curve(scores, same)
    n_impostor = int(np.sum(~np.asarray(same, dtype=bool)))
    allowed = math.floor(far * n_impostor + _COUNT_SLACK)
    if allowed < 1:
        return math.nan, math.nan, math.nan
    false_accepts = np.rint(roc["far"] * n_impostor)
    j = int(np.searchsorted(false_accepts, allowed, side="right")) - 1
    return float(roc["tar"][j]), float(roc["thresholds"][j]), float(roc["far"][j])


def best_threshold(scores, same) -> tuple[float, float]:
    """The threshold that maximises verification accuracy on the given pairs.

    Candidates are ``-inf`` (accept all), the midpoints between consecutive distinct scores and
    ``+inf`` (reject all): every distinct partition of the pairs, each once. Ties in accuracy go
    to the lowest threshold.

    Args:
      scores: ``[P]`` similarity of each pair.
      same: ``[P]`` bool, True for genuine pairs.

    Returns:
      ``(threshold, accuracy)`` on these pairs.
    """
    scores, same = _pairs(scores, same, "best_threshold")
    distinct = np.unique(scores)
    candidates = np.r_[-np.inf, distinct[:-1] + 0.5 * np.diff(distinct), np.inf]
    genuine = np.sort(scores[same])
    impostor = np.sort(scores[~same])
    accepted_genuine = genuine.size - np.searchsorted(genuine, candidates, side="left")
    rejected_impostor = np.searchsorted(impostor, candidates, side="left")
    accuracy = (accepted_genuine + rejected_impostor) / scores.size
    best = int(np.argmax(accuracy))
    return float(candidates[best]), float(accuracy[best])


def kfold_accuracy(scores, same, folds) -> dict[str, np.ndarray]:
    """Cross-validated verification accuracy (LFW View 2 protocol).

    For each fold ``k``: :func:`best_threshold` on the pairs of all other folds, then the
    fraction of fold ``k``'s pairs classified correctly (``score >= threshold`` iff genuine).

    Args:
      scores: ``[P]`` similarity of each pair.
      same: ``[P]`` bool, True for genuine pairs.
      folds: ``[P]`` int fold of each pair, ``0 .. K-1`` with ``K >= 2``, none empty.

    Returns:
      ``{"accuracy": [K], "threshold": [K]}``: per held-out fold.
    """
    scores, same = _pairs(scores, same, "kfold_accuracy")
    folds = np.asarray(folds)
    if folds.shape != scores.shape or not np.issubdtype(folds.dtype, np.integer):
        raise ValueError(
            f"kfold_accuracy: folds must be [P] = {scores.shape} integers, got {folds.dtype} "
            f"{folds.shape}"
        )
    num_folds = int(folds.max()) + 1
    counts = np.bincount(folds, minlength=num_folds) if folds.min() >= 0 else None
    if num_folds < 2 or counts is None or np.any(counts == 0):
        raise ValueError(
            f"kfold_accuracy: folds must number the pairs 0 .. K-1 (K >= 2) with no fold empty, "
            f"got values {np.unique(folds).tolist()[:12]}"
        )
    accuracy, threshold = np.empty(num_folds), np.empty(num_folds)
    for k in range(num_folds):
        train, test = folds != k, folds == k
        threshold[k], _ = best_threshold(scores[train], same[train])
        accuracy[k] = np.mean((scores[test] >= threshold[k]) == same[test])
    return {"accuracy": accuracy, "threshold": threshold}


def far_key(far: float) -> str:
    """``0.01`` -> ``"0.01"``: the suffix of the ``tar_at_far_*`` keys."""
    return f"{far:g}"


def verification_metrics(
    scores, same, folds, *, far_targets=(1e-2, 1e-3), include_roc: bool = True
) -> dict:
    """Every verification metric of a scored pair list, with its counts and protocol.

    Args:
      scores: ``[P]`` similarity of each pair.
      same: ``[P]`` bool, True for genuine pairs.
      folds: ``[P]`` int fold of each pair, ``0 .. K-1`` (10 for LFW).
      far_targets: false-accept rates for ``tar_at_far_*``.
      include_roc: add the ROC arrays under ``"roc"`` (for plots; ``P + 1`` points at most).

    Returns:
      A dict: ``accuracy`` (mean over folds), ``accuracy_std`` (population std over the folds,
      as most papers and insightface report it), ``accuracy_standard_error`` (LFW's ``S_E``:
      sample std / sqrt(K)), ``fold_accuracies`` and ``fold_thresholds`` ``[K]``; ``auc``;
      ``eer``, ``eer_threshold``; per target ``f``: ``tar_at_far_{f}``,
      ``threshold_at_far_{f}``, ``achieved_far_{f}`` (``f`` as :func:`far_key` writes it); the
      counts ``num_pairs``, ``num_genuine``, ``num_impostor``, ``num_folds``; ``protocol``;
      ``notes`` (a list of strings, e.g. a FAR that too few impostor pairs cannot resolve); and
      with ``include_roc`` ``roc = {"far", "tar", "thresholds"}``.
    """
    scores, same = _pairs(scores, same, "verification_metrics")
    folded = kfold_accuracy(scores, same, folds)
    fold_acc = folded["accuracy"]
    num_folds = fold_acc.size
    eer, eer_threshold = equal_error_rate(scores, same)
    n_impostor = int(np.sum(~same))
    metrics = {
        "protocol": LFW_PROTOCOL,
        "num_pairs": int(scores.size),
        "num_genuine": int(np.sum(same)),
        "num_impostor": n_impostor,
        "num_folds": num_folds,
        "accuracy": float(np.mean(fold_acc)),
        "accuracy_std": float(np.std(fold_acc)),
        "accuracy_standard_error": float(np.std(fold_acc, ddof=1) / math.sqrt(num_folds)),
        "fold_accuracies": fold_acc,
        "fold_thresholds": folded["threshold"],
        "auc": roc_auc(scores, same),
        "eer": eer,
        "eer_threshold": eer_threshold,
    }
    notes = []
    for far in far_targets:
        tar, threshold, achieved = tar_at_far(scores, same, far)
        key = far_key(far)
        metrics[f"tar_at_far_{key}"] = tar
        metrics[f"threshold_at_far_{key}"] = threshold
        metrics[f"achieved_far_{key}"] = achieved
        if math.isnan(tar):
            notes.append(
                f"tar_at_far_{key} is NaN: {n_impostor} impostor pairs cannot resolve a FAR of "
                f"{key} (needs at least {math.ceil(1.0 / far - _COUNT_SLACK)})"
            )
    metrics["notes"] = notes
    if include_roc:
        metrics["roc"] = roc_curve(scores, same)
    return metrics
