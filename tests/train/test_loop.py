"""The loop's guards and settings: NaN names its step, config typos fail, evaluation and best."""

import json
import os

import numpy as np
import pytest

from facejax.data.pipeline import make_loader
from facejax.train import (
    check_finite,
    default_config,
    eval_variables,
    read_jsonl,
    run_training,
    validate_config,
)

BATCH = 16
NAN_FROM_BATCH = 2  # batches 0 and 1 are clean; the examples of batch 2 on hold NaN


def test_nan_loss_names_the_step(toy, tmp_path):
    source = toy.make_source()
    for example in source[NAN_FROM_BATCH * BATCH :]:
        example["x"] = np.full_like(example["x"], np.nan)
    # The checkpoint at step 3 comes before the log at step 4: it must not save NaNs.
    config = toy.make_config(num_steps=6, log_every=2, checkpoint_every=3)
    init_fn, loss_fn = toy.make_fns(config)
    with pytest.raises(FloatingPointError, match=r"diverged at step 3: train/loss"):
        run_training(
            config,
            tmp_path,
            init_fn=init_fn,
            loss_fn=loss_fn,
            train_data=lambda: make_loader(source, batch_size=BATCH, seed=0, shuffle=False),
        )
    # Steps 1-2 were logged; no checkpoint holds the diverged state.
    assert [r["step"] for r in read_jsonl(tmp_path / "metrics.jsonl")] == [2]
    assert os.listdir(tmp_path / "checkpoints") == []


def test_check_finite_lists_the_values():
    check_finite(5, {"loss": 1.0, "grad_norm": 2.0, "other": float("nan")})  # not checked
    with pytest.raises(FloatingPointError, match=r"step 7: grad_norm not finite \(grad_norm=inf"):
        check_finite(7, {"loss": 1.0, "grad_norm": float("inf")})


def test_evaluation_logs_and_keeps_the_best(toy, tmp_path):
    config = toy.make_config(
        num_steps=6,
        log_every=3,
        eval_every=2,
        checkpoint_every=0,
        **{
            "optimizer.ema_decay": 0.5,
            "checkpoint.keep": 1,
            "checkpoint.keep_best": 1,
            "checkpoint.best_metric": "eval/score",
            "checkpoint.best_mode": "max",
        },
    )
    init_fn, loss_fn = toy.make_fns(config)
    scores = {2: 0.3, 4: 0.9, 6: 0.1}
    calls = []

    def eval_fn(state, step):
        variables = eval_variables(state)
        assert variables["params"] is state.ema_params
        calls.append(step)
        return {"score": scores[step]}

    run_training(
        config,
        tmp_path,
        init_fn=init_fn,
        loss_fn=loss_fn,
        train_data=lambda: make_loader(toy.make_source(), batch_size=BATCH, seed=0),
        eval_fn=eval_fn,
    )
    assert calls == [2, 4, 6]
    log = {r["step"]: r for r in read_jsonl(tmp_path / "metrics.jsonl")}
    assert sorted(log) == [2, 3, 4, 6]
    assert log[4]["eval/score"] == 0.9 and "train/loss" not in log[4]
    assert {"train/loss", "eval/score", "perf/steps_per_second"} <= set(log[6])
    assert "perf/first_step_seconds" in log[3]  # with the first training log
    # The best (step 4, score 0.9) and the last (step 6) are kept; step 2 is gone.
    assert sorted(int(s) for s in os.listdir(tmp_path / "checkpoints")) == [4, 6]
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["checkpoint"]["best_metric"] == "eval/score"


def test_running_out_of_data_is_an_error(toy, tmp_path):
    config = toy.make_config(num_steps=10)
    init_fn, loss_fn = toy.make_fns(config)
    with pytest.raises(RuntimeError, match="ran out at step 6 of 10"):
        run_training(
            config,
            tmp_path,
            init_fn=init_fn,
            loss_fn=loss_fn,
            train_data=lambda: make_loader(
                toy.make_source(), batch_size=BATCH, seed=0, num_epochs=1
            ),
        )


def test_config_typos_and_bad_values_fail():
    config = default_config()
    with pytest.raises(AttributeError):
        config.optimizer.learning_rat = 0.1
    with pytest.raises(AttributeError):
        config.num_step = 3
    with pytest.raises(AttributeError):
        config.optimizer.learning_rat  # noqa: B018
    validate_config(config)
    for field, value, message in [
        ("parallelism", "shard_map", "parallelism must be"),
        ("precision", "float16", "precision must be"),
        ("log_every", 0, "log_every must be >= 1"),
        ("num_steps", 0, "num_steps must be >= 1"),
    ]:
        bad = default_config()
        bad[field] = value
        with pytest.raises(ValueError, match=message):
            validate_config(bad)
    bad = default_config()
    bad.checkpoint.keep_best = 2
    with pytest.raises(ValueError, match="best_metric"):
        validate_config(bad)
    bad = default_config()
    bad.optimizer.name = "lamb"
    with pytest.raises(ValueError, match="optimizer.name must be one of"):
        validate_config(bad)
