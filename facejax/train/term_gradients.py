"""What each loss term contributes to a training step: its weighted gradient, norm and direction.

A joint loss is a weighted sum of terms, and a term's value says little about how much it
steers training: a small term can have a large gradient, and two large ones can cancel. For a
``loss_fn(params, batch_stats, batch, rng, train)`` of facejax.train whose metrics report each
term's batch mean as ``loss_<term>``, :func:`weighted_term_gradients` gives each term's weighted
gradient with respect to the parameters (one forward pass and one backward pass per term, the
network in training mode as in a training step), and :func:`term_report` their norms and
cosines with the whole gradient and with a reference term.

Used by experiments/cycle/cycle_signal.py and experiments/siamese/siamese_signal.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

PREFIX = "loss_"


def _dot(a, b) -> float:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return float(sum(jnp.vdot(x, y) for x, y in pairs))


def tree_norm(tree) -> float:
    """The Euclidean norm of all leaves together."""
    return _dot(tree, tree) ** 0.5


def tree_cosine(a, b) -> float:
    """The cosine between two pytrees as vectors; NaN where either is zero."""
    norms = tree_norm(a) * tree_norm(b)
    return _dot(a, b) / norms if norms > 0 else float("nan")


def weighted_term_gradients(
    loss_fn: Callable, params, batch_stats, batch, weight_of: Callable[[str], float], rng=None
):
    """``(means, grads)``: for each metric ``loss_<term>`` of ``loss_fn``, its value on the batch
    and ``weight_of(term)`` times its gradient with respect to ``params``.

    The loss's total must be ``sum(weight_of(term) * loss_<term>)`` for the grads to add up to
    its gradient (the recipes' losses are; the tests check it). Other metrics are left out.
    """

    def term_means(p):
        metrics = loss_fn(p, batch_stats, batch, rng, True)[1][0]
        return {k: v for k, v in metrics.items() if k.startswith(PREFIX)}

    means, vjp = jax.jit(functools.partial(jax.vjp, term_means))(params)
    backward = jax.jit(vjp)
    grads = {}
    for name in means:
        cotangent = {k: jnp.zeros_like(v) for k, v in means.items()}
        cotangent[name] = jnp.ones_like(means[name])
        weight = weight_of(name.removeprefix(PREFIX))
        grads[name] = jax.tree.map(lambda g, w=weight: w * g, backward(cotangent)[0])
    return means, grads


def term_report(
    means, grads, weight_of: Callable[[str], float], reference: str | None = None
) -> dict:
    """Per term of :func:`weighted_term_gradients`: ``value``, ``weight``,
    ``weighted_gradient_norm``, ``share_of_norms`` (its norm over the sum of all terms' norms),
    ``cosine_with_total`` and, with ``reference``, ``cosine_with_<reference>``."""
    total = jax.tree.map(lambda *g: sum(g), *grads.values())
    norms = {name: tree_norm(grad) for name, grad in grads.items()}
    norm_sum = sum(norms.values())
    report = {}
    for name, grad in grads.items():
        term = name.removeprefix(PREFIX)
        row = {
            "value": float(means[name]),
            "weight": float(weight_of(term)),
            "weighted_gradient_norm": norms[name],
            "share_of_norms": norms[name] / norm_sum if norm_sum > 0 else float("nan"),
            "cosine_with_total": tree_cosine(grad, total),
        }
        if reference is not None:
            row[f"cosine_with_{reference}"] = tree_cosine(grad, grads[PREFIX + reference])
        report[term] = row
    report["total"] = {"weighted_gradient_norm": tree_norm(total)}
    return report
