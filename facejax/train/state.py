"""The training state: one pytree of everything a step reads and writes, and nothing else.

``TrainState`` holds arrays only (step, parameters, BatchNorm statistics, optimizer state, EMA of
the parameters). The optimizer's code (an ``optax.GradientTransformation``), the model and the
loss are not in it: they are arguments of :func:`facejax.train.make_train_step`, so the state can
be checkpointed, sharded and donated as plain data.

There is no RNG key in the state either. Every step derives its randomness from the run's seed
and the step number (``jax.random.fold_in(key, step)``, big_vision style), so a resumed run needs
only the seed and the restored ``step`` to draw exactly what the uninterrupted run drew.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax
import jax
import jax.numpy as jnp
import optax

PyTree = Any


@flax.struct.dataclass
class TrainState:
    """Everything a training step updates.

    Attributes:
      step: int32 scalar, the number of updates applied so far.
      params: the model's trainable parameters (float32, whatever the compute precision).
      batch_stats: running BatchNorm statistics (Flax's ``"batch_stats"`` collection; an empty
        dict for a model without BatchNorm).
      opt_state: the optax optimizer state.
      ema_params: exponential moving average of ``params`` (same tree), or None when the run
        keeps no EMA. Evaluate with :func:`eval_variables`.
    """

    step: jax.Array
    params: PyTree
    batch_stats: PyTree
    opt_state: PyTree
    ema_params: PyTree | None = None


def create_train_state(
    variables: Mapping[str, PyTree], optimizer: optax.GradientTransformation, *, ema: bool = False
) -> TrainState:
    """The state at step 0 from a Flax model's variables.

    Args:
      variables: ``model.init(...)`` output: ``{"params": ..., "batch_stats": ...}``
        (``batch_stats`` optional). Other collections are an error: the step would drop them.
      optimizer: the optax transformation the step will apply (its state is initialised here).
      ema: keep an exponential moving average of the parameters, starting at the parameters.

    Returns:
      A :class:`TrainState` with ``step == 0``.

    Raises:
      ValueError: when ``variables`` has no ``"params"`` or a collection other than
        ``"params"`` and ``"batch_stats"``.
    """
    variables = dict(flax.core.unfreeze(variables))
    if "params" not in variables:
        raise ValueError(
            f"create_train_state: variables have no 'params' (got {sorted(variables)})"
        )
    extra = sorted(set(variables) - {"params", "batch_stats"})
    if extra:
        raise ValueError(
            f"create_train_state: unsupported variable collections {extra}: the train step "
            f"updates only 'params' and 'batch_stats'"
        )
    params = variables["params"]
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats=variables.get("batch_stats", {}),
        opt_state=optimizer.init(params),
        # A copy, not an alias: the step donates the state, and donated buffers must be distinct.
        ema_params=jax.tree.map(jnp.array, params) if ema else None,
    )


def eval_variables(state: TrainState, *, use_ema: bool = True) -> dict[str, PyTree]:
    """The variables to evaluate with: ``{"params", "batch_stats"}``, EMA parameters if kept.

    Args:
      state: a training state.
      use_ema: use ``state.ema_params`` when the state has them.
    """
    params = state.ema_params if use_ema and state.ema_params is not None else state.params
    return {"params": params, "batch_stats": state.batch_stats}
