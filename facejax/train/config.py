"""The training machinery's settings: an ``ml_collections.ConfigDict``, locked against typos.

An experiment's config starts from :func:`default_config` and adds its own sections::

    config = facejax.train.default_config()
    with config.unlocked():
        config.model = ml_collections.ConfigDict({"width": 32})
    config.optimizer.learning_rate = 3e-4      # existing fields: assign freely
    config.optimizer.learning_rat = 3e-4       # typo: AttributeError (the config is locked)

Reading a missing field is an error whether locked or not; locking also makes *writing* one an
error (big_vision's ``lock_config=True``), which is where typos hide (``--config.x=...``
overrides on the command line, edits in a variant).

Fields (see docs/training.md for what each does):

* ``seed``: the run's seed: parameter initialisation and every step's randomness.
* ``num_steps``: training steps (the schedule's horizon).
* ``parallelism``: "jit" (a mesh over all devices, sharded batch) or "pmap".
* ``precision``: "float32" or "bfloat16" (compute dtype; parameters stay float32).
* ``log_every``, ``eval_every``, ``checkpoint_every``: in steps; 0 disables evaluation / the
  periodic checkpoints (the final step always logs, evaluates and saves).
* ``prefetch``: batches in flight to the devices.
* ``progress``: show a progress bar (process 0); ``tensorboard``: write event files.
* ``optimizer``: facejax.train.make_optimizer's fields plus ``ema_decay`` (0: no EMA).
* ``checkpoint``: ``keep`` last, ``keep_best`` best by ``best_metric`` ("min"/"max"
  ``best_mode``), ``async_save``.
"""

from __future__ import annotations

import ml_collections

from facejax.train.checkpoint import BEST_MODES
from facejax.train.optimizer import OPTIMIZERS, SCHEDULES
from facejax.train.parallel import PARALLELISMS
from facejax.train.precision import PRECISIONS


def default_config() -> ml_collections.ConfigDict:
    """The training settings with their defaults, locked."""
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.num_steps = 1000
    config.parallelism = "jit"
    config.precision = "float32"
    config.log_every = 50
    config.eval_every = 0
    config.checkpoint_every = 500
    config.prefetch = 2
    config.progress = True
    config.tensorboard = True
    config.optimizer = ml_collections.ConfigDict(
        {
            "name": "adamw",
            "learning_rate": 1e-3,
            "warmup_steps": 0,
            "schedule": "cosine",
            "end_learning_rate_factor": 0.0,
            "weight_decay": 1e-4,
            "grad_clip_norm": 1.0,
            "b1": 0.9,
            "b2": 0.999,
            "eps": 1e-8,
            "momentum": 0.9,
            "nesterov": False,
            "ema_decay": 0.0,
        }
    )
    config.checkpoint = ml_collections.ConfigDict(
        {"keep": 3, "keep_best": 0, "best_metric": "", "best_mode": "min", "async_save": True}
    )
    config.lock()
    return config


def validate_config(config: ml_collections.ConfigDict) -> None:
    """Checks the training fields of a config; the error names the field.

    Raises:
      AttributeError: for a missing field.
      ValueError: for a value out of range or not among the choices.
    """

    def require(ok: bool, message: str) -> None:
        if not ok:
            raise ValueError(f"config: {message}")

    require(config.num_steps >= 1, f"num_steps must be >= 1, got {config.num_steps}")
    require(
        config.parallelism in PARALLELISMS,
        f"parallelism must be {' or '.join(map(repr, PARALLELISMS))}, got {config.parallelism!r}",
    )
    require(
        config.precision in PRECISIONS,
        f"precision must be one of {PRECISIONS}, got {config.precision!r}",
    )
    for name in ("log_every", "eval_every", "checkpoint_every"):
        require(config[name] >= 0, f"{name} must be >= 0, got {config[name]}")
    require(config.log_every >= 1, f"log_every must be >= 1, got {config.log_every}")
    require(config.prefetch >= 1, f"prefetch must be >= 1, got {config.prefetch}")
    opt = config.optimizer
    require(opt.name in OPTIMIZERS, f"optimizer.name must be one of {OPTIMIZERS}, got {opt.name!r}")
    require(
        opt.schedule in SCHEDULES,
        f"optimizer.schedule must be one of {SCHEDULES}, got {opt.schedule!r}",
    )
    require(
        0 <= opt.warmup_steps <= config.num_steps,
        f"optimizer.warmup_steps must be in [0, num_steps], got {opt.warmup_steps}",
    )
    require(
        0.0 <= opt.ema_decay < 1.0, f"optimizer.ema_decay must be in [0, 1), got {opt.ema_decay}"
    )
    ckpt = config.checkpoint
    require(ckpt.keep >= 1, f"checkpoint.keep must be >= 1, got {ckpt.keep}")
    require(ckpt.keep_best >= 0, f"checkpoint.keep_best must be >= 0, got {ckpt.keep_best}")
    require(
        not ckpt.keep_best or bool(ckpt.best_metric),
        "checkpoint.keep_best > 0 needs checkpoint.best_metric (e.g. 'eval/loss')",
    )
    require(
        ckpt.best_mode in BEST_MODES,
        f"checkpoint.best_mode must be one of {BEST_MODES}, got {ckpt.best_mode!r}",
    )
