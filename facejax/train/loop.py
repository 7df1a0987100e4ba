"""The training loop: one straight-line function that experiments call.

:func:`run_training` is big_vision's ``train.py`` main, in bannered sections, made a library
function over four user functions: ``init_fn`` (variables), ``loss_fn`` (the loss), ``train_data``
(this process's host batches) and ``eval_fn`` (optional). It resumes from the latest checkpoint
in ``workdir`` by itself, so the same command restarts a killed run.

The loop reads one way whatever the devices: ``jax.jit`` over a mesh or ``jax.pmap`` is chosen
once, by the :class:`facejax.train.DataParallel` that ``config.parallelism`` names, and the data
is one kind of iterator (facejax.data.pipeline.CheckpointableIterator).

Per step it does no host work but fetching a batch and dispatching the compiled step; metrics stay
on the devices until a log step fetches them all at once (and checks them for NaN).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np

from facejax.data.pipeline import CheckpointableIterator
from facejax.train import checkpoint as checkpoint_lib
from facejax.train import metric_writers
from facejax.train import workdir as workdir_lib
from facejax.train.config import validate_config
from facejax.train.finite import check_finite
from facejax.train.parallel import DataParallel, make_data_parallel
from facejax.train.progress import Progress
from facejax.train.state import TrainState
from facejax.train.step import make_train_step
from facejax.train.workdir import config_to_dict

logger = logging.getLogger(__name__)
PyTree = Any


def _window_mean(records: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Each metric's mean over the steps since the last log; the learning rate's last value."""
    means = {name: float(np.mean([r[name] for r in records])) for name in records[-1]}
    if "learning_rate" in means:
        means["learning_rate"] = float(records[-1]["learning_rate"])
    return means


def _finite_host_metrics(
    parallel: DataParallel, pending: list[tuple[int, dict]]
) -> list[dict[str, np.ndarray]]:
    """The metrics of the steps not yet fetched, on the host, checked for NaN in step order."""
    records = parallel.to_host([metrics for _, metrics in pending])
    for (step, _), record in zip(pending, records, strict=True):
        check_finite(step, record, prefix="train/")
    return records


def _next_batch(batches: Iterator, step: int, num_steps: int):
    try:
        return next(batches)
    except StopIteration:
        raise RuntimeError(
            f"the training data ran out at step {step} of {num_steps}: use num_epochs=None "
            f"(repeat) or fewer num_steps"
        ) from None


def _log_resume(restored: checkpoint_lib.Restored, config_dict: dict, directory) -> None:
    if restored.config is not None and restored.config != config_dict:
        changed = sorted(
            k
            for k in set(restored.config) | set(config_dict)
            if restored.config.get(k) != config_dict.get(k)
        )
        logger.warning("resuming with a changed config (top-level fields %s)", changed)
    logger.info("resumed from %s at step %d", directory, restored.step)


def _resume_data(batches: CheckpointableIterator, data_state: dict | None) -> None:
    if data_state is None:
        logger.warning("resuming without a data-iterator state: the data restarts")
    else:
        batches.set_state(data_state)


def run_training(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    *,
    init_fn: Callable[[jax.Array], Mapping[str, PyTree]],
    loss_fn: Callable[..., Any],
    train_data: Callable[[], Iterator[Mapping[str, np.ndarray]]],
    eval_fn: Callable[[TrainState, int], Mapping[str, float]] | None = None,
    devices=None,
) -> TrainState:
    """Trains (or resumes training) to ``config.num_steps``; returns the final state.

    Args:
      config: the training settings (facejax.train.default_config plus the experiment's own).
      workdir: the run's folder: ``checkpoints/``, ``config.json``, ``metrics.jsonl``,
        ``tensorboard/``. A checkpoint there is resumed from.
      init_fn: ``init_fn(rng) -> variables`` (``{"params", "batch_stats"?}``), e.g. a Flax
        ``model.init`` with a dummy batch. Traced under jit; the same on every process.
      loss_fn: ``loss_fn(params, batch_stats, batch, rng, train=True) -> (loss, (metrics,
        new_batch_stats))`` (facejax.train.make_train_step). The model's BatchNorm must use
        ``axis_name=facejax.train.batch_axis_name(config.parallelism)``.
      train_data: a function returning this process's iterator of host batches ``{name: [B,
        ...]}`` (``B`` = global batch / process count), e.g. a facejax.data.pipeline Loader
        (which shards by process). Its position (``get_state``/``set_state``,
        facejax.data.pipeline.CheckpointableIterator) is checkpointed and restored; a plain
        iterator has none, and a resumed run restarts its data from the start.
      eval_fn: ``eval_fn(state, step) -> {name: float}``, called on every process every
        ``eval_every`` steps and at the end (also at once, on the restored state, when the
        checkpoint is already at ``num_steps``) with the canonical state (replicated arrays; use
        facejax.train.eval_variables). Logged with the prefix ``eval/``. It must not keep the
        state: its buffers are reused by the next step.
      devices: the devices to train on (default: all devices of all processes).

    Returns:
      The final state, canonical form (replicated over the devices).

    Raises:
      FloatingPointError: when the loss or gradient norm becomes NaN/inf (naming the step).
      RuntimeError: when the training data runs out before ``num_steps``.
    """
    validate_config(config)
    workdir = os.fspath(workdir)
    is_main = jax.process_index() == 0
    if is_main:
        os.makedirs(workdir, exist_ok=True)
    config_dict = config_to_dict(config)

    # ---------------------------------------------------------------- devices (jit or pmap)
    parallel = make_data_parallel(config.parallelism, devices)

    # ---------------------------------------------------------------- state: resumed or new
    manager = workdir_lib.open_checkpoints(workdir, config)
    restored = workdir_lib.restore_train_state(
        manager, config, init_fn, sharding=parallel.replicated
    )
    if restored is None:
        start_step = 0
        # Computed identically on every process, born replicated over the mesh.
        state = workdir_lib.initial_train_state(config, init_fn, sharding=parallel.replicated)
    else:
        start_step, state = restored.step, restored.state
        _log_resume(restored, config_dict, manager.directory)
        # The damaged later steps are trained again; their folders would block those saves,
        # so they are moved aside (never deleted: what is left of them is the user's).
        if restored.damaged:
            workdir_lib.set_aside_damaged_checkpoints(manager, restored.damaged, workdir)
    if is_main:
        workdir_lib.write_config(workdir, config_dict)

    # ---------------------------------------------------------------- update step
    optimizer, schedule = workdir_lib.make_run_optimizer(config)
    train_step = parallel.compile(
        make_train_step(
            loss_fn,
            optimizer,
            ema_decay=float(config.optimizer.ema_decay),
            axis_name=parallel.axis_name,
            learning_rate_fn=schedule,
        )
    )
    device_state = parallel.put_state(state)
    del state  # the step donates the state's buffers
    _, step_rng = workdir_lib.seed_keys(config.seed)
    rng = parallel.put_rng(step_rng)

    # ---------------------------------------------------------------- input
    batches = parallel.prefetch(train_data(), config.prefetch)
    if restored is not None:
        _resume_data(batches, restored.data_state)

    # ---------------------------------------------------------------- loop
    writer = metric_writers.make_metric_writers(
        workdir,
        process_index=jax.process_index(),
        tensorboard=config.tensorboard,
        resume_step=start_step if restored is not None else None,
    )
    ckpt = config.checkpoint
    best_metric = ckpt.best_metric or None
    progress = None
    pending: list[tuple[int, dict]] = []  # (step, device metrics) since the last log
    first_step_seconds = None
    step = start_step
    try:
        while step < config.num_steps:
            batch = _next_batch(batches, step, config.num_steps)
            started = time.perf_counter()
            device_state, metrics = train_step(device_state, batch, rng)
            step += 1
            pending.append((step, metrics))
            if progress is None:  # the first step compiles: time it apart from the rate
                jax.block_until_ready(metrics)
                first_step_seconds = time.perf_counter() - started
                progress = Progress(
                    config.num_steps,
                    initial_step=start_step,
                    examples_per_step=parallel.examples_per_step(batch),
                    enabled=config.progress and is_main,
                )
                progress.start(step)
            last = step == config.num_steps
            logged: dict[str, float] = {}  # everything measured at this step: one record

            if step % config.log_every == 0 or last:
                records = _finite_host_metrics(parallel, pending)
                pending = []
                logged.update({f"train/{k}": v for k, v in _window_mean(records).items()})
                rates = progress.update(step, {"loss": logged["train/loss"]})
                logged.update({f"perf/{k}": v for k, v in rates.items()})
                if first_step_seconds is not None:
                    logged["perf/first_step_seconds"] = first_step_seconds
                    first_step_seconds = None

            if eval_fn is not None and (
                (config.eval_every and step % config.eval_every == 0) or last
            ):
                evaluated = eval_fn(parallel.get_state(device_state), step)
                evaluated = {f"eval/{k}": float(v) for k, v in evaluated.items()}
                logged.update(evaluated)
                progress.write(
                    f"step {step}: " + ", ".join(f"{k}={v:.4g}" for k, v in evaluated.items())
                )

            if logged:
                writer.write_scalars(step, logged)
                writer.flush()

            periodic = config.checkpoint_every and step % config.checkpoint_every == 0
            # With keep_best, every evaluation is a candidate for the best checkpoint.
            candidate = ckpt.keep_best and best_metric in logged
            if periodic or last or candidate:
                # Never checkpoint a diverged state: check the steps not yet logged first.
                _finite_host_metrics(parallel, pending)
                checkpoint_lib.save_checkpoint(
                    manager,
                    step,
                    parallel.get_state(device_state),
                    data_state=batches.get_state(),
                    config=config_dict,
                    metrics=logged,
                    best_metric=best_metric,
                )
    finally:
        manager.wait_until_finished()
        manager.close()
        writer.close()
        if progress is not None:
            progress.close()
        batches.close()
    if step == start_step:
        logger.info("nothing to do: the checkpoint is at num_steps=%d", step)
        if eval_fn is not None:
            # A finished run started again (or one killed between its last checkpoint and its
            # results): evaluate what was restored, so the caller's results are the run's and
            # not empty.
            evaluated = eval_fn(parallel.get_state(device_state), step)
            logger.info("step %d (restored): %s", step, dict(evaluated))
    return parallel.get_state(device_state)
