"""Learned shape metrics beside the mean face's, and recognition beside chance."""

import numpy as np
import pytest

import facejax
from facejax import evaluation
from facejax.evaluation import baselines

RTOL = 1e-5  # float32 RMSE of ~10 mm shapes, batched vs whole


def _faces(seed=0, n=7, v=30):
    rng = np.random.default_rng(seed)
    mean_face = rng.normal(0, 40, (v, 3)).astype(np.float32)
    target = mean_face + rng.normal(0, 3, (n, v, 3)).astype(np.float32)
    pred = target + rng.normal(0, 1, (n, v, 3)).astype(np.float32)
    return pred, target, mean_face


def test_values_are_mean_aligned_rmse_of_prediction_and_mean_face():
    pred, target, mean_face = _faces()
    face = np.zeros(pred.shape[1], bool)
    face[:12] = True
    regions = {"head": None, "face": face}
    # batch_size 3 over 7 faces: the padded last batch must not change the mean.
    got = baselines.shape_rmse_with_baseline(
        "identity", pred, target, mean_face, regions, batch_size=3
    )
    for region, weights in regions.items():
        learned = float(np.mean(evaluation.vertex_rmse(pred, target, weights=weights)))
        everyone = np.broadcast_to(mean_face, target.shape)
        base = float(np.mean(evaluation.vertex_rmse(everyone, target, weights=weights)))
        assert got[f"identity_rmse_{region}_mm"] == pytest.approx(learned, rel=RTOL)
        assert got[f"identity_rmse_{region}_mean_face_mm"] == pytest.approx(base, rel=RTOL)
        assert got[f"identity_rmse_{region}_ratio"] == pytest.approx(learned / base, rel=RTOL)
        assert got[f"identity_rmse_{region}_ratio"] < 1.0  # pred is closer than the mean face


def test_the_mean_face_itself_scores_ratio_one():
    _, target, mean_face = _faces(1)
    got = baselines.shape_rmse_with_baseline(
        "shape", np.broadcast_to(mean_face, target.shape), target, mean_face, {"head": None}
    )
    assert got["shape_rmse_head_ratio"] == pytest.approx(1.0)


def test_bad_shapes_are_named():
    pred, target, mean_face = _faces()
    with pytest.raises(ValueError, match="mean_face must be"):
        baselines.shape_rmse_with_baseline("x", pred, target, mean_face[:-1], {"head": None})
    with pytest.raises(ValueError, match=r"\[N, V, 3\]"):
        baselines.shape_rmse_with_baseline("x", pred[:-1], target, mean_face, {"head": None})


def test_regions_and_chance():
    model = facejax.load_model("synthetic:small")
    regions = baselines.shape_regions(model)
    assert regions["head"] is None
    assert regions["face"].dtype == bool and 0 < regions["face"].sum() < model.num_vertices
    chance = baselines.recognition_chance(20)
    assert chance == {
        "verification_accuracy_chance": 0.5,
        "verification_auc_chance": 0.5,
        "rank_1_chance": 0.05,
    }
    with pytest.raises(ValueError, match="gallery identity"):
        baselines.recognition_chance(0)
