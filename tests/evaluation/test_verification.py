"""Verification metrics against brute-force float64 loops and constructed cases."""

import math

import numpy as np
import pytest

from facejax import evaluation

ATOL_F64 = 1e-12
RANDOM_ACCURACY_TOL = 0.03  # 6000 random pairs: the 10-fold mean has a std of ~0.007


def _random_pairs(n=400, seed=0, decimals=1):
    """Scores rounded to ``decimals`` (many ties), genuine shifted up a little."""
    rng = np.random.default_rng(seed)
    same = rng.random(n) < 0.5
    scores = np.round(rng.normal(size=n) + 0.8 * same, decimals)
    return scores, same


def _auc_double_loop(scores, same):
    genuine, impostor = scores[same], scores[~same]
    total = 0.0
    for g in genuine:
        for i in impostor:
            total += 1.0 if g > i else 0.5 if g == i else 0.0
    return total / (len(genuine) * len(impostor))


def test_auc_is_mann_whitney_with_ties():
    for seed, decimals in ((0, 1), (1, 3), (2, 0)):
        scores, same = _random_pairs(seed=seed, decimals=decimals)
        assert math.isclose(
            evaluation.roc_auc(scores, same), _auc_double_loop(scores, same), abs_tol=ATOL_F64
        )
    # All scores tied: chance, exactly.
    assert evaluation.roc_auc(np.zeros(6), np.arange(6) % 2 == 0) == 0.5


def test_roc_curve_matches_counting_and_its_area_is_the_auc():
    scores, same = _random_pairs(seed=3)
    roc = evaluation.roc_curve(scores, same)
    assert roc["thresholds"][0] == np.inf
    assert (roc["far"][0], roc["tar"][0], roc["far"][-1], roc["tar"][-1]) == (0, 0, 1, 1)
    for far, tar, t in zip(roc["far"], roc["tar"], roc["thresholds"], strict=True):
        assert math.isclose(far, np.mean(scores[~same] >= t), abs_tol=ATOL_F64)
        assert math.isclose(tar, np.mean(scores[same] >= t), abs_tol=ATOL_F64)
    assert len(roc["thresholds"]) == len(np.unique(scores)) + 1
    area = np.sum(np.diff(roc["far"]) * (roc["tar"][1:] + roc["tar"][:-1]) / 2)
    assert math.isclose(area, evaluation.roc_auc(scores, same), abs_tol=ATOL_F64)


def test_eer_constructed_cases():
    # At threshold 0.7: 3 of 4 genuine accepted, 1 of 4 impostors: FAR = FRR = 0.25.
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.75, 0.4, 0.2, 0.1])
    same = np.array([True] * 4 + [False] * 4)
    eer, threshold = evaluation.equal_error_rate(scores, same)
    assert math.isclose(eer, 0.25, abs_tol=ATOL_F64) and threshold == 0.7
    # A genuine-impostor tie at 0.5 is the diagonal segment (0, 0.5) -> (0.5, 1) of the ROC,
    # which crosses FAR = 1 - TAR halfway: EER = 0.25.
    eer, threshold = evaluation.equal_error_rate([0.9, 0.5, 0.5, 0.1], [True, True, False, False])
    assert math.isclose(eer, 0.25, abs_tol=ATOL_F64) and threshold == 0.5
    # Separable: no error at all.
    assert evaluation.equal_error_rate([0.9, 0.8, 0.2, 0.1], [True, True, False, False])[0] == 0.0


def test_tar_at_far_constructed():
    impostor = np.arange(1000) / 1000.0  # 0.000 ... 0.999, distinct
    genuine = np.array([0.9995, 0.995, 0.9895, 0.5])
    scores = np.r_[genuine, impostor]
    same = np.r_[np.ones(4, bool), np.zeros(1000, bool)]
    # FAR 1e-2: 10 impostors may pass (0.990 ... 0.999); the 11th (0.989) may not, so the
    # lowest admissible threshold is the genuine 0.9895: 3 of 4 genuine accepted.
    tar, threshold, achieved = evaluation.tar_at_far(scores, same, 1e-2)
    assert (tar, threshold) == (0.75, 0.9895) and math.isclose(achieved, 0.01, abs_tol=ATOL_F64)
    # FAR 1e-3: one impostor (0.999) may pass, 0.998 may not: only 0.9995 is above.
    tar, threshold, achieved = evaluation.tar_at_far(scores, same, 1e-3)
    assert (tar, threshold) == (0.25, 0.999) and math.isclose(achieved, 0.001, abs_tol=ATOL_F64)
    # 500 impostors cannot resolve a FAR of 1e-3.
    assert all(math.isnan(v) for v in evaluation.tar_at_far(scores[:504], same[:504], 1e-3))


def test_tar_at_far_matches_brute_force_with_ties():
    scores, same = _random_pairs(n=3000, seed=4, decimals=2)
    for far in (0.3, 0.05, 1e-2, 1e-3):
        admissible = [
            t for t in np.r_[np.inf, np.unique(scores)] if np.mean(scores[~same] >= t) <= far
        ]
        t = min(admissible)
        tar, threshold, achieved = evaluation.tar_at_far(scores, same, far)
        assert threshold == t
        assert math.isclose(tar, np.mean(scores[same] >= t), abs_tol=ATOL_F64)
        assert achieved <= far


def _best_threshold_brute_force(scores, same):
    values = sorted(set(scores.tolist()))
    candidates = (
        [-np.inf] + [(a + b) / 2 for a, b in zip(values[:-1], values[1:], strict=True)] + [np.inf]
    )
    best = (-1.0, None)
    for c in candidates:  # ascending: the first maximum is the lowest threshold
        accuracy = np.mean((scores >= c) == same)
        if accuracy > best[0]:
            best = (accuracy, c)
    return best[1], best[0]


def test_best_threshold_matches_brute_force():
    for seed in range(3):
        scores, same = _random_pairs(n=200, seed=seed, decimals=1)
        threshold, accuracy = evaluation.best_threshold(scores, same)
        ref_threshold, ref_accuracy = _best_threshold_brute_force(scores, same)
        assert math.isclose(accuracy, ref_accuracy, abs_tol=ATOL_F64)
        assert math.isclose(threshold, ref_threshold, abs_tol=ATOL_F64)


def test_kfold_hand_case():
    # Fold 0: genuine 0.9, 0.6; impostor 0.7, 0.2. Fold 1: genuine 0.8, 0.4; impostor 0.5, 0.3.
    # On fold 1 alone, thresholds 0.35 and 0.65 both give 3/4; the lower one (0.35) is taken and
    # gets fold 0 3/4 right. On fold 0 alone, 0.4 and 0.8 tie; 0.4 gets fold 1 3/4 right.
    scores = np.array([0.9, 0.6, 0.7, 0.2, 0.8, 0.4, 0.5, 0.3])
    same = np.array([True, True, False, False] * 2)
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    got = evaluation.kfold_accuracy(scores, same, folds)
    np.testing.assert_allclose(got["threshold"], [0.35, 0.4], atol=1e-15, rtol=0)
    np.testing.assert_array_equal(got["accuracy"], [0.75, 0.75])


def test_kfold_separable_and_random():
    folds = np.arange(6000) % 10
    same = np.random.default_rng(5).random(6000) < 0.5
    # Separable, even with every score tied within its class.
    tied = np.where(same, 1.0, -1.0)
    result = evaluation.verification_metrics(tied, same, folds)
    assert result["accuracy"] == 1.0 and result["accuracy_std"] == 0.0
    assert result["auc"] == 1.0 and result["eer"] == 0.0
    # Scores unrelated to the labels: chance.
    noise = np.random.default_rng(6).normal(size=6000)
    result = evaluation.verification_metrics(noise, same, folds)
    assert abs(result["accuracy"] - 0.5) < RANDOM_ACCURACY_TOL
    assert abs(result["auc"] - 0.5) < RANDOM_ACCURACY_TOL
    assert abs(result["eer"] - 0.5) < RANDOM_ACCURACY_TOL


def test_verification_metrics_report():
    scores, same = _random_pairs(n=1200, seed=7, decimals=3)
    folds = np.arange(1200) % 10
    m = evaluation.verification_metrics(scores, same, folds)
    fold_accuracies = evaluation.kfold_accuracy(scores, same, folds)["accuracy"]
    assert m["num_pairs"] == 1200 and m["num_folds"] == 10
    assert m["num_genuine"] + m["num_impostor"] == 1200
    assert math.isclose(m["accuracy"], np.mean(fold_accuracies), abs_tol=ATOL_F64)
    assert math.isclose(m["accuracy_std"], np.std(fold_accuracies), abs_tol=ATOL_F64)
    assert math.isclose(
        m["accuracy_standard_error"],
        np.std(fold_accuracies, ddof=1) / np.sqrt(10),
        abs_tol=ATOL_F64,
    )
    assert m["tar_at_far_0.01"] == evaluation.tar_at_far(scores, same, 0.01)[0]
    # ~600 impostor pairs cannot resolve 1e-3: NaN, and a note says why.
    assert math.isnan(m["tar_at_far_0.001"])
    assert len(m["notes"]) == 1 and "tar_at_far_0.001" in m["notes"][0]
    assert set(m["roc"]) == {"far", "tar", "thresholds"}
    assert "roc" not in evaluation.verification_metrics(scores, same, folds, include_roc=False)


def test_bad_input_names_the_problem():
    scores, same = np.array([0.1, 0.2, 0.3, 0.4]), np.array([True, False, True, False])
    folds = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="NaN/inf"):
        evaluation.verification_metrics([0.1, np.nan, 0.3, 0.4], same, folds)
    with pytest.raises(ValueError, match="both genuine and impostor"):
        evaluation.roc_auc(scores, np.ones(4, bool))
    with pytest.raises(ValueError, match="same must have the shape"):
        evaluation.roc_curve(scores, same[:3])
    with pytest.raises(ValueError, match="same must be bool"):
        evaluation.roc_curve(scores, np.array([0.0, 1.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="no fold empty"):
        evaluation.kfold_accuracy(scores, same, np.array([0, 2, 0, 2]))
    with pytest.raises(ValueError, match="folds must be"):
        evaluation.kfold_accuracy(scores, same, folds[:3])
    with pytest.raises(ValueError, match=r"far must be in \(0, 1\]"):
        evaluation.tar_at_far(scores, same, 0.0)
