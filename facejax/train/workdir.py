"""A run's workdir: where its checkpoints and config are, and its state, new or restored.

Layout: ``workdir/checkpoints/`` (facejax.train.checkpoint) and ``workdir/config.json`` (the
resolved config), beside the metric files (facejax.train.metric_writers).

The training loop and whoever reads a run back (a recipe's evaluation or predictor) build the
state here, from the same three things: the config (the optimizer whose state is checkpointed,
the EMA), ``init_fn`` (the variables) and the seed. So a checkpoint is restored into the
structure it was saved from, and no caller rebuilds that structure by hand.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import jax
import ml_collections
import optax
import orbax.checkpoint as ocp

from facejax.formats.atomic_files import write_text_atomic
from facejax.train.checkpoint import Restored, make_checkpoint_manager, restore_checkpoint
from facejax.train.optimizer import make_optimizer, make_schedule
from facejax.train.state import TrainState, create_train_state, eval_variables

logger = logging.getLogger(__name__)

PyTree = Any
InitFn = Callable[[jax.Array], Mapping[str, PyTree]]
CHECKPOINT_DIR = "checkpoints"
CONFIG_NAME = "config.json"


def config_to_dict(config: ml_collections.ConfigDict) -> dict:
    """The config as a JSON-serialisable dict (what is saved beside the checkpoints)."""
    return json.loads(config.to_json_best_effort(sort_keys=True))


def write_config(workdir: str | os.PathLike, config: Mapping[str, Any]) -> None:
    """Writes ``workdir/config.json`` whole or not at all (call on process 0 only)."""
    text = json.dumps(dict(config), indent=2, sort_keys=True)
    write_text_atomic(os.path.join(os.fspath(workdir), CONFIG_NAME), text)


def seed_keys(seed: int) -> tuple[jax.Array, jax.Array]:
    """``(init_rng, step_rng)``: two independent streams from the run's seed.

    ``init_rng`` initialises the variables; ``step_rng`` is the step's base key (folded with the
    step inside the step), so a resumed run needs only the seed.
    """
    init_rng, step_rng = jax.random.split(jax.random.PRNGKey(seed))
    return init_rng, step_rng


def make_run_optimizer(
    config: ml_collections.ConfigDict,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """The run's optimizer and its learning-rate schedule (``config.optimizer``, ``num_steps``)."""
    schedule = make_schedule(config.optimizer, config.num_steps)
    return make_optimizer(config.optimizer, config.num_steps, schedule), schedule


def _make_state_fn(config: ml_collections.ConfigDict, init_fn: InitFn) -> Callable[[], TrainState]:
    optimizer, _ = make_run_optimizer(config)
    init_rng, _ = seed_keys(config.seed)

    def make_state():
        return create_train_state(
            init_fn(init_rng), optimizer, ema=float(config.optimizer.ema_decay) > 0
        )

    return make_state


def initial_train_state(
    config: ml_collections.ConfigDict, init_fn: InitFn, *, sharding: jax.sharding.Sharding
) -> TrainState:
    """The run's state at step 0, computed under jit and born with ``sharding`` (no host copy).

    Args:
      config: the run's config (``seed``, ``num_steps``, ``optimizer``).
      init_fn: ``init_fn(rng) -> variables`` (``{"params", "batch_stats"?}``).
      sharding: where the state's arrays live, e.g. ``DataParallel.replicated``.
    """
    return jax.jit(_make_state_fn(config, init_fn), out_shardings=sharding)()


def restore_train_state(
    manager: ocp.CheckpointManager,
    config: ml_collections.ConfigDict,
    init_fn: InitFn,
    *,
    sharding: jax.sharding.Sharding,
    step: int | None = None,
) -> Restored | None:
    """The checkpointed state of a run (default: the latest step), or None when there is none.

    The state's structure comes from ``init_fn`` and ``config`` as :func:`initial_train_state`
    builds it, traced only (``jax.eval_shape``: nothing is initialised).

    Args:
      manager: the run's checkpoints (:func:`open_checkpoints`).
      config: the run's config.
      init_fn: ``init_fn(rng) -> variables``.
      sharding: the restored arrays' sharding.
      step: the step to restore; None for the latest.

    Raises:
      FileNotFoundError: for a ``step`` that is not there.
    """
    shapes = jax.eval_shape(_make_state_fn(config, init_fn))
    template = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), shapes
    )
    return restore_checkpoint(manager, template, step=step)


def open_checkpoints(
    workdir: str | os.PathLike, config: ml_collections.ConfigDict, *, async_save: bool | None = None
) -> ocp.CheckpointManager:
    """The checkpoint manager of ``workdir/checkpoints`` with ``config.checkpoint``'s settings.

    Args:
      workdir: the run's folder.
      config: the run's config.
      async_save: overrides ``config.checkpoint.async_save`` (False to only read).
    """
    ckpt = config.checkpoint
    return make_checkpoint_manager(
        os.path.join(os.fspath(workdir), CHECKPOINT_DIR),
        keep=ckpt.keep,
        keep_best=ckpt.keep_best,
        best_metric=ckpt.best_metric or None,
        best_mode=ckpt.best_mode,
        async_save=ckpt.async_save if async_save is None else async_save,
    )


DAMAGED_DIR = "damaged_checkpoints"


def set_aside_damaged_checkpoints(
    manager: ocp.CheckpointManager, steps, workdir: str | os.PathLike
) -> list[Path]:
    """Moves the folders of damaged checkpoint ``steps`` to ``workdir/damaged_checkpoints``.

    A resumed run saves those steps again, which their folders would block; moving them (not
    deleting) keeps whatever the user may still recover from them. Returns the new folders.
    """
    moved = []
    if jax.process_index() == 0:
        aside = Path(workdir) / DAMAGED_DIR
        aside.mkdir(parents=True, exist_ok=True)
        for step in steps:
            source = Path(manager.directory) / str(step)
            if not source.exists():
                continue
            target = aside / str(step)
            copy = 1
            while target.exists():  # an earlier damaged copy of the same step stays too
                target = aside / f"{step}.{copy}"
                copy += 1
            os.replace(source, target)
            logger.warning(
                "the damaged checkpoint of step %d was moved to %s; training it again", step, target
            )
            moved.append(target)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("facejax: damaged checkpoints set aside")
    manager.reload()
    return moved


def restore_variables(
    config: ml_collections.ConfigDict,
    workdir: str | os.PathLike,
    init_fn: InitFn,
    *,
    use_ema: bool = True,
    step: int | None = None,
    sharding: jax.sharding.Sharding | None = None,
) -> tuple[dict[str, PyTree], int]:
    """A trained run's variables to evaluate with, and their step.

    Args:
      config: the run's config (as saved in ``workdir/config.json``).
      workdir: the run's folder.
      init_fn: ``init_fn(rng) -> variables`` of the run's model (only traced).
      use_ema: the EMA parameters when the run kept them (facejax.train.eval_variables).
      step: the checkpoint's step; None for the latest.
      sharding: where the variables go (default: this process's first device).

    Returns:
      ``({"params", "batch_stats"}, step)``.

    Raises:
      FileNotFoundError: when ``workdir`` holds no checkpoint (or none of ``step``).
    """
    if sharding is None:
        sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    manager = open_checkpoints(workdir, config, async_save=False)
    try:
        restored = restore_train_state(manager, config, init_fn, sharding=sharding, step=step)
    finally:
        manager.close()
    if restored is None:
        raise FileNotFoundError(f"{os.fspath(workdir)}: no checkpoint to restore")
    return eval_variables(restored.state, use_ema=use_ema), restored.step
