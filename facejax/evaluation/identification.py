"""Closed-set face identification: the rank of each probe's identity, rank-k accuracy, CMC.

Every probe's person has at least one gallery example (closed set); gallery people without
probes are distractors. A probe scores each gallery *identity* by its best cosine similarity
over that identity's gallery examples (nearest neighbour), and the rank of its true identity is
the number of gallery identities scoring at least as high (ties counted against the probe, so a
degenerate feature that scores everything equally is ranked last, not first). With one gallery
example per person this is the usual ranking of gallery examples. Gallery / probe splits come
from :func:`facejax.data.protocols.gallery_probe_split`.

Host-side numpy in float64, over probe chunks so memory stays ``chunk_size x G``.
"""

import numpy as np

from facejax.evaluation.similarity import COSINE_EPS, normalized_features

CLOSED_SET_PROTOCOL = (
    "closed-set identification: probe vs gallery by cosine similarity, each identity scored by "
    "its best gallery example, ties ranked against the probe"
)


def _labels(labels, n: int, name: str) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"identification: {name} must be [{n}] integers (one per feature row), got "
            f"{labels.dtype} {labels.shape}"
        )
    return labels


def _ranks_to_report(k, fn: str) -> tuple[int, ...]:
    ks = (k,) if isinstance(k, int | np.integer) else tuple(k)
    if not ks or any(int(v) < 1 for v in ks):
        raise ValueError(f"{fn}: k must be ints >= 1, got {k!r}")
    return tuple(int(v) for v in ks)


def identification_ranks(
    gallery_features,
    gallery_labels,
    probe_features,
    probe_labels,
    *,
    chunk_size: int = 1024,
    eps: float = COSINE_EPS,
) -> np.ndarray:
    """Rank (1 = best) of each probe's true identity among the gallery identities.

    Args:
      gallery_features: ``[G, D]`` features of the gallery examples.
      gallery_labels: ``[G]`` int identity of each gallery example.
      probe_features: ``[P, D]`` features of the probes.
      probe_labels: ``[P]`` int identity of each probe; each must occur in ``gallery_labels``.
      chunk_size: probes scored at a time.
      eps: smallest feature norm (see :func:`facejax.evaluation.cosine_similarity`).

    Returns:
      ``[P]`` int64 ranks in ``1 .. C`` (``C`` distinct gallery identities).
    """
    gallery = normalized_features(gallery_features, eps=eps, name="gallery_features")
    probe = normalized_features(probe_features, eps=eps, name="probe_features")
    if gallery.shape[1] != probe.shape[1]:
        raise ValueError(
            f"identification: gallery and probe features differ in size, D = {gallery.shape[1]} "
            f"and {probe.shape[1]}"
        )
    if gallery.shape[0] == 0 or probe.shape[0] == 0:
        raise ValueError("identification: the gallery and the probes must not be empty")
    gallery_labels = _labels(gallery_labels, gallery.shape[0], "gallery_labels")
    probe_labels = _labels(probe_labels, probe.shape[0], "probe_labels")
    identities, gallery_ids = np.unique(gallery_labels, return_inverse=True)
    missing = np.setdiff1d(probe_labels, identities)
    if missing.size:
        raise ValueError(
            f"identification: closed set, but {missing.size} probe identities have no gallery "
            f"example, e.g. {missing[:5].tolist()}"
        )
    probe_ids = np.searchsorted(identities, probe_labels)
    # Gallery sorted by identity, so one maximum.reduceat gives each identity's best score.
    order = np.argsort(gallery_ids, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(gallery_ids[order]) != 0])
    gallery = gallery[order]
    ranks = np.empty(probe.shape[0], dtype=np.int64)
    for lo in range(0, probe.shape[0], chunk_size):
        similarity = probe[lo : lo + chunk_size] @ gallery.T
        per_identity = np.maximum.reduceat(similarity, starts, axis=1)  # [chunk, C]
        true = per_identity[np.arange(per_identity.shape[0]), probe_ids[lo : lo + chunk_size]]
        ranks[lo : lo + chunk_size] = np.sum(per_identity >= true[:, None], axis=1)
    return ranks


def cmc_curve(ranks, num_identities: int | None = None) -> np.ndarray:
    """Cumulative match characteristic: ``cmc[r - 1]`` = fraction of probes with rank ``<= r``.

    Args:
      ranks: ``[P]`` ranks from :func:`identification_ranks`.
      num_identities: curve length ``C`` (default: the largest rank).

    Returns:
      ``[C]`` non-decreasing fractions; ``cmc[0]`` is rank-1 accuracy, ``cmc[C - 1] = 1``.
    """
    ranks = np.asarray(ranks)
    length = int(ranks.max()) if num_identities is None else int(num_identities)
    counts = np.bincount(ranks, minlength=length + 1)[1 : length + 1]
    return np.cumsum(counts) / ranks.size


def rank_k_accuracy(
    gallery_features, gallery_labels, probe_features, probe_labels, k=(1, 5)
) -> dict[str, float]:
    """Fraction of probes whose identity is among the ``k`` best-scoring gallery identities.

    Args:
      gallery_features: ``[G, D]``; gallery_labels: ``[G]`` int.
      probe_features: ``[P, D]``; probe_labels: ``[P]`` int (closed set).
      k: the ranks to report (an int or a sequence of ints >= 1). A ``k`` at or beyond the number
        of gallery identities gives 1.0 by definition: compare with ``num_identities``
        (:func:`identification_metrics` records it).

    Returns:
      ``{"rank_1": ..., "rank_5": ...}``.
    """
    ks = _ranks_to_report(k, "rank_k_accuracy")
    ranks = identification_ranks(gallery_features, gallery_labels, probe_features, probe_labels)
    return {f"rank_{v}": float(np.mean(ranks <= v)) for v in ks}


def identification_metrics(
    gallery_features, gallery_labels, probe_features, probe_labels, *, k=(1, 5)
) -> dict:
    """Rank-k accuracies, the CMC curve, counts and protocol, for ``metrics.json``.

    Returns:
      ``{"rank_1", "rank_5", ...}`` (floats), ``cmc`` ``[C]``, ``num_probes``,
      ``num_gallery``, ``num_identities`` (gallery identities, ``C``), ``num_probe_identities``
      and ``protocol``.
    """
    ks = _ranks_to_report(k, "identification_metrics")
    ranks = identification_ranks(gallery_features, gallery_labels, probe_features, probe_labels)
    num_identities = int(np.unique(np.asarray(gallery_labels)).size)
    metrics: dict = {f"rank_{v}": float(np.mean(ranks <= v)) for v in ks}
    metrics.update(
        cmc=cmc_curve(ranks, num_identities),
        num_probes=int(ranks.size),
        num_gallery=int(np.asarray(gallery_labels).size),
        num_identities=num_identities,
        num_probe_identities=int(np.unique(np.asarray(probe_labels)).size),
        protocol=CLOSED_SET_PROTOCOL,
    )
    return metrics
