"""A run started again keeps its results; a damaged checkpoint is skipped, named, or refused.

One tiny toy run (tests/train/toy.py: checkpoints at steps 3 and 6) is damaged the way a full
disk or a bad copy does it: the largest array-data file of a step's state cut to half. The
damage is reported once: no stray "Exception ignored" message from Orbax's abandoned reads
(they would fail these tests as unraisable-exception warnings).
"""

import logging
import os
import shutil
import sys
import types

import pytest

from facejax.data.pipeline import make_loader
from facejax.train import DamagedCheckpointError, restore_variables, run_training

GLOBAL_BATCH = 16

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")


def _train(toy, workdir, eval_calls=None):
    config = toy.make_config(num_steps=6, checkpoint_every=3)
    init_fn, loss_fn = toy.make_fns(config)

    def eval_fn(state, step):
        eval_calls.append((step, int(state.step)))
        return {"score": float(step)}

    run_training(
        config,
        workdir,
        init_fn=init_fn,
        loss_fn=loss_fn,
        train_data=lambda: make_loader(toy.make_source(), batch_size=GLOBAL_BATCH, seed=0),
        eval_fn=None if eval_calls is None else eval_fn,
    )
    return config, init_fn


def _truncate_state_data(workdir, step):
    """Cuts the largest array-data file of ``step``'s state to half its size."""
    # The arrays, once Orbax merged the processes' OCDBT trees, are in state/d/.
    data = workdir / "checkpoints" / str(step) / "state" / "d"
    largest = max(data.iterdir(), key=os.path.getsize)
    with open(largest, "r+b") as f:
        f.truncate(os.path.getsize(largest) // 2)
    return largest


@pytest.fixture(scope="module")
def finished_run(toy, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("finished")
    calls = []
    config, init_fn = _train(toy, workdir, calls)
    assert calls == [(6, 6)]  # evaluated once, at the end
    return workdir, config, init_fn


def test_a_finished_run_started_again_evaluates_the_restored_state(toy, finished_run):
    # The recipe fills its results (metrics.json) from eval_fn: a re-run that skipped it left
    # them empty and wrote {} over the run's metrics.
    workdir, _, _ = finished_run
    calls = []
    _train(toy, workdir, calls)
    assert calls == [(6, 6)]


def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_one(
    toy, finished_run, tmp_path, caplog
):
    workdir = tmp_path / "run"
    shutil.copytree(finished_run[0], workdir)
    _, config, init_fn = finished_run
    _truncate_state_data(workdir, 6)
    with caplog.at_level(logging.WARNING, logger="facejax.train.checkpoint"):
        _, step = restore_variables(config, workdir, init_fn)
    assert step == 3
    assert "checkpoint of step 6" in caplog.text and "damaged" in caplog.text
    from facejax.train import checkpoint

    assert f"{workdir / 'checkpoints'}{os.sep}" in checkpoint._DAMAGED_FOLDERS  # reports dropped
    assert "using step 3 instead" in caplog.text
    # Asked for by number, the damaged step is one clear error naming it.
    with pytest.raises(DamagedCheckpointError, match="checkpoint of step 6 is damaged"):
        restore_variables(config, workdir, init_fn, step=6)
    # Training again: resumes at 3, trains 4-6 again; the damaged step is moved aside, not
    # deleted.
    calls = []
    _train(toy, workdir, calls)
    assert calls == [(6, 6)]
    assert (workdir / "damaged_checkpoints" / "6").is_dir()
    _, step = restore_variables(config, workdir, init_fn)
    assert step == 6


def test_no_checkpoint_restores_is_one_error_naming_the_steps(finished_run, tmp_path):
    workdir = tmp_path / "run"
    shutil.copytree(finished_run[0], workdir)
    _, config, init_fn = finished_run
    _truncate_state_data(workdir, 6)
    _truncate_state_data(workdir, 3)
    with pytest.raises(DamagedCheckpointError, match=r"no checkpoint restores \(step 6: .*step 3"):
        restore_variables(config, workdir, init_fn)


class _ToyRecipe:
    """`facejax evaluate`'s view of a recipe: evaluate(config, workdir) restores the run."""

    def __init__(self, config, init_fn):
        self.config, self.init_fn = config, init_fn

    def evaluate(self, config, workdir):
        _, step = restore_variables(self.config, workdir, self.init_fn)
        return {"step": step}


def test_evaluate_at_the_command_line_falls_back_or_names_the_damage(
    finished_run, tmp_path, monkeypatch, capsys, caplog
):
    import json

    import facejax.recipes
    from facejax import cli

    workdir = tmp_path / "run"
    shutil.copytree(finished_run[0], workdir)
    _, config, init_fn = finished_run
    saved = json.loads((workdir / "config.json").read_text())
    (workdir / "config.json").write_text(json.dumps({**saved, "recipe": "toy"}))
    monkeypatch.setattr(facejax.recipes, "get_recipe", lambda name: _ToyRecipe(config, init_fn))
    _truncate_state_data(workdir, 6)
    with caplog.at_level(logging.WARNING, logger="facejax.train.checkpoint"):
        assert cli.main(["evaluate", "--workdir", str(workdir)]) == 0
    assert json.loads(capsys.readouterr().out) == {"step": 3}
    assert "step 6" in caplog.text and "using step 3 instead" in caplog.text
    _truncate_state_data(workdir, 3)
    assert cli.main(["evaluate", "--workdir", str(workdir)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith("facejax evaluate: error:") and "step 6" in err and "step 3" in err


def test_late_reports_of_abandoned_reads_are_dropped_for_damaged_folders_only(
    tmp_path, monkeypatch, caplog
):
    """asyncio reports a failed read's future when it is collected, which for a read still in
    flight after the restore gave up can be at the process's exit, or in a later test (one
    from the command-line test's restore was once caught by this test's collection): dropped
    for a folder where a restore failed, kept for any other."""
    import asyncio
    import gc

    from facejax.train import checkpoint

    # "checkpoints2" starts with the damaged folder's name: only whole folder names match.
    damaged, healthy = tmp_path / "checkpoints", tmp_path / "checkpoints2"
    folders = checkpoint._DAMAGED_FOLDERS | {f"{damaged}{os.sep}"}  # the real ones stay
    monkeypatch.setattr(checkpoint, "_DAMAGED_FOLDERS", folders)
    checkpoint._quiet_abandoned_reads()
    checkpoint._quiet_abandoned_reads()
    filters = logging.getLogger("asyncio").filters
    assert sum(isinstance(f, checkpoint._AbandonedReadReports) for f in filters) == 1

    def abandoned_read(folder):
        loop = asyncio.new_event_loop()
        future = loop.create_future()
        future.set_exception(ValueError(f'OUT_OF_RANGE: Error reading local file "{folder}/6/"'))
        loop.close()
        del future  # never retrieved: asyncio logs it when it is collected

    with caplog.at_level(logging.ERROR, logger="asyncio"):
        abandoned_read(damaged)
        abandoned_read(healthy)
        gc.collect()
    reports = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert not [m for m in reports if any(folder in m for folder in folders)], reports
    ours = [m for m in reports if str(tmp_path) in m]
    assert len(ours) == 1, reports
    assert ours[0].startswith("Future exception was never retrieved") and str(healthy) in ours[0]


def test_only_the_closed_loop_callbacks_are_dropped(monkeypatch):
    from facejax.train import checkpoint

    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    checkpoint._ignore_closed_loop_callbacks()
    hook = sys.unraisablehook
    assert hook is not seen.append
    checkpoint._ignore_closed_loop_callbacks()
    assert sys.unraisablehook is hook  # wrapped once

    def unraisable(exc):
        return types.SimpleNamespace(exc_type=type(exc), exc_value=exc, object=None)

    hook(unraisable(RuntimeError("Event loop is closed")))
    others = [RuntimeError("Event loop is closed!"), ValueError("Event loop is closed")]
    for exc in others:
        hook(unraisable(exc))
    assert [u.exc_value for u in seen] == others
