"""One pure training step, built from a loss function and an optimizer.

``train_step(state, batch, rng) -> (state, metrics)`` is the same Python function for every way
of running it (facejax.train.parallel compiles it with ``jax.jit`` over a mesh or with
``jax.pmap``); it knows only an ``axis_name`` to average over, which the compiled form gives
(``DataParallel.axis_name``: None under jit, "batch" under pmap):

1. the step's randomness is ``fold_in(rng, state.step)``, with ``rng`` the run's base key: a
   resumed run draws what the uninterrupted one drew (under pmap also folded with the device
   index, so that devices draw independently);
2. ``loss_fn`` gives the mean loss over the batch it sees, its metrics and the new BatchNorm
   statistics; ``jax.value_and_grad`` differentiates it with respect to the parameters;
3. under pmap (``axis_name`` set) the gradients, loss, metrics and BatchNorm statistics are
   averaged over the devices with ``lax.pmean`` (see below);
4. the optimizer updates the parameters; the EMA follows them.

**Why the pmap gradient mean is the single-device gradient.** Each device's loss is the mean
over its ``B / D`` examples, so the mean of the ``D`` device gradients is the gradient of the
mean over the global batch of ``B``, exactly what one device computes on the whole batch (shards
must be equal in size, which the input pipeline guarantees). pmap treats the replicated
parameters as per-device inputs, so ``jax.grad`` returns each device's own gradient, not an
already-summed one: the explicit ``pmean`` is needed, and happens once. (Under ``shard_map``
with replicated, unmapped parameters, JAX would instead sum the gradients over devices itself,
and a further ``psum`` would count them ``D`` times: that path is not used here.)

**BatchNorm across devices.** Under jit with a sharded batch the model sees the global batch, so
BatchNorm's statistics are the global ones with no help. Under pmap each device sees ``B / D``
examples: build the model's BatchNorm with ``axis_name=batch_axis_name("pmap")`` ("batch",
facejax.train.parallel) so that it ``pmean`` s its batch mean and mean square across devices;
then normalisation, gradients and running statistics equal the single-device ones. The step also
``pmean`` s the returned running statistics: a no-op for such a model, and for a model whose
BatchNorm does not sync it at least keeps the replicas' statistics identical (the normalisation
itself then uses per-device statistics, and the result differs from one device's: tested).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import optax

from facejax.train import optimizer as optimizer_lib
from facejax.train.precision import floats_at_least_float32
from facejax.train.state import TrainState

PyTree = Any
# loss_fn(params, batch_stats, batch, rng, train=True) -> (loss, (metrics, new_batch_stats))
LossFn = Callable[..., tuple[jax.Array, tuple[dict[str, jax.Array], PyTree]]]
_MOVED_TO_PARALLEL = ("batch_axis_name", "PMAP_AXIS_NAME")


def __getattr__(name: str):
    # Deprecated for one release: the jit/pmap choice lives in facejax.train.parallel.
    if name in _MOVED_TO_PARALLEL:
        warnings.warn(
            f"facejax.train.step.{name} moved to facejax.train.parallel (facejax.train.{name} "
            f"for batch_axis_name)",
            DeprecationWarning,
            stacklevel=2,
        )
        from facejax.train import parallel

        return getattr(parallel, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def global_norm(tree: PyTree) -> jax.Array:
    """The L2 norm of all leaves together (what ``optax.clip_by_global_norm`` clips)."""
    return jnp.sqrt(sum(jnp.sum(jnp.square(x)) for x in jax.tree.leaves(tree)))


def make_train_step(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    ema_decay: float = 0.0,
    axis_name: str | None = None,
    learning_rate_fn: optax.Schedule | None = None,
) -> Callable[[TrainState, PyTree, jax.Array], tuple[TrainState, dict[str, jax.Array]]]:
    """The pure function ``train_step(state, batch, rng) -> (state, metrics)``.

    Args:
      loss_fn: ``loss_fn(params, batch_stats, batch, rng, train=True) -> (loss, (metrics,
        new_batch_stats))``: ``loss`` the scalar mean over the batch it is given (per-element
        losses weighted and averaged inside), ``metrics`` a dict of scalars, ``new_batch_stats``
        the updated BatchNorm statistics (``batch_stats`` itself when there are none).
      optimizer: the optax transformation (facejax.train.make_optimizer).
      ema_decay: decay of the parameters' EMA (needs a state with ``ema_params``); 0: none.
      axis_name: the mapped axis to average over (``DataParallel.axis_name``: "batch" under
        pmap); None under jit or on one device.
      learning_rate_fn: the optimizer's schedule, to report the step's ``learning_rate``.

    Returns:
      ``train_step``; its metrics are float32 (float64 under x64) scalars: the loss function's,
      plus ``loss``, ``grad_norm`` (global norm of the averaged gradient, before clipping) and
      ``learning_rate`` (with ``learning_rate_fn``).
    """
    if not 0.0 <= ema_decay < 1.0:
        raise ValueError(f"make_train_step: ema_decay must be in [0, 1), got {ema_decay}")

    def train_step(state: TrainState, batch: PyTree, rng: jax.Array):
        step_rng = jax.random.fold_in(rng, state.step)
        if axis_name is not None:
            step_rng = jax.random.fold_in(step_rng, jax.lax.axis_index(axis_name))

        def objective(params):
            loss, (metrics, batch_stats) = loss_fn(
                params, state.batch_stats, batch, step_rng, train=True
            )
            loss = jnp.asarray(loss)
            if loss.ndim != 0:
                raise ValueError(
                    f"loss_fn must return the mean loss (a scalar), got shape {loss.shape}: "
                    f"average the per-element losses inside loss_fn"
                )
            return floats_at_least_float32(loss), (floats_at_least_float32(metrics), batch_stats)

        (loss, (metrics, batch_stats)), grads = jax.value_and_grad(objective, has_aux=True)(
            state.params
        )
        if axis_name is not None:
            grads, loss, metrics, batch_stats = jax.lax.pmean(
                (grads, loss, metrics, batch_stats), axis_name
            )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        ema_params = state.ema_params
        if ema_decay > 0.0:
            if ema_params is None:
                raise ValueError(
                    "make_train_step: ema_decay > 0 needs a state made with "
                    "create_train_state(..., ema=True)"
                )
            ema_params = optimizer_lib.update_ema(ema_params, params, ema_decay)
        new_state = state.replace(
            step=state.step + 1,
            params=params,
            batch_stats=batch_stats,
            opt_state=opt_state,
            ema_params=ema_params,
        )
        metrics = {**metrics, "loss": loss, "grad_norm": global_norm(grads)}
        if learning_rate_fn is not None:
            # The rate this update used: optax counts updates from 0, like state.step.
            metrics["learning_rate"] = floats_at_least_float32(
                jnp.asarray(learning_rate_fn(state.step))
            )
        return new_state, metrics

    return train_step
