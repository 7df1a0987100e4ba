"""The training loop: one straight-line function that experiments call.

:func:`run_training` is big_vision's ``train.py`` main, in bannered sections, made a library
function over four user functions: ``init_fn`` (variables), ``loss_fn`` (the loss), ``train_data``
(this process's host batches) and ``eval_fn`` (optional). It resumes from the latest checkpoint
in ``workdir`` by itself, so the same command restarts a killed run.

Per step it does no host work but fetching a batch and dispatching the compiled step; metrics stay
on the devices until a log step fetches them all at once (and checks them for NaN).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import ml_collections
import numpy as np

from facejax.train import checkpoint as checkpoint_lib
from facejax.train import metric_writers
from facejax.train.config import validate_config
from facejax.train.finite import check_finite
from facejax.train.optimizer import make_optimizer, make_schedule
from facejax.train.parallel import device_arrays, make_data_parallel
from facejax.train.progress import Progress
from facejax.train.state import TrainState, create_train_state
from facejax.train.step import make_train_step

logger = logging.getLogger(__name__)
PyTree = Any
CHECKPOINT_DIR = "checkpoints"
CONFIG_NAME = "config.json"


def config_to_dict(config: ml_collections.ConfigDict) -> dict:
    """The config as a JSON-serialisable dict (what is saved beside the checkpoints)."""
    return json.loads(config.to_json_best_effort(sort_keys=True))


def _global_batch_size(batch: Mapping[str, jax.Array], parallelism: str) -> int:
    leaf = next(iter(batch.values()))
    if parallelism == "pmap":  # [D_local, B / D, ...] on each process
        return int(leaf.shape[0] * leaf.shape[1] * jax.process_count())
    return int(leaf.shape[0])


def _window_mean(records: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Each metric's mean over the steps since the last log; the learning rate's last value."""
    means = {name: float(np.mean([r[name] for r in records])) for name in records[-1]}
    if "learning_rate" in means:
        means["learning_rate"] = float(records[-1]["learning_rate"])
    return means


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
        new_batch_stats))`` (facejax.train.make_train_step). Under pmap the model's BatchNorm
        must use ``axis_name=facejax.train.batch_axis_name(config.parallelism)``.
      train_data: a function returning this process's iterator of host batches ``{name: [B,
        ...]}`` (``B`` = global batch / process count), e.g. a facejax.data.pipeline Loader
        (which shards by process). With ``get_state``/``set_state`` its position is
        checkpointed and restored; without, a resumed run restarts the data from the start.
      eval_fn: ``eval_fn(state, step) -> {name: float}``, called on every process every
        ``eval_every`` steps and at the end with the canonical state (replicated arrays; use
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

    # ---------------------------------------------------------------- mesh
    parallel = make_data_parallel(config.parallelism, devices)

    # ---------------------------------------------------------------- model and optimizer
    schedule = make_schedule(config.optimizer, config.num_steps)
    optimizer = make_optimizer(config.optimizer, config.num_steps, schedule)
    ema_decay = float(config.optimizer.ema_decay)
    # Two independent streams from the seed: initialisation, and the per-step key (folded with
    # the step inside the step), so a resumed run needs only the seed.
    init_rng, step_rng = jax.random.split(jax.random.PRNGKey(config.seed))

    def make_state():
        return create_train_state(init_fn(init_rng), optimizer, ema=ema_decay > 0)

    # Computed identically on every process, born replicated over the mesh (no host copy).
    state = jax.jit(make_state, out_shardings=parallel.replicated)()

    # ---------------------------------------------------------------- checkpoint / resume
    ckpt = config.checkpoint
    manager = checkpoint_lib.make_checkpoint_manager(
        os.path.join(workdir, CHECKPOINT_DIR),
        keep=ckpt.keep,
        keep_best=ckpt.keep_best,
        best_metric=ckpt.best_metric or None,
        best_mode=ckpt.best_mode,
        async_save=ckpt.async_save,
    )
    host_batches = train_data()
    restored = checkpoint_lib.restore_checkpoint(manager, state)
    start_step = 0
    if restored is not None:
        state, start_step = restored.state, restored.step
        if restored.data_state is not None and hasattr(host_batches, "set_state"):
            host_batches.set_state(restored.data_state)
        else:
            logger.warning("resuming without a data-iterator state: the data restarts")
        if restored.config is not None and restored.config != config_dict:
            changed = sorted(
                k
                for k in set(restored.config) | set(config_dict)
                if restored.config.get(k) != config_dict.get(k)
            )
            logger.warning("resuming with a changed config (top-level fields %s)", changed)
        logger.info("resumed from %s at step %d", manager.directory, start_step)
    if is_main:
        with open(os.path.join(workdir, CONFIG_NAME), "w") as f:
            json.dump(config_dict, f, indent=2, sort_keys=True)

    # ---------------------------------------------------------------- update step
    train_step = parallel.compile(
        make_train_step(
            loss_fn,
            optimizer,
            ema_decay=ema_decay,
            axis_name=parallel.axis_name,
            learning_rate_fn=schedule,
        )
    )
    device_state = parallel.put_state(state)
    del state  # the step donates the state's buffers
    rng = parallel.put_rng(step_rng)

    # ---------------------------------------------------------------- input
    batches = parallel.prefetch(host_batches, config.prefetch)

    # ---------------------------------------------------------------- loop
    writer = metric_writers.make_metric_writers(
        workdir,
        process_index=jax.process_index(),
        tensorboard=config.tensorboard,
        resume_step=start_step if restored is not None else None,
    )
    progress = None
    pending: list[tuple[int, dict]] = []  # (step, device metrics) since the last log
    first_step_seconds = None
    step = start_step
    best_metric = ckpt.best_metric or None
    try:
        while step < config.num_steps:
            try:
                batch = device_arrays(next(batches))
            except StopIteration:
                raise RuntimeError(
                    f"the training data ran out at step {step} of {config.num_steps}: use "
                    f"num_epochs=None (repeat) or fewer num_steps"
                ) from None
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
                    examples_per_step=_global_batch_size(batch, config.parallelism),
                    enabled=config.progress and is_main,
                )
                progress.start(step)
            last = step == config.num_steps
            logged: dict[str, float] = {}  # everything measured at this step: one record

            if step % config.log_every == 0 or last:
                records = parallel.to_host([m for _, m in pending])
                for (s, _), record in zip(pending, records, strict=True):
                    check_finite(s, record, prefix="train/")
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
                if pending:
                    records = parallel.to_host([m for _, m in pending])
                    for (s, _), record in zip(pending, records, strict=True):
                        check_finite(s, record, prefix="train/")
                checkpoint_lib.save_checkpoint(
                    manager,
                    step,
                    parallel.get_state(device_state),
                    data_state=batches.get_state() if hasattr(host_batches, "get_state") else None,
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
    return parallel.get_state(device_state)
