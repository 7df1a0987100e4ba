"""YouTube Faces video-level verification on constructed features with known scores."""

import math

import numpy as np
import pytest

from facejax.evaluation.video_verification import video_features, ytf_verification

ATOL_F64 = 1e-12


def _unit(angle):
    return np.array([math.cos(angle), math.sin(angle), 0.0])


def test_video_feature_is_the_normalised_mean_of_its_frames():
    frames = {"A/1": np.array([[3.0, 1.0, 0.0], [1.0, -1.0, 0.0]]), "B/2": np.zeros((2, 3))}
    got = video_features(frames)
    np.testing.assert_allclose(got["A/1"], [1.0, 0.0, 0.0], atol=ATOL_F64)
    np.testing.assert_array_equal(got["B/2"], np.zeros(3))
    with pytest.raises(ValueError, match="F >= 1"):
        video_features({"A/1": np.zeros((0, 3))})


def test_a_known_threshold_gives_the_known_accuracy_and_missing_videos_are_named():
    # 10 folds of 2 genuine pairs (cosine 0.8) and 2 impostor pairs (cosine 0.2); in fold 3 one
    # impostor scores 0.95. Every training set then picks the threshold 0.5 (one error at
    # best), which gets fold 3 three pairs of four right and every other fold all four.
    frames, pairs = {}, []
    for fold in range(10):
        for j, cosine in enumerate([0.8, 0.8, 0.2, 0.95 if fold == 3 else 0.2]):
            a, b = f"P{fold}_{j}/a", f"P{fold}_{j}/b"
            # Two frames each, whose mean points along the video's direction.
            frames[a] = np.stack([2 * _unit(0.0) + [0, 0, 1], 2 * _unit(0.0) - [0, 0, 1]])
            frames[b] = np.stack([_unit(math.acos(cosine))] * 2)
            pairs.append((fold, a, b, j < 2))
    pairs.append((0, "P0_0/a", "Nobody/0", True))
    metrics = ytf_verification(video_features(frames), pairs, far_targets=(0.1, 1e-3))
    assert metrics["num_pairs"] == 40 and metrics["num_pairs_excluded"] == 1
    assert metrics["num_pairs_listed"] == 41
    assert metrics["excluded_pairs"] == ["fold 0: P0_0/a / Nobody/0: no feature for Nobody/0"]
    np.testing.assert_allclose(metrics["fold_thresholds"], 0.5, atol=ATOL_F64)
    expected = np.ones(10)
    expected[3] = 0.75
    np.testing.assert_allclose(metrics["fold_accuracies"], expected, atol=ATOL_F64)
    assert math.isclose(metrics["accuracy"], 0.975, abs_tol=ATOL_F64)
    # 20 impostors: FAR 0.1 allows 2 false accepts (0.95 and the 0.2 tie group is rejected),
    # so all genuine pairs (0.8) are accepted; FAR 1e-3 cannot be resolved: NaN and a note.
    assert metrics["tar_at_far_0.1"] == 1.0
    assert math.isnan(metrics["tar_at_far_0.001"])
    assert any("tar_at_far_0.001" in note for note in metrics["notes"])
    assert metrics["protocol"].startswith("YouTube Faces")
