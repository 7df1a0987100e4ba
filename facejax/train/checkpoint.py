"""Checkpoints with Orbax: the state, each process's data-iterator state and the config.

Layout (``directory`` is normally ``workdir/checkpoints``)::

    <step>/state/          the canonical TrainState (ocp.args.StandardSave; sharded arrays)
    <step>/data_iter/      process_<i>-of-<n>.json: each process's input-pipeline state
    <step>/config/         the resolved config (ocp.args.JsonSave)
    <step>/_CHECKPOINT_METADATA   Orbax's, with the metrics given at save (for "best")

**What is kept.** The last ``keep`` checkpoints *and* the ``keep_best`` best by ``best_metric``
(``best_mode`` "min" or "max"), in one ``CheckpointManager`` whose preservation policy is
``AnyPreservationPolicy([LatestN(keep), BestN(keep_best)])``: a checkpoint survives while either
policy wants it. Only checkpoints saved with the metric take part in the ranking (a save
without it is kept only while it is among the last ``keep``).

**The data iterator** state differs per process (each reads its own shard), while Orbax's
``JsonSave`` writes on the primary process only. :class:`ProcessJsonHandler` (grain's scheme)
writes one ``process_<i>-of-<n>.json`` per process and reads back its own; resuming with another
number of processes is refused with the missing file named.

**Asynchronous saving.** With ``async_save`` the arrays are copied off the devices and the step
returns while files are written in the background; :func:`save_checkpoint` of the next step (and
``manager.wait_until_finished()``, done by the loop before it exits) waits for the previous one.
A run killed mid-save leaves a temporary directory that Orbax ignores and cleans up: resuming
starts from the last complete checkpoint.

**A damaged checkpoint** (a file truncated or lost after the save: a full disk, a bad copy) does
not block the run. :func:`restore_checkpoint` of the latest step falls back to the newest
checkpoint that restores and logs a warning naming the damaged step and why; a run resumed that
way trains the damaged steps again (facejax.train.run_training first moves their folders to
``workdir/damaged_checkpoints``: nothing is deleted). When no
checkpoint restores, or a ``step`` asked for by number does not, a
:class:`DamagedCheckpointError` names the step(s) and the reason.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import jax
import orbax.checkpoint as ocp
from etils import epath

PyTree = Any
BEST_MODES = ("min", "max")
logger = logging.getLogger(__name__)


class DamagedCheckpointError(ValueError):
    """A checkpoint that is there but does not restore; the message names its step and why."""


class ProcessCountError(FileNotFoundError):
    """A checkpoint written by another number of processes: not damage, every step has it."""


class ProcessJsonHandler(ocp.CheckpointHandler):
    """Saves a JSON-serialisable dict per process: ``process_<i>-of-<n>.json``."""

    def _path(self, directory: epath.Path) -> epath.Path:
        return epath.Path(directory) / (
            f"process_{jax.process_index()}-of-{jax.process_count()}.json"
        )

    def save(self, directory: epath.Path, args: ProcessJsonSave):
        self._path(directory).write_text(json.dumps(args.item))

    def restore(self, directory: epath.Path, args: ProcessJsonRestore | None = None):
        path = self._path(directory)
        if not path.exists():
            saved = sorted(p.name for p in epath.Path(directory).glob("process_*.json"))
            raise ProcessCountError(
                f"no data-iterator state {path.name} in {directory} (saved: {saved}); was the "
                f"checkpoint written by another number of processes?"
            )
        return json.loads(path.read_text())


@ocp.args.register_with_handler(ProcessJsonHandler, for_save=True)
@dataclasses.dataclass
class ProcessJsonSave(ocp.args.CheckpointArgs):
    """This process's JSON-serialisable dict (e.g. ``loader.get_state()``)."""

    item: Mapping[str, Any]


@ocp.args.register_with_handler(ProcessJsonHandler, for_restore=True)
@dataclasses.dataclass
class ProcessJsonRestore(ocp.args.CheckpointArgs):
    """Restores this process's dict."""


def make_checkpoint_manager(
    directory: str | os.PathLike,
    *,
    keep: int = 3,
    keep_best: int = 0,
    best_metric: str | None = None,
    best_mode: str = "min",
    async_save: bool = True,
) -> ocp.CheckpointManager:
    """An Orbax ``CheckpointManager`` keeping the last ``keep`` and the ``keep_best`` best.

    Args:
      directory: where the step directories go (created if missing).
      keep: the number of most recent checkpoints to keep (>= 1).
      keep_best: the number of best checkpoints by ``best_metric`` to keep besides (0: none).
      best_metric: the metric that ranks checkpoints (a key of the ``metrics`` given to
        :func:`save_checkpoint`, e.g. ``"eval/loss"``); needed when ``keep_best > 0``.
      best_mode: "min" (lower is better) or "max".
      async_save: write checkpoints in a background thread.

    Raises:
      ValueError: for ``keep < 1``, a negative ``keep_best``, ``keep_best`` without a metric, or
        an unknown ``best_mode``.
    """
    if keep < 1 or keep_best < 0:
        raise ValueError(f"checkpoints: need keep >= 1 and keep_best >= 0, got {keep}, {keep_best}")
    if best_mode not in BEST_MODES:
        raise ValueError(f"checkpoints: best_mode must be one of {BEST_MODES}, got {best_mode!r}")
    if keep_best and not best_metric:
        raise ValueError("checkpoints: keep_best > 0 needs best_metric (e.g. 'eval/loss')")
    policies = [ocp.checkpoint_managers.LatestN(n=keep)]
    if keep_best:
        policies.append(
            ocp.checkpoint_managers.BestN(
                get_metric_fn=lambda metrics: float(metrics[best_metric]),
                # BestN keeps the end of the ascending order; "min" wants the smallest there.
                reverse=best_mode == "min",
                n=keep_best,
                keep_checkpoints_without_metrics=False,
            )
        )
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.AnyPreservationPolicy(policies),
        enable_async_checkpointing=async_save,
        create=True,
    )
    return ocp.CheckpointManager(epath.Path(directory).absolute(), options=options)


def save_checkpoint(
    manager: ocp.CheckpointManager,
    step: int,
    state: PyTree,
    *,
    data_state: Mapping[str, Any] | None = None,
    config: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    best_metric: str | None = None,
) -> bool:
    """Saves ``state`` (canonical form, facejax.train.parallel) and friends as step ``step``.

    Call it on every process (each writes its shard of the arrays and its data state).

    Args:
      manager: from :func:`make_checkpoint_manager`.
      step: the training step (the number of updates applied).
      state: the state pytree (arrays; replicated or sharded ``jax.Array`` s).
      data_state: this process's data-iterator state (JSON-serialisable), or None (saved as
        an empty dict).
      config: the resolved config as a JSON-serialisable dict, or None (likewise).
      metrics: metrics measured at this step (floats); the checkpoint takes part in the "best"
        ranking only when they include ``best_metric``.
      best_metric: the manager's ranking metric (to drop metrics that lack it).

    Returns:
      False when a checkpoint of this step already exists (nothing is written), else True.
    """
    if step in manager.all_steps():
        return False
    # Every checkpoint has the three items (empty dicts for none), so that a restore asks for
    # exactly what is there.
    items = {
        "state": ocp.args.StandardSave(state),
        "data_iter": ProcessJsonSave(dict(data_state or {})),
        "config": ocp.args.JsonSave(dict(config or {})),
    }
    if metrics is not None and best_metric is not None and best_metric in metrics:
        metrics = {name: float(value) for name, value in metrics.items()}
    else:
        metrics = None
    return manager.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=True)


@dataclasses.dataclass(frozen=True)
class Restored:
    """What :func:`restore_checkpoint` read.

    Attributes:
      step: the checkpoint's step.
      state: the state, with the shardings of the template.
      data_state: this process's data-iterator state, or None if none was saved.
      config: the saved config dict, or None if none was saved.
      damaged: the later steps that were there but did not restore (newest first), skipped.
    """

    step: int
    state: PyTree
    data_state: dict | None
    config: dict | None
    damaged: tuple[int, ...] = ()


def _reason(err: BaseException) -> str:
    # TensorStore's messages run to many lines; the first says what is wrong.
    lines = str(err).strip().splitlines() or [type(err).__name__]
    text = f"{type(err).__name__}: {lines[0]}"
    return text if len(text) <= 300 else text[:297] + "..."


def _drop_failed_reads() -> None:
    """Collects the reads Orbax left behind when one array of a damaged step failed.

    Orbax reads the arrays concurrently and raises the first failure; the other reads of the
    damaged files fail too, and asyncio would log each one ("Task exception was never
    retrieved", a page of TensorStore spec apiece) whenever they are collected. They are
    collected here, and ``_AbandonedReadReports`` drops their reports (the caller has recorded
    the folder): the damaged step is reported once, by the caller. Reads still in flight finish
    later, whenever their files are read; the same filter drops their reports, and
    ``_ignore_closed_loop_callbacks`` their callbacks' messages (both installed before the
    restore began).
    """
    import gc
    import time
    import warnings

    with warnings.catch_warnings():
        # Orbax's metadata coroutine of the failed restore, never awaited: its, not ours.
        warnings.filterwarnings("ignore", "coroutine .* was never awaited", RuntimeWarning)
        for _ in range(10):  # reads still in flight finish within a few ms (local files)
            gc.collect()
            time.sleep(0.01)


_CLOSED_LOOP = "Event loop is closed"


def _ignore_closed_loop_callbacks() -> None:
    """From the first restore on, drops one message and passes every other on.

    A read of a damaged step that was still in flight when Orbax gave up completes later, on a
    TensorStore thread, whenever its file has been read: while the failure is still being
    raised, or after the 100 ms that ``_drop_failed_reads`` waits. Its callback then reaches the
    closed event loop, and Python prints "Exception ignored in: None ... RuntimeError: Event
    loop is closed" with a traceback. That message says nothing the restore's warning or error
    did not: the process-wide ``sys.unraisablehook`` is wrapped, once, to drop exactly it (a
    ``RuntimeError`` with that text). It is wrapped before the first restore begins, not once
    one has failed: a read that finished in between went past it (seen once in a CI run).
    """
    import sys

    previous = sys.unraisablehook
    if getattr(previous, "drops_closed_loop_callbacks", False):
        return

    def hook(unraisable):
        exc = unraisable.exc_value
        if isinstance(exc, RuntimeError) and str(exc) == _CLOSED_LOOP:
            return
        previous(unraisable)

    hook.drops_closed_loop_callbacks = True
    sys.unraisablehook = hook


# Checkpoint folders being restored or where a restore failed, each ending in a separator (so
# that "run/ckpt" does not also match "run/ckpt2"): reports of their abandoned reads are dropped.
_DAMAGED_FOLDERS: set[str] = set()
_NEVER_RETRIEVED = ("Future exception was never retrieved", "Task exception was never retrieved")


class _AbandonedReadReports(logging.Filter):
    """Drops asyncio's "... exception was never retrieved" reports of reads in a folder where
    a restore failed, and passes every other record on.

    Reads of a damaged step still in flight after ``_drop_failed_reads`` has collected the
    others fail too, and their futures are collected later (at the latest when the process
    exits): asyncio then logs each with a page of TensorStore spec (seen at the exit of a test
    run, after its summary). The failure was reported once already; the report names the
    folder, which is how these are told from anything else asyncio logs.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 (a record that cannot format is not ours to drop)
            return True
        if not message.startswith(_NEVER_RETRIEVED):
            return True
        return not any(folder in message for folder in _DAMAGED_FOLDERS)


def _quiet_abandoned_reads() -> None:
    """Installs, once, the two drops of the abandoned reads' late messages: the closed-loop
    callbacks (``_ignore_closed_loop_callbacks``) and asyncio's reports of their futures
    (``_AbandonedReadReports``, for the folders in ``_DAMAGED_FOLDERS``)."""
    _ignore_closed_loop_callbacks()
    asyncio_logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _AbandonedReadReports) for f in asyncio_logger.filters):
        asyncio_logger.addFilter(_AbandonedReadReports())


def _restore_step(manager: ocp.CheckpointManager, step: int, abstract: PyTree) -> Restored:
    restored = manager.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract),
            data_iter=ProcessJsonRestore(),
            config=ocp.args.JsonRestore(),
        ),
    )
    return Restored(
        step=int(step),
        state=restored["state"],
        data_state=restored["data_iter"] or None,
        config=restored["config"] or None,
    )


def restore_checkpoint(
    manager: ocp.CheckpointManager, template: PyTree, *, step: int | None = None
) -> Restored | None:
    """Restores a checkpoint (default: the newest that restores), or None when there is none.

    Without ``step``, a damaged latest checkpoint is skipped with a warning naming it and the
    reason, and the next older one is tried (``Restored.damaged`` lists the skipped steps).

    Args:
      manager: from :func:`make_checkpoint_manager`.
      template: the state's structure, shapes, dtypes and shardings: the freshly initialised
        canonical state, or its ``jax.ShapeDtypeStruct`` s (with ``sharding``).
      step: the step to restore; None for the latest that restores.

    Raises:
      FileNotFoundError: for a step that is not there.
      DamagedCheckpointError: when the ``step`` asked for, or (without ``step``) every
        checkpoint there, fails to restore; naming the step(s) and why.
    """
    manager.wait_until_finished()
    steps = sorted(manager.all_steps(), reverse=True)
    if step is not None and step not in steps:
        raise FileNotFoundError(
            f"no checkpoint of step {step} in {manager.directory} (have {sorted(steps)})"
        )
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, template)
    _quiet_abandoned_reads()  # before any read: see _ignore_closed_loop_callbacks
    folder = os.path.join(os.fspath(manager.directory), "")  # ends in "/"
    known_damaged = folder in _DAMAGED_FOLDERS
    # Listed before any read: reads can fail, and be collected and reported, while Orbax is
    # still raising the first failure. Taken off again when every restore here succeeded.
    _DAMAGED_FOLDERS.add(folder)
    damaged: list[tuple[int, str]] = []
    try:
        for candidate in [step] if step is not None else steps:
            try:
                restored = _restore_step(manager, candidate, abstract)
            except ProcessCountError:
                raise
            except Exception as err:  # noqa: BLE001 (Orbax, TensorStore, JSON: many types)
                damaged.append((candidate, _reason(err)))
                _drop_failed_reads()
                continue
            for bad, why in damaged:
                logger.warning(
                    "checkpoint of step %d in %s is damaged (%s): using step %d instead",
                    bad,
                    manager.directory,
                    why,
                    candidate,
                )
            return dataclasses.replace(restored, damaged=tuple(bad for bad, _ in damaged))
        if not damaged:
            return None
        if step is not None:
            raise DamagedCheckpointError(
                f"{manager.directory}: the checkpoint of step {step} is damaged ({damaged[0][1]})"
            )
        listed = "; ".join(f"step {bad}: {why}" for bad, why in damaged)
        raise DamagedCheckpointError(
            f"{manager.directory}: no checkpoint restores ({listed}); remove the damaged step "
            f"folder(s) to start again from an earlier one or from scratch"
        )
    finally:
        if not damaged and not known_damaged:
            _DAMAGED_FOLDERS.discard(folder)
