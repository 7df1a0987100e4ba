"""metrics.json round trip (strict JSON, NaN as null) and markdown tables of mean ± std."""

import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from facejax import evaluation


def test_write_and_read_metrics(tmp_path):
    pose = evaluation.PoseError(*(jnp.array([1.0, 2.0]),) * 4)
    metrics = {
        "verification": {"accuracy": np.float32(0.75), "tar_at_far_0.001": float("nan")},
        "fold_thresholds": np.array([0.5, np.inf, -np.inf]),
        "rmse": jnp.array(1.5),
        "pose": pose,
        "counts": {"num_pairs": np.int64(6000), "ok": np.bool_(True)},
        "notes": ["a note"],
    }
    written = evaluation.write_metrics(tmp_path / "eval", metrics, metadata={"protocol": "LFW"})
    assert written == tmp_path / "eval" / "metrics.json"
    text = written.read_text()
    assert "NaN" not in text and "Infinity" not in text
    document = json.loads(text)  # strict JSON
    assert document["metadata"]["protocol"] == "LFW"
    assert "facejax_version" in document["metadata"]
    assert document["metrics"]["verification"]["tar_at_far_0.001"] is None
    assert document["metrics"]["fold_thresholds"] == [0.5, None, None]
    assert document["metrics"]["pose"]["yaw"] == [1.0, 2.0]
    assert document["metrics"]["counts"] == {"num_pairs": 6000, "ok": True}

    back = evaluation.read_metrics(tmp_path / "eval")
    assert back["metrics"]["verification"]["accuracy"] == 0.75
    assert math.isnan(back["metrics"]["verification"]["tar_at_far_0.001"])
    assert back["metrics"]["rmse"] == 1.5
    # A .json path is written as named.
    assert evaluation.write_metrics(tmp_path / "x.json", {"a": 1}) == tmp_path / "x.json"


def test_unwritable_value_is_named(tmp_path):
    with pytest.raises(TypeError, match="cannot write a object"):
        evaluation.write_metrics(tmp_path, {"a": object()})
    assert not (tmp_path / "metrics.json").exists()


def test_format_table_mean_std_over_seeds():
    rows = [
        {"variant": "joint", "seed": 0, "verification": {"auc": 0.90}, "rmse": 2.0},
        {"variant": "joint", "seed": 1, "verification": {"auc": 0.92}, "rmse": 2.2},
        {"variant": "joint", "seed": 2, "verification": {"auc": 0.94}, "rmse": float("nan")},
        {"variant": "recon|only", "seed": 0, "verification": {"auc": 0.6}, "rmse": 1.5},
    ]
    table = evaluation.format_table(
        rows, [("verification.auc", "AUC"), ("rmse", "RMSE (mm)")], digits={"rmse": 2}
    )
    # std over seeds with ddof=1: AUC 0.02; RMSE over the two finite runs: 0.1414...
    assert table.split("\n") == [
        "| variant | runs | AUC | RMSE (mm) |",
        "| --- | ---: | ---: | ---: |",
        "| joint | 3 | 0.920 ± 0.020 | 2.10 ± 0.14 (n=2) |",
        "| recon\\|only | 1 | 0.600 | 1.50 |",
    ]
    ungrouped = evaluation.format_table(rows[:2], ["rmse"], group_by=None, count_header=None)
    assert ungrouped.split("\n")[2:] == ["| 2.000 |", "| 2.200 |"]
    missing = evaluation.format_table(rows[:1], ["nothing"])
    assert missing.split("\n")[2] == "| joint | 1 | n/a |"


def test_ablation_runs_train_only_what_is_missing(tmp_path):
    trained = []

    def train(overrides, run_dir):
        trained.append((list(overrides), run_dir))
        seed = int(overrides[-1].split("=")[1])
        value = float("nan") if seed == 1 else 1.0 + seed + len(overrides)
        evaluation.write_metrics(run_dir, {"auc": value})

    variants = {"joint, full": ["loss.w=1"], "no loss": []}
    rows = evaluation.ablation_runs(tmp_path, variants, [0, 1], train)
    assert [(r["variant"], r["seed"]) for r in rows] == [
        ("joint, full", 0), ("joint, full", 1), ("no loss", 0), ("no loss", 1),
    ]  # fmt: skip
    assert trained[0] == (["loss.w=1", "seed=0"], tmp_path / "joint_full" / "0")
    assert rows[0]["auc"] == 3.0 and math.isnan(rows[1]["auc"])  # null read back as NaN
    again = evaluation.ablation_runs(tmp_path, variants, [0, 1, 2], train)
    assert len(trained) == 4 + 2 and len(again) == 6  # only the new seed was trained
