"""Optimizers and learning-rate schedules from a config: optax AdamW or SGD, warm-up + decay.

The optimizer is a chain, applied in this order to the (device-averaged) gradients:

1. clip by global norm (``grad_clip_norm > 0``; the norm over every parameter leaf together);
2. AdamW (decoupled weight decay) or SGD with momentum (weight decay added to the gradient
   before momentum, as classical L2);
3. the learning rate of the schedule.

Weight decay applies to kernels only (leaves with two or more dimensions), not to biases and
BatchNorm scales and offsets: decaying those towards zero only fights the normalisation.

The exponential moving average of the parameters (``ema_decay > 0``) is not part of the optax
chain: it follows the parameters after each update (:func:`update_ema`) and lives in
``TrainState.ema_params``, so that it is checkpointed and evaluated on its own.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import optax

PyTree = Any

OPTIMIZERS = ("adamw", "sgd")
SCHEDULES = ("cosine", "linear", "constant")


def make_schedule(config, num_steps: int) -> optax.Schedule:
    """Linear warm-up from 0 to ``learning_rate``, then decay until ``num_steps``.

    ``lr(t) = learning_rate * t / warmup_steps`` for ``t < warmup_steps``; then with
    ``u = (t - warmup_steps) / (num_steps - warmup_steps)`` clipped to ``[0, 1]`` and
    ``end = learning_rate * end_learning_rate_factor``:

    * ``"cosine"``: ``end + (learning_rate - end) * (1 + cos(pi u)) / 2``;
    * ``"linear"``: ``learning_rate + (end - learning_rate) u``;
    * ``"constant"``: ``learning_rate``.

    Args:
      config: the optimizer config (``learning_rate``, ``warmup_steps``, ``schedule``,
        ``end_learning_rate_factor``), e.g. ``default_config().optimizer``.
      num_steps: the run's total number of steps.

    Returns:
      ``step -> learning rate``, traceable.

    Raises:
      ValueError: for an unknown schedule, a negative rate, or warm-up longer than the run.
    """
    peak = float(config.learning_rate)
    warmup = int(config.warmup_steps)
    if config.schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {config.schedule!r}")
    if peak < 0 or num_steps < 1 or not 0 <= warmup <= num_steps:
        raise ValueError(
            f"make_schedule: need learning_rate >= 0, num_steps >= 1 and 0 <= warmup_steps <= "
            f"num_steps, got {peak}, {num_steps}, {warmup}"
        )
    end = peak * float(config.end_learning_rate_factor)
    decay_steps = max(num_steps - warmup, 1)
    if config.schedule == "cosine":
        decay = optax.cosine_decay_schedule(peak, decay_steps, alpha=end / peak if peak else 0.0)
    elif config.schedule == "linear":
        decay = optax.linear_schedule(peak, end, decay_steps)
    else:
        decay = optax.constant_schedule(peak)
    if warmup == 0:
        return decay
    return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), decay], [warmup])


def decay_mask(params: PyTree) -> PyTree:
    """True for the leaves weight decay applies to: kernels (two or more dimensions)."""
    return jax.tree.map(lambda p: jnp.ndim(p) >= 2, params)


def make_optimizer(
    config, num_steps: int, schedule: optax.Schedule | None = None
) -> optax.GradientTransformation:
    """The optax optimizer of a config: clipping, AdamW or SGD, the schedule.

    Args:
      config: the optimizer config: ``name`` ("adamw" | "sgd"), ``learning_rate``,
        ``warmup_steps``, ``schedule``, ``end_learning_rate_factor``, ``weight_decay``,
        ``grad_clip_norm`` (0 disables), ``b1``, ``b2``, ``eps`` (AdamW), ``momentum``,
        ``nesterov`` (SGD). ``default_config().optimizer`` has them all.
      num_steps: the run's total number of steps (the schedule's horizon).
      schedule: a schedule to use instead of :func:`make_schedule`'s.

    Returns:
      An ``optax.GradientTransformation``.

    Raises:
      ValueError: for an unknown optimizer or a negative clip norm / weight decay.
    """
    if config.name not in OPTIMIZERS:
        raise ValueError(f"optimizer name must be one of {OPTIMIZERS}, got {config.name!r}")
    if config.grad_clip_norm < 0 or config.weight_decay < 0:
        raise ValueError(
            f"make_optimizer: grad_clip_norm and weight_decay must be >= 0, got "
            f"{config.grad_clip_norm} and {config.weight_decay}"
        )
    schedule = make_schedule(config, num_steps) if schedule is None else schedule
    parts = []
    if config.grad_clip_norm > 0:
        parts.append(optax.clip_by_global_norm(config.grad_clip_norm))
    if config.name == "adamw":
        parts.append(
            optax.adamw(
                schedule,
                b1=config.b1,
                b2=config.b2,
                eps=config.eps,
                weight_decay=config.weight_decay,
                mask=decay_mask,
            )
        )
    else:
        if config.weight_decay > 0:
            parts.append(optax.add_decayed_weights(config.weight_decay, mask=decay_mask))
        parts.append(
            optax.sgd(schedule, momentum=config.momentum or None, nesterov=config.nesterov)
        )
    return optax.chain(*parts)


def update_ema(ema_params: PyTree, params: PyTree, decay: float) -> PyTree:
    """``decay * ema + (1 - decay) * params``, leaf by leaf, in the parameters' dtype."""
    return jax.tree.map(
        lambda e, p: (decay * e + (1.0 - decay) * p).astype(p.dtype), ema_params, params
    )
