"""Checkpoints: keep the last k and the best k; a killed, resumed run equals the uninterrupted."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from facejax.data.pipeline import make_loader
from facejax.train import (
    create_train_state,
    make_checkpoint_manager,
    make_metric_writers,
    read_jsonl,
    read_tfevents_scalars,
    restore_checkpoint,
    restore_variables,
    run_training,
    save_checkpoint,
)

GLOBAL_BATCH = 16
KILL_BEFORE_BATCH = 5  # the data iterator dies when asked for batch 5 (0-based)


def _small_state():
    params = {"dense": {"kernel": jnp.ones((3, 4)), "bias": jnp.zeros(4)}}
    return create_train_state({"params": params}, optax.adamw(1e-3), ema=True)


@pytest.mark.parametrize("best_mode", ["min", "max"])
def test_keeps_the_last_k_and_the_best_k(tmp_path, best_mode):
    manager = make_checkpoint_manager(
        tmp_path, keep=2, keep_best=2, best_metric="eval/loss", best_mode=best_mode, async_save=True
    )
    # Steps without the metric take part only in "last k".
    values = {1: 5.0, 2: 1.0, 3: None, 4: 3.0, 5: 0.5, 6: None, 7: 4.0, 8: None, 9: 6.0, 10: None}
    state = _small_state()
    for step, value in values.items():
        metrics = {"train/loss": 9.0} if value is None else {"eval/loss": value}
        save_checkpoint(
            manager,
            step,
            state.replace(step=jnp.int32(step)),
            metrics=metrics,
            best_metric="eval/loss",
        )
    manager.wait_until_finished()
    ranked = sorted((v, s) for s, v in values.items() if v is not None)
    best = {s for _, s in (ranked[:2] if best_mode == "min" else ranked[-2:])}
    expected = sorted(best | {9, 10})
    assert manager.all_steps() == expected
    assert sorted(int(p) for p in os.listdir(tmp_path) if p.isdigit()) == expected
    restored = restore_checkpoint(manager, state)
    assert restored.step == 10 and int(restored.state.step) == 10
    manager.close()


def test_state_data_state_and_config_round_trip(tmp_path):
    state = _small_state()
    state = state.replace(step=jnp.int32(7), params=jax.tree.map(lambda p: p + 1.5, state.params))
    manager = make_checkpoint_manager(tmp_path, keep=1, async_save=False)
    assert save_checkpoint(
        manager, 7, state, data_state={"next_batch": 7}, config={"seed": 3, "lr": 0.1}
    )
    assert not save_checkpoint(manager, 7, state)  # an existing step is not written twice
    assert os.listdir(tmp_path / "7" / "data_iter").count("process_0-of-1.json") == 1
    restored = restore_checkpoint(manager, _small_state())
    assert restored.data_state == {"next_batch": 7}
    assert restored.config == {"seed": 3, "lr": 0.1}
    for a, b in zip(jax.tree.leaves(restored.state), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.dtype == b.dtype
    # A checkpoint written by another number of processes is refused, the file named.
    os.rename(
        tmp_path / "7" / "data_iter" / "process_0-of-1.json",
        tmp_path / "7" / "data_iter" / "process_0-of-2.json",
    )
    with pytest.raises(FileNotFoundError, match="process_0-of-1.json"):
        restore_checkpoint(manager, _small_state())
    with pytest.raises(FileNotFoundError, match="no checkpoint of step 3"):
        restore_checkpoint(manager, _small_state(), step=3)
    manager.close()
    empty = make_checkpoint_manager(tmp_path / "empty")
    assert restore_checkpoint(empty, _small_state()) is None
    empty.close()


def test_bad_keep_settings_are_errors(tmp_path):
    with pytest.raises(ValueError, match="keep_best > 0 needs best_metric"):
        make_checkpoint_manager(tmp_path, keep_best=1)
    with pytest.raises(ValueError, match="best_mode"):
        make_checkpoint_manager(tmp_path, keep_best=1, best_metric="x", best_mode="lowest")
    with pytest.raises(ValueError, match="keep >= 1"):
        make_checkpoint_manager(tmp_path, keep=0)


class _Killed(Exception):
    pass


class _Recording:
    """A Loader that records the batches it hands out, and can die like a killed process."""

    def __init__(self, loader, seen, kill_before=None):
        self.loader, self.seen, self.kill_before = loader, seen, kill_before

    def __iter__(self):
        return self

    def __next__(self):
        if self.kill_before is not None and self.loader.batch_index == self.kill_before:
            raise _Killed()
        batch = next(self.loader)
        self.seen.append(batch["index"].tolist())
        return batch

    def get_state(self):
        return self.loader.get_state()

    def set_state(self, state):
        self.loader.set_state(state)

    def close(self):
        self.loader.close()


def _run(toy, workdir, seen, *, kill_before=None, **overrides):
    config = toy.make_config(
        num_steps=8,
        log_every=2,
        checkpoint_every=3,
        **{"checkpoint.async_save": True, "optimizer.ema_decay": 0.8},
        **overrides,
    )
    init_fn, loss_fn = toy.make_fns(config)
    source = toy.make_source()

    def train_data():
        loader = make_loader(source, batch_size=GLOBAL_BATCH, seed=0)
        return _Recording(loader, seen, kill_before)

    return run_training(config, workdir, init_fn=init_fn, loss_fn=loss_fn, train_data=train_data)


def test_resumed_run_reproduces_the_uninterrupted_one(toy, tmp_path):
    full_seen, killed_seen, resumed_seen = [], [], []
    full = _run(toy, tmp_path / "full", full_seen, tensorboard=True)
    with pytest.raises(_Killed):
        _run(toy, tmp_path / "killed", killed_seen, kill_before=KILL_BEFORE_BATCH)
    # Steps 1-4 ran (the prefetcher asks for batch s before step s); the last save was step 3.
    assert sorted(os.listdir(tmp_path / "killed" / "checkpoints")) == ["3"]
    assert [r["step"] for r in read_jsonl(tmp_path / "killed" / "metrics.jsonl")] == [2, 4]
    resumed = _run(toy, tmp_path / "killed", resumed_seen)

    assert full.ema_params is not None
    for a, b in zip(jax.tree.leaves(full), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(resumed.step) == 8
    # A finished run, started again, does nothing and returns the final state.
    again_seen = []
    again = _run(toy, tmp_path / "killed", again_seen)
    assert int(again.step) == 8 and again_seen == []
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # The same batches in the same order: the killed run's first 3, then the resumed run's.
    assert killed_seen[:3] == full_seen[:3]
    assert resumed_seen[:5] == full_seen[3:8]
    # Metrics: step 4 of the killed run was dropped on resume, then logged again, once.
    full_log = read_jsonl(tmp_path / "full" / "metrics.jsonl")
    resumed_log = read_jsonl(tmp_path / "killed" / "metrics.jsonl")
    assert [r["step"] for r in resumed_log] == [2, 4, 6, 8]
    train_keys = [k for k in full_log[-1] if k.startswith("train/")]
    assert {"train/loss", "train/accuracy", "train/grad_norm", "train/learning_rate"} <= set(
        train_keys
    )
    for a, b in zip(full_log, resumed_log, strict=True):
        assert a["step"] == b["step"]
        # Step 4's window is steps 3-4 uninterrupted but only step 4 after the resume at 3.
        same_window = a["step"] != 4
        keys = train_keys if same_window else ["train/learning_rate"]
        assert all(a[k] == b[k] for k in keys), a["step"]
    assert "perf/steps_per_second" in full_log[-1]
    # The last k (3) checkpoints survive; the resolved config is beside them.
    assert sorted(int(s) for s in os.listdir(tmp_path / "full" / "checkpoints")) == [3, 6, 8]
    with open(tmp_path / "full" / "config.json") as f:
        assert json.load(f)["num_steps"] == 8
    # TensorBoard event file: the same scalars as metrics.jsonl.
    (events,) = os.listdir(tmp_path / "full" / "tensorboard")
    scalars = read_tfevents_scalars(tmp_path / "full" / "tensorboard" / events)
    from_events = {(s, tag): v for s, tag, v in scalars}
    for record in full_log:
        for key, value in record.items():
            if key != "step":
                assert from_events[(record["step"], key)] == pytest.approx(value, rel=1e-6)


def test_restore_variables_gives_the_runs_ema_variables_and_step(toy, tmp_path):
    config = toy.make_config(num_steps=3, checkpoint_every=3, **{"optimizer.ema_decay": 0.8})
    init_fn, loss_fn = toy.make_fns(config)
    final = run_training(
        config,
        tmp_path,
        init_fn=init_fn,
        loss_fn=loss_fn,
        train_data=lambda: make_loader(toy.make_source(), batch_size=GLOBAL_BATCH, seed=0),
    )
    variables, step = restore_variables(config, tmp_path, init_fn)
    assert step == 3 and set(variables) == {"params", "batch_stats"}
    for part, want in (("params", final.ema_params), ("batch_stats", final.batch_stats)):
        for a, b in zip(jax.tree.leaves(variables[part]), jax.tree.leaves(want), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    raw, _ = restore_variables(config, tmp_path, init_fn, use_ema=False)
    for a, b in zip(jax.tree.leaves(raw["params"]), jax.tree.leaves(final.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(FileNotFoundError, match="no checkpoint to restore"):
        restore_variables(config, tmp_path / "empty", init_fn)


def test_tensorboard_leaves_out_what_the_json_lines_write_as_null(tmp_path):
    # An evaluation metric with no data (an empty yaw bin) is NaN: null in metrics.jsonl, and
    # no point in TensorBoard (tensorboardX would warn about it on every evaluation).
    writers = make_metric_writers(tmp_path)
    writers.write_scalars(1, {"eval/nme": 0.5, "eval/nme_yaw_60_90": float("nan")})
    writers.write_scalars(2, {"eval/nme": float("inf")})
    writers.close()
    assert read_jsonl(tmp_path / "metrics.jsonl") == [
        {"step": 1, "eval/nme": 0.5, "eval/nme_yaw_60_90": None},
        {"step": 2, "eval/nme": None},
    ]
    (events,) = os.listdir(tmp_path / "tensorboard")
    assert read_tfevents_scalars(tmp_path / "tensorboard" / events) == [(1, "eval/nme", 0.5)]
