"""The disentangle recipe end to end on the tiny synthetic faces: train, resume, evaluate."""

import json

import numpy as np
import pytest

from facejax.cli import main
from facejax.cli.train import load_config
from facejax.train import read_jsonl

CONFIG = "experiments/disentangle/config.py:smoke"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("datasets"))


def _config(data_dir, **overrides):
    sets = [f"data.data_dir={data_dir}", "progress=False", "tensorboard=False"]
    sets += ["optimizer.warmup_steps=2"]
    sets += [f"{k}={v}" for k, v in overrides.items()]
    return load_config(CONFIG, sets)


def test_train_resume_and_evaluate(tmp_path, data_dir, monkeypatch):
    from facejax.recipes import disentangle

    workdir = tmp_path / "run"
    # A run "killed" after 4 of 8 steps (its last checkpoint at step 4) ...
    first = disentangle.train_and_evaluate(
        _config(data_dir, num_steps=4, checkpoint_every=2, log_every=2), workdir
    )
    assert np.isfinite(first["shape_rmse_mm"])
    # ... is resumed by the same command with the full step count.
    metrics = disentangle.train_and_evaluate(
        _config(data_dir, num_steps=8, checkpoint_every=2, log_every=2), workdir
    )
    steps = [
        record["step"] for record in read_jsonl(workdir / "metrics.jsonl") if "train/loss" in record
    ]
    assert steps == [2, 4, 6, 8]  # the second run started at step 4, not 0
    saved = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert saved["num_test_identities"] == 20 and saved["num_test_images"] == 60
    for name in ("identity_shape_rmse_mm", "shape_rmse_mm", "landmark_nme", "rank_1"):
        assert np.isfinite(metrics[name]), name
    assert 0.0 <= metrics["verification_accuracy"] <= 1.0

    # facejax evaluate restores the latest checkpoint and reproduces the final metrics.
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--workdir", str(workdir)]) == 0
    again = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert again["shape_rmse_mm"] == pytest.approx(metrics["shape_rmse_mm"], rel=1e-5)


def test_joint_training_reduces_the_loss(tmp_path, data_dir):
    from facejax.recipes import disentangle

    workdir = tmp_path / "run"
    disentangle.train_and_evaluate(_config(data_dir, num_steps=30, log_every=10), workdir)
    losses = [r["train/loss"] for r in read_jsonl(workdir / "metrics.jsonl") if "train/loss" in r]
    assert losses[-1] < 0.7 * losses[0]


def test_config_overrides_are_checked():
    with pytest.raises(ValueError, match="no field 'loss.w_typo'"):
        load_config(CONFIG, ["loss.w_typo=1"])
    with pytest.raises(ValueError, match="unknown variant"):
        load_config("experiments/disentangle/config.py:huge")
    config = load_config(CONFIG, ["loss.w_shape=0", "model.entangled=True"])
    assert config.loss.w_shape == 0.0 and config.model.entangled is True
