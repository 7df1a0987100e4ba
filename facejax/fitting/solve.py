"""Minimising a fitting objective with optax: Adam with a decaying learning rate, or L-BFGS.

Both run a static number of iterations inside ``jax.lax.scan``, so a fit is one compiled
program that ``jax.vmap`` batches over faces (every face runs the same number of steps; a face
that has converged just takes tiny steps).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

Array = Any

# Adam's learning rate decays (cosine) to this fraction of its initial value.
ADAM_FINAL_FRACTION = 0.01


def adam_schedule(learning_rate: float, steps: int) -> optax.Schedule:
    """Cosine decay from ``learning_rate`` to ``ADAM_FINAL_FRACTION`` of it over ``steps``."""
    return optax.cosine_decay_schedule(learning_rate, steps, alpha=ADAM_FINAL_FRACTION)


def optimizer(
    name: str,
    *,
    steps: int,
    learning_rate: float = 0.05,
    memory_size: int = 10,
    linesearch_steps: int = 16,
) -> optax.GradientTransformationExtraArgs:
    """The optax transformation of ``name``: ``"adam"`` or ``"lbfgs"``.

    ``"lbfgs"`` is ``optax.lbfgs`` with ``optax.scale_by_zoom_linesearch`` (strong Wolfe
    conditions, at most ``linesearch_steps`` evaluations per iteration); its ``update`` needs
    ``value``, ``grad`` and ``value_fn`` (see :func:`minimize`).
    """
    if name == "adam":
        return optax.adam(adam_schedule(learning_rate, steps))
    if name == "lbfgs":
        return optax.lbfgs(
            memory_size=memory_size,
            linesearch=optax.scale_by_zoom_linesearch(
                max_linesearch_steps=linesearch_steps, initial_guess_strategy="one"
            ),
        )
    raise ValueError(f"unknown optimizer {name!r}; one of 'adam', 'lbfgs'")


def minimize(
    fun: Callable[[Any], Array],
    x0,
    *,
    method: str = "adam",
    steps: int = 300,
    learning_rate: float = 0.05,
    memory_size: int = 10,
    linesearch_steps: int = 16,
) -> tuple[Any, Array]:
    """Minimises a scalar function of a pytree for ``steps`` iterations.

    Args:
      fun: ``x -> []`` differentiable objective.
      x0: initial pytree of float arrays.
      method: ``"adam"`` or ``"lbfgs"``.
      steps: iterations (static).
      learning_rate: Adam's initial learning rate (ignored by L-BFGS, which line-searches).
      memory_size: L-BFGS history size.
      linesearch_steps: L-BFGS line-search budget per iteration.

    Returns:
      ``(x, values [steps])``: the final pytree and the objective before each iteration.
    """
    opt = optimizer(
        method,
        steps=steps,
        learning_rate=learning_rate,
        memory_size=memory_size,
        linesearch_steps=linesearch_steps,
    )
    if method == "lbfgs":
        # Reuses the value and gradient the line search already computed at the accepted point.
        value_and_grad = optax.value_and_grad_from_state(fun)

        def step(carry, _):
            x, state = carry
            value, grad = value_and_grad(x, state=state)
            updates, state = opt.update(grad, state, x, value=value, grad=grad, value_fn=fun)
            return (optax.apply_updates(x, updates), state), value

    else:

        def step(carry, _):
            x, state = carry
            value, grad = jax.value_and_grad(fun)(x)
            updates, state = opt.update(grad, state, x)
            return (optax.apply_updates(x, updates), state), value

    (x, _), values = jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)
    return x, values
