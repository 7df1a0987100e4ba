"""Pair sources: same/different identity pairs across poses, frame pairs of clips, the identity
index and its cache."""

import math

import numpy as np
import pytest

from facejax.data.pipeline import (
    AugmentConfig,
    IdentityIndex,
    frame_pair_source,
    identity_index,
    make_loader,
    pair_source,
)

SIZE = 8


class CountingSource:
    """A list-backed source that counts reads (to see what the index and the pairs read)."""

    def __init__(self, examples):
        self.examples = examples
        self.reads = 0

    def __len__(self):
        return len(self.examples)

    def __getitem__(self, i):
        self.reads += 1
        return self.examples[i]


def _faces(identities, yaws=None):
    rng = np.random.default_rng(0)
    examples = []
    for i, identity in enumerate(identities):
        example = {
            "image": rng.integers(0, 256, size=(SIZE, SIZE, 3)).astype(np.uint8),
            "identity": np.int64(identity),
            "index": np.int64(i),
        }
        if yaws is not None:
            example["pose"] = np.array([0.1, yaws[i], 0.0], np.float32)
        examples.append(example)
    return CountingSource(examples)


def test_pairs_are_labelled_right_and_deterministic():
    identities = [0, 0, 0, 1, 1, 2, 3, 3, 3, 3, -1]
    source = _faces(identities)
    pairs = pair_source(source, seed=5, num_pairs=200)
    assert len(pairs) == 200
    same = []
    for i in range(len(pairs)):
        a, b, positive = pairs.partners(i)
        assert a != b and identities[a] >= 0 and identities[b] >= 0
        assert positive == (identities[a] == identities[b])
        same.append(positive)
    assert 0.35 < np.mean(same) < 0.65
    pair = pairs[7]
    a, b, positive = pairs.partners(7)
    assert pair["same"] == positive and pair["index_a"] == a and pair["index_b"] == b
    np.testing.assert_array_equal(pair["image_b"], source.examples[b]["image"])
    assert pair["identity_a"] == identities[a]
    again = pair_source(source, seed=5, num_pairs=200)
    assert [again.partners(i) for i in range(50)] == [pairs.partners(i) for i in range(50)]
    other = pair_source(source, seed=6, num_pairs=200)
    assert [other.partners(i) for i in range(50)] != [pairs.partners(i) for i in range(50)]
    only_negative = pair_source(source, seed=0, positive_fraction=0.0, num_pairs=50)
    assert not any(only_negative.partners(i)[2] for i in range(50))


def test_positive_partners_prefer_the_largest_yaw_difference():
    yaws = [0.0, 0.1, 0.9, -0.3, 0.2, 0.5, 0.0]
    source = _faces([0, 0, 0, 0, 0, 1, 1], yaws)
    index = identity_index(source)
    np.testing.assert_allclose(index.yaw, yaws)
    # With every other example of the person as a candidate the partner is the farthest in yaw.
    pairs = pair_source(
        source, index, seed=1, positive_fraction=1.0, pose_candidates=10, num_pairs=40
    )
    farthest = {0: 2, 1: 2, 2: 3, 3: 2, 4: 2, 5: 6, 6: 5}
    for i in range(40):
        a, b, _ = pairs.partners(i)
        assert b == farthest[a] or a == farthest[b]
    uniform = pair_source(
        source, index, seed=1, positive_fraction=1.0, pose_candidates=1, num_pairs=60
    )
    partners = {frozenset(uniform.partners(i)[:2]) for i in range(60)}
    assert frozenset((0, 1)) in partners  # not the farthest, still drawn


# Sampling tolerances, in standard errors of the sample mean: a correct sampler fails one in
# ~16,000 runs (and never for a fixed seed); a wrong share or partner rule is tens of errors off.
STANDARD_ERRORS = 4.0


def _expected_max_yaw_difference(yaws, members, k):
    """Exact mean |yaw difference| of positive pairs when, for a uniform anchor among
    ``members`` (lists of example indices per person), the partner is the farthest in yaw of
    ``k`` distinct others drawn uniformly: the j-th farthest of n others is the farthest of the
    draw with probability C(n - j, k - 1) / C(n, k)."""
    per_anchor = []
    for people in members:
        for anchor in people:
            d = np.sort([abs(yaws[o] - yaws[anchor]) for o in people if o != anchor])[::-1]
            n, draw = len(d), min(k, len(d))
            p = [math.comb(n - j, draw - 1) / math.comb(n, draw) for j in range(1, n + 1)]
            per_anchor.append(float(np.dot(p, d)))
    return float(np.mean(per_anchor))


def test_pair_statistics_match_the_positive_fraction_and_the_pose_candidates():
    rng = np.random.default_rng(3)
    people, per_person = 30, 6
    identities = np.repeat(np.arange(people), per_person)
    yaws = rng.uniform(-1.5, 1.5, size=len(identities))
    source = _faces(identities, yaws)
    index = identity_index(source)
    members = [list(np.flatnonzero(identities == p)) for p in range(people)]
    count = 4000
    for fraction in (0.2, 0.5, 0.9):
        pairs = pair_source(source, index, seed=7, positive_fraction=fraction, num_pairs=count)
        share = np.mean([pairs.partners(i)[2] for i in range(count)])
        standard_error = math.sqrt(fraction * (1 - fraction) / count)  # binomial
        assert abs(share - fraction) < STANDARD_ERRORS * standard_error, (fraction, share)

    def positive_yaw_differences(k):
        pairs = pair_source(
            source, index, seed=8, positive_fraction=1.0, pose_candidates=k, num_pairs=count
        )
        return np.array([abs(yaws[a] - yaws[b]) for a, b, _ in map(pairs.partners, range(count))])

    means = {}
    for k in (1, 4):
        differences = positive_yaw_differences(k)
        means[k] = differences.mean()
        expected = _expected_max_yaw_difference(yaws, members, k)
        standard_error = differences.std() / math.sqrt(count)
        assert abs(means[k] - expected) < STANDARD_ERRORS * standard_error, (k, means[k], expected)
    # Cross-pose positives: four candidates give partners much farther in yaw than one.
    assert means[4] > 1.3 * means[1], means


def test_identity_index_reads_the_source_once_and_caches(tmp_path):
    source = _faces([2, 0, 2, 1])
    path = tmp_path / "cache" / "identities.npz"
    index = identity_index(source, cache_path=path)
    assert source.reads == 4 + 1  # one probe for the features, then every example
    np.testing.assert_array_equal(index.examples_of(2), [0, 2])
    np.testing.assert_array_equal(index.labels, [0, 1, 2])
    assert index.yaw is None and len(index.examples_of(7)) == 0
    source.reads = 0
    cached = identity_index(source, cache_path=path)
    assert source.reads == 0
    np.testing.assert_array_equal(cached.identities, index.identities)
    longer = _faces([2, 0, 2, 1, 1])
    assert len(identity_index(longer, cache_path=path)) == 5  # stale cache rebuilt


def test_pair_sources_refuse_labels_that_cannot_give_pairs():
    with pytest.raises(ValueError, match="all labels are -1"):
        pair_source(_faces([-1, -1]), seed=0)
    with pytest.raises(ValueError, match="two or more people"):
        pair_source(_faces([0, 0, 0]), seed=0)
    with pytest.raises(ValueError, match="two or more examples"):
        pair_source(_faces([0, 1, 2]), seed=0)
    pair_source(_faces([0, 1, 2]), seed=0, positive_fraction=0.0)
    with pytest.raises(ValueError, match="has 3 examples"):
        pair_source(_faces([0, 1]), IdentityIndex(np.array([0, 1, 1])), seed=0)
    with pytest.raises(ValueError, match="no 'identity'"):
        identity_index([{"image": np.zeros(2)}])


def test_pairs_compose_with_the_loader_and_its_augmentation():
    source = _faces([0, 0, 1, 1, 2, 2, 3, 3])
    pairs = pair_source(source, seed=2, num_pairs=16)
    with make_loader(
        pairs, batch_size=4, seed=0, shard_index=0, shard_count=1, augment=AugmentConfig()
    ) as loader:
        batch = next(loader)
    assert batch["image_a"].shape == (4, SIZE, SIZE, 3) and batch["flipped_b"].shape == (4,)
    np.testing.assert_array_equal(batch["same"], batch["identity_a"] == batch["identity_b"])


def _clips(lengths):
    rng = np.random.default_rng(1)
    clips = []
    for c, length in enumerate(lengths):
        clips.append(
            {
                "frames": rng.integers(0, 256, size=(length, SIZE, SIZE, 3)).astype(np.uint8),
                "landmarks": rng.uniform(0, SIZE, size=(length, 68, 2)).astype(np.float32),
                "has_landmarks": np.ones(length, bool),
                "crop_transforms": np.tile(np.eye(2, 3, dtype=np.float32), (length, 1, 1)),
                "frame_indices": np.arange(length, dtype=np.int64) * 10,
                "frame_paths": [f"clip{c}/{t}.jpg".encode() for t in range(length)],
                "pose": rng.normal(size=(length, 3)).astype(np.float32),
                "identity": np.int64(c),
                "clip_name": f"clip{c}".encode(),
            }
        )
    return clips


def test_frame_pairs_take_two_frames_of_one_clip_within_the_gap():
    clips = _clips([6, 9, 1])
    pairs = frame_pair_source(clips, max_gap=3, seed=4, num_pairs=60, per_frame=("pose",))
    gaps = []
    for i in range(len(pairs)):
        pair = pairs[i]
        clip = clips[i % 3]
        t_a, t_b = pairs.frames(i, len(clip["frames"]))
        np.testing.assert_array_equal(pair["image_a"], clip["frames"][t_a])
        np.testing.assert_array_equal(pair["landmarks_b"], clip["landmarks"][t_b])
        np.testing.assert_array_equal(pair["pose_b"], clip["pose"][t_b])
        assert (
            pair["frame_index_a"] == 10 * t_a and pair["frame_path_b"] == clip["frame_paths"][t_b]
        )
        assert pair["frame_gap"] == t_b - t_a and pair["identity"] == i % 3
        assert (pair["position_a"], pair["position_b"]) == (t_a, t_b)
        assert pair["crop_transform_a"].shape == (2, 3)
        if i % 3 == 2:
            assert pair["frame_gap"] == 0  # a one-frame clip gives its frame twice
        else:
            assert 1 <= abs(t_b - t_a) <= 3
            gaps.append(t_b - t_a)
    assert set(gaps) == {-3, -2, -1, 1, 2, 3}
    with make_loader(
        frame_pair_source(clips[:2], max_gap=2, seed=0, num_pairs=8, per_frame=("pose",)),
        batch_size=4,
        seed=0,
        shard_index=0,
        shard_count=1,
        augment=AugmentConfig(share_across_views=True),
    ) as loader:
        batch = next(loader)
    assert batch["image_b"].shape == (4, SIZE, SIZE, 3)
    np.testing.assert_array_equal(batch["flipped_a"], batch["flipped_b"])
    with pytest.raises(ValueError, match="min_gap <= max_gap"):
        frame_pair_source(clips, max_gap=0, seed=0)
