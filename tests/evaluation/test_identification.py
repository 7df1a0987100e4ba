"""Closed-set identification: ranks against a brute-force loop, CMC, ties, protocol splits."""

import numpy as np
import pytest

from facejax import evaluation


def _features(labels, dim=8, noise=0.8, seed=0):
    """One random centre per identity plus noise: identifiable, not perfectly."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(int(labels.max()) + 1, dim))
    return centres[labels] + noise * rng.normal(size=(len(labels), dim))


def _split(labels, per_identity=1):
    """The first ``per_identity`` examples of each person to the gallery, the rest are probes
    (the shape of ``facejax.data.protocols.gallery_probe_split``: ascending positions)."""
    seen: dict[int, int] = {}
    gallery = []
    for i, label in enumerate(labels):
        seen[int(label)] = seen.get(int(label), 0) + 1
        if seen[int(label)] <= per_identity:
            gallery.append(i)
    probe = np.setdiff1d(np.arange(len(labels)), gallery)
    return np.asarray(gallery), probe


def _ranks_brute_force(gallery, gallery_labels, probe, probe_labels):
    """Loop over probes and identities; an identity scores its best gallery example."""
    ranks = []
    for p, label in zip(probe, probe_labels, strict=True):
        best = {}
        for g, gl in zip(gallery, gallery_labels, strict=True):
            s = float(p @ g / (np.linalg.norm(p) * np.linalg.norm(g)))
            best[int(gl)] = max(best.get(int(gl), -np.inf), s)
        true = best[int(label)]
        ranks.append(sum(1 for s in best.values() if s >= true))
    return np.array(ranks)


def test_ranks_match_brute_force_with_several_gallery_examples():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 12, size=150)
    features = _features(labels, seed=2)
    g, p = _split(labels, per_identity=2)
    ranks = evaluation.identification_ranks(
        features[g], labels[g], features[p], labels[p], chunk_size=7
    )
    reference = _ranks_brute_force(features[g], labels[g], features[p], labels[p])
    np.testing.assert_array_equal(ranks, reference)
    assert 0.0 < np.mean(ranks == 1) < 1.0  # the case is not trivial

    got = evaluation.rank_k_accuracy(features[g], labels[g], features[p], labels[p], k=(1, 5))
    assert got == {"rank_1": np.mean(reference <= 1), "rank_5": np.mean(reference <= 5)}


def test_cmc_and_metrics():
    labels = np.repeat(np.arange(10), 4)
    features = _features(labels, noise=1.5, seed=4)
    g, p = _split(labels)
    m = evaluation.identification_metrics(features[g], labels[g], features[p], labels[p])
    cmc = m["cmc"]
    assert cmc.shape == (10,) and cmc[-1] == 1.0 and np.all(np.diff(cmc) >= 0)
    assert cmc[0] == m["rank_1"] and cmc[4] == m["rank_5"]
    assert (m["num_probes"], m["num_gallery"], m["num_identities"]) == (30, 10, 10)
    ranks = evaluation.identification_ranks(features[g], labels[g], features[p], labels[p])
    np.testing.assert_array_equal(evaluation.cmc_curve(ranks, 10), cmc)


def test_perfect_and_degenerate_features():
    labels = np.arange(5)
    eye = np.eye(5)
    assert evaluation.rank_k_accuracy(eye, labels, eye, labels, k=1) == {"rank_1": 1.0}
    # All-zero features score every identity equally: ties count against the probe.
    zeros = np.zeros((5, 5))
    ranks = evaluation.identification_ranks(zeros, labels, zeros, labels)
    np.testing.assert_array_equal(ranks, np.full(5, 5))


def test_distractors_compete():
    gallery, labels = np.eye(3), np.array([0, 1, 2])
    probe = np.array([[1.0, 0.2, 0.0]])
    assert evaluation.identification_ranks(gallery, labels, probe, [0])[0] == 1
    # A gallery-only person (9) closer to the probe than its own person pushes it to rank 2.
    distractor = np.r_[gallery, probe * 1.5]
    ranks = evaluation.identification_ranks(distractor, np.r_[labels, 9], probe, [0])
    assert ranks[0] == 2


def test_bad_input_names_the_problem():
    f, labels = np.eye(3), np.arange(3)
    with pytest.raises(ValueError, match="no gallery example"):
        evaluation.identification_ranks(f, labels, f, np.array([0, 1, 7]))
    with pytest.raises(ValueError, match="differ in size"):
        evaluation.identification_ranks(f, labels, np.eye(4)[:3], labels)
    with pytest.raises(ValueError, match="gallery_labels must be"):
        evaluation.identification_ranks(f, labels[:2], f, labels)
    with pytest.raises(ValueError, match="k must be ints >= 1"):
        evaluation.rank_k_accuracy(f, labels, f, labels, k=(0,))
