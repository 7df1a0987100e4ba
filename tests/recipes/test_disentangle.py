"""The disentangle recipe end to end on the tiny synthetic faces: train, resume, evaluate."""

import json

import numpy as np
import pytest

from facejax.cli import main
from facejax.cli.train import load_config
from facejax.formats import read_obj
from facejax.recipes.trained_run import held_out_predictions, load_run_config
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


def test_train_resume_evaluate_and_reconstruct(tmp_path, data_dir, monkeypatch, capsys):
    from facejax.recipes import disentangle

    workdir = tmp_path / "run"
    # A run "killed" after 4 of 8 steps (its last checkpoint at step 4) ...
    first = disentangle.train_and_evaluate(
        _config(data_dir, num_steps=4, checkpoint_every=2, log_every=2), workdir
    )
    assert np.isfinite(first["shape_rmse_head_mm"])
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
    for name in ("identity_rmse_face_mm", "shape_rmse_head_mm", "landmark_nme", "rank_1"):
        assert np.isfinite(metrics[name]), name
    # Every shape metric stands beside the mean face's score on the same images, with the ratio.
    for prefix in ("identity_rmse", "shape_rmse"):
        for region in ("head", "face"):
            learned = metrics[f"{prefix}_{region}_mm"]
            baseline = metrics[f"{prefix}_{region}_mean_face_mm"]
            assert baseline > 0
            assert metrics[f"{prefix}_{region}_ratio"] == pytest.approx(learned / baseline)
    assert metrics["verification_auc_chance"] == 0.5
    assert metrics["rank_1_chance"] == pytest.approx(1 / 20)
    # 30 impostor pairs cannot resolve a FAR of 1e-2: the TAR is null and the note says why.
    assert saved["verification_tar_at_far_1e-2"] is None
    assert any("impostor pairs cannot resolve" in n for n in saved["verification_notes"])
    assert 0.0 <= metrics["verification_accuracy"] <= 1.0

    # facejax evaluate restores the latest checkpoint and reproduces the final metrics.
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", "--workdir", str(workdir)]) == 0
    again = json.loads((workdir / "metrics.json").read_text())["metrics"]
    assert again["shape_rmse_head_mm"] == pytest.approx(metrics["shape_rmse_head_mm"], rel=1e-5)

    # The run read back for diagnostics: its predictions on every held-out image.
    run = held_out_predictions(workdir, ("identity_coeffs",), batch_size=16)
    assert run.data["image"].shape[0] == run.data["identity_coeffs"].shape[0] == 60
    assert run.predictions["embedding"].shape == run.data["identity_coeffs"].shape
    assert run.mean_identity_coeffs.shape == run.data["identity_coeffs"].shape[1:]
    assert np.isfinite(run.predictions["identity_shape"]).all()
    with pytest.raises(FileNotFoundError, match="not a facejax training run"):
        load_run_config(tmp_path)

    # facejax reconstruct runs the checkpoint on photos; an unreadable one is skipped by name.
    photo = tmp_path / "photo.png"
    assert main(["render", "synthetic:small", "--out", str(photo), "--size", "48"]) == 0
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "other").mkdir()
    namesake = tmp_path / "other" / "photo.png"  # same file name, another folder
    namesake.write_bytes(photo.read_bytes())
    out = tmp_path / "recon"
    argv = ["reconstruct", "--workdir", str(workdir), str(photo), str(tmp_path / "broken.jpg"),
            str(namesake), "--out", str(out), "--batch-size", "2"]  # fmt: skip
    assert main(argv) == 1  # one photo failed
    assert "broken.jpg" in capsys.readouterr().err
    record = json.loads((out / "photo.json").read_text())
    assert np.asarray(record["landmarks_2d"]).shape == (68, 2)
    assert np.asarray(record["landmarks_3d"]).shape == (68, 3)
    assert set(record["pose_degrees"]) == {"pitch", "yaw", "roll"}
    vertices, triangles, _ = read_obj(out / "photo.obj")
    assert vertices.shape[1] == 3 and len(triangles) > 0
    assert np.load(out / "photo_embedding.npy").ndim == 1
    assert (out / "photo_overlay.png").exists() and (out / "photo_identity.obj").exists()
    assert not list(out.glob("broken*"))
    # The namesake got its own files instead of overwriting the first photo's.
    assert (out / "photo_2.json").exists() and (out / "photo_2.obj").exists()


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
