"""Verification pairs and gallery/probe splits built from identity labels."""

import numpy as np
import pytest

from facejax.data import protocols


def _labels(num_people, per_person, seed=0):
    """Shuffled labels: ``per_person`` examples of each of ``num_people`` people."""
    labels = np.repeat(np.arange(num_people), per_person)
    return np.random.default_rng(seed).permutation(labels)


def _check_pairs(pairs, labels, num_folds, per_fold):
    assert len(pairs) == 2 * num_folds * per_fold
    assert sorted(set(pairs.fold.tolist())) == list(range(num_folds))
    for fold in range(num_folds):
        in_fold = pairs.fold == fold
        assert pairs.same[in_fold].sum() == per_fold  # balanced
        assert (~pairs.same[in_fold]).sum() == per_fold
    same_identity = labels[pairs.index_a] == labels[pairs.index_b]
    np.testing.assert_array_equal(same_identity, pairs.same)
    assert np.all(pairs.index_a != pairs.index_b)
    unordered = {(min(a, b), max(a, b)) for a, b in zip(pairs.index_a, pairs.index_b, strict=True)}
    assert len(unordered) == len(pairs), "a pair appears twice"
    # Folds are identity-disjoint.
    people_of_fold = [
        set(labels[pairs.index_a[pairs.fold == f]]) | set(labels[pairs.index_b[pairs.fold == f]])
        for f in range(num_folds)
    ]
    for f in range(num_folds):
        for g in range(f + 1, num_folds):
            assert not people_of_fold[f] & people_of_fold[g], (f, g)


def test_verification_pairs_are_lfw_like():
    labels = _labels(40, 5)
    pairs = protocols.verification_pairs(labels, num_folds=10, pairs_per_fold=6, seed=3)
    _check_pairs(pairs, labels, 10, 6)
    # Within a fold, matched pairs come first, as in LFW's pairs.txt.
    first = pairs.fold == 0
    assert pairs.same[first][:6].all() and not pairs.same[first][6:].any()


def test_verification_pairs_use_every_pair_when_asked_for_all():
    # 20 people x 3 examples, 10 folds: 2 people per fold, 3 + 3 matched and 9 mismatched
    # pairs available; asking for all 6 matched ones takes the enumeration path.
    labels = _labels(20, 3)
    pairs = protocols.verification_pairs(labels, num_folds=10, pairs_per_fold=6, seed=0)
    _check_pairs(pairs, labels, 10, 6)
    with pytest.raises(ValueError, match="only 6 distinct matched pairs, 7 asked"):
        protocols.verification_pairs(labels, num_folds=10, pairs_per_fold=7)


def test_verification_pairs_are_deterministic_and_seeded():
    labels = _labels(30, 4)
    a = protocols.verification_pairs(labels, num_folds=5, pairs_per_fold=8, seed=1)
    b = protocols.verification_pairs(labels, num_folds=5, pairs_per_fold=8, seed=1)
    c = protocols.verification_pairs(labels, num_folds=5, pairs_per_fold=8, seed=2)
    for name in ("index_a", "index_b", "same", "fold"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.index_a, c.index_a)


def test_unknown_identities_are_never_paired():
    labels = _labels(20, 3)
    labels[:7] = -1
    pairs = protocols.verification_pairs(labels, num_folds=4, pairs_per_fold=2, seed=0)
    assert np.all(labels[pairs.index_a] >= 0) and np.all(labels[pairs.index_b] >= 0)


def test_verification_pairs_refuse_too_few_people_and_bad_labels():
    with pytest.raises(ValueError, match="19 identities cannot give 10 identity-disjoint folds"):
        protocols.verification_pairs(_labels(19, 3), num_folds=10, pairs_per_fold=1)
    with pytest.raises(ValueError, match=r"labels must be \[N\] integers"):
        protocols.verification_pairs(np.zeros((4, 2), np.int64))
    with pytest.raises(ValueError, match="pairs_per_fold >= 1"):
        protocols.verification_pairs(_labels(20, 3), pairs_per_fold=0)


def test_records_round_trip_through_other_orders():
    labels = _labels(20, 3)
    keys = [f"person{label:02d}/{i:03d}" for i, label in enumerate(labels)]
    pairs = protocols.verification_pairs(labels, num_folds=10, pairs_per_fold=2, seed=0)
    records = pairs.to_records(keys)
    assert records[0][0] == 0 and isinstance(records[0][1], str) and records[0][3] is True
    # Another reading order (an array_record source) gives the same pairs of examples.
    order = np.random.default_rng(5).permutation(len(keys))
    shuffled = [keys[i].encode() for i in order]  # data sources return text as bytes
    back = protocols.VerificationPairs.from_records(records, shuffled)
    np.testing.assert_array_equal(order[back.index_a], pairs.index_a)
    np.testing.assert_array_equal(order[back.index_b], pairs.index_b)
    np.testing.assert_array_equal(back.same, pairs.same)
    np.testing.assert_array_equal(back.fold, pairs.fold)
    with pytest.raises(ValueError, match="not among the keys"):
        protocols.VerificationPairs.from_records(records, keys[1:])
    with pytest.raises(ValueError, match="appears twice"):
        protocols.VerificationPairs.from_records(records, keys + keys[:1])


def test_gallery_probe_split():
    labels = _labels(12, 4)
    labels = np.concatenate([labels, [12, -1]])  # a person with one image, and an unknown one
    split = protocols.gallery_probe_split(labels, gallery_per_identity=1, seed=0)
    assert not set(split.gallery) & set(split.probe)
    assert sorted(np.concatenate([split.gallery, split.probe])) == list(range(len(labels) - 1))
    np.testing.assert_array_equal(np.bincount(labels[split.gallery]), np.ones(13, int))
    assert 12 not in labels[split.probe]  # its only image is in the gallery
    again = protocols.gallery_probe_split(labels, gallery_per_identity=1, seed=0)
    other = protocols.gallery_probe_split(labels, gallery_per_identity=1, seed=1)
    np.testing.assert_array_equal(split.gallery, again.gallery)
    assert not np.array_equal(split.gallery, other.gallery)
    two = protocols.gallery_probe_split(labels, gallery_per_identity=2, seed=0)
    assert len(two.gallery) == 12 * 2 + 1
    keys = [f"k{i}" for i in range(len(labels))]
    back = protocols.GalleryProbe.from_records(split.to_records(keys), keys[::-1])
    np.testing.assert_array_equal(np.sort(len(keys) - 1 - back.gallery), split.gallery)


def test_gallery_probe_split_errors():
    with pytest.raises(ValueError, match="nothing to identify"):
        protocols.gallery_probe_split(np.arange(5))
    with pytest.raises(ValueError, match="gallery_per_identity must be >= 1"):
        protocols.gallery_probe_split(_labels(3, 3), gallery_per_identity=0)


def test_reduced_protocols_keep_two_folds_for_the_cross_validated_accuracy():
    from facejax import evaluation

    # 5 people x 3 photos: 2 folds (one per two people), pairs halved until each fold has them.
    labels = _labels(5, 3)
    keys = [f"img_{i}.png" for i in range(len(labels))]
    records = protocols.reduced_protocol_metadata(labels, keys, num_folds=10, pairs_per_fold=300)
    pairs = records["verification_pairs"]
    assert pairs["num_folds"] == 2 and pairs["pairs_per_fold"] < 300
    read = protocols.VerificationPairs.from_records(pairs["pairs"], keys)
    _check_pairs(read, labels, 2, pairs["pairs_per_fold"])
    # What the recipes compute on them runs: every fold has a threshold from the other.
    scores = np.random.default_rng(0).normal(size=len(read))
    metrics = evaluation.verification_metrics(scores, read.same, read.fold, include_roc=False)
    assert metrics["num_folds"] == 2 and np.isfinite(metrics["accuracy"])

    # 3 people would give one fold, whose accuracy has no other fold to pick its threshold.
    labels = _labels(3, 3)
    keys = [f"img_{i}.png" for i in range(len(labels))]
    with pytest.raises(ValueError, match=r"3 people, where verification needs 4 \(two"):
        protocols.reduced_protocol_metadata(labels, keys)
