"""How much the cycles tell a trained cycle run: each loss term's share of the gradient, and how
much of the cycle image term is the cycle at all.

    python experiments/cycle/cycle_signal.py --workdir runs/cycle_fit/both_6k --pairs 32

Takes the run's latest checkpoint and one batch of its training pairs (its own data, seed and
augmentation) and prints JSON:

* ``terms``: per loss term, its mean value, its weight, the norm of its weighted gradient with
  respect to the network's parameters (BatchNorm in training mode, as in a training step), and
  the cosine between that gradient and the photometric term's and the whole loss's. Both cycles
  are computed whether or not the run trained with them (``trained_with`` says which it did).
* ``images``: per cycle, the cycle image term's parts over the face region the image rendered
  back covers (mean absolute colour difference): the image rendered back against frame ``a``
  (the term itself), frame ``a``'s own rendering against frame ``a`` (what the renderer cannot
  reproduce, whatever the cycle does) and the image rendered back against frame ``a``'s own
  rendering (what the cycle changed).

The synthetic truth is not read.
"""

from __future__ import annotations

import argparse
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np

from facejax import losses
from facejax.recipes import clip_identity_targets, cycle
from facejax.recipes import cycle_construction as cc
from facejax.recipes.trained_run import load_run_config
from facejax.train import cast_images


def _dot(a, b) -> float:
    pairs = zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    return float(sum(jnp.vdot(x, y) for x, y in pairs))


def _norm(tree) -> float:
    return _dot(tree, tree) ** 0.5


def _cosine(a, b) -> float:
    norms = _norm(a) * _norm(b)
    return _dot(a, b) / norms if norms > 0 else float("nan")


def weighted_term_gradients(net, variables, model3d, config, batch):
    """``(means, grads)``: per loss term (``loss_<term>``) its mean over the batch and the
    gradient of its weighted mean with respect to the parameters; the grads add up to the
    loss's gradient in a training step."""
    loss_fn = cycle.make_loss_fn(net, model3d, config)
    params, batch_stats = variables["params"], variables["batch_stats"]

    def term_means(p):
        return loss_fn(p, batch_stats, batch, None, True)[1][0]

    means, vjp = jax.jit(functools.partial(jax.vjp, term_means))(params)
    backward = jax.jit(vjp)
    grads = {}
    for name in means:
        cotangent = {k: jnp.zeros_like(v) for k, v in means.items()}
        cotangent[name] = jnp.ones_like(means[name])
        weight = cycle._weight(config.loss, name.removeprefix("loss_"))
        grads[name] = jax.tree.map(lambda g, w=weight: w * g, backward(cotangent)[0])
    return means, grads


def term_report(means, grads, weights) -> dict:
    """Per loss term of :func:`weighted_term_gradients`: mean value, weight (from the config's
    ``loss`` block ``weights``), weighted gradient norm and its cosines."""
    total = jax.tree.map(lambda *g: sum(g), *grads.values())
    photometric = grads["loss_photometric"]
    return {
        name.removeprefix("loss_"): {
            "value": float(means[name]),
            "weight": float(cycle._weight(weights, name.removeprefix("loss_"))),
            "weighted_gradient_norm": _norm(grad),
            "cosine_with_photometric": _cosine(grad, photometric),
            "cosine_with_total": _cosine(grad, total),
        }
        for name, grad in grads.items()
    }


def image_parts(net, variables, model3d, config, batch, cycles=tuple(cycle.CYCLES)) -> dict:
    """Per cycle: the image rendered back and frame ``a``'s own rendering against frame ``a``,
    and against each other, over the face region the image rendered back covers."""

    @jax.jit
    def parts(frames_a, frames_b):
        encode = cycle._encoder(net, variables, model3d, config.precision, train=False)
        codes_a, codes_b = encode(frames_a), encode(frames_b)
        own = cc.render_codes(model3d, codes_a, frames_a).image
        out = {}
        for name in cycles:
            back = cycle.CYCLES[name](encode, model3d, codes_a, codes_b, frames_a).reversed_images

            def l1(x, y, mask=back.face_mask):
                return jnp.mean(losses.cycle_consistency_loss(x, y, mask))

            out[name] = {
                "back_vs_frame_a": l1(frames_a, back.image),
                "own_rendering_vs_frame_a": l1(frames_a, own),
                "back_vs_own_rendering": l1(own, back.image),
            }
        return out

    frames = (cast_images(batch[f"image_{side}"], "float32") for side in ("a", "b"))
    return jax.tree.map(float, parts(*frames))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--pairs", type=int, default=32, help="training pairs in the batch")
    parser.add_argument(
        "--cycle-image-target",
        choices=cycle.CYCLE_IMAGE_TARGETS,
        help="measure the terms with this loss.cycle_image_target (default: the run's)",
    )
    args = parser.parse_args()

    config = load_run_config(args.workdir, recipe="cycle")
    trained_with = {name: bool(config.loss[name]) for name in cycle.CYCLES}
    with config.unlocked():
        config.data.batch_size = args.pairs
        for name in cycle.CYCLES:
            config.loss[name] = True
        config.loss.cycle_image_target = args.cycle_image_target or config.loss.get(
            "cycle_image_target", "frame"
        )
    net, variables, model3d, step = cycle.restore(config, args.workdir)
    train = cycle._prepare_data(config).as_data_source("train")
    targets = None
    if config.loss.w_fitted_identity:
        targets = clip_identity_targets.cached_clip_identities(
            model3d, train, config.data.image_size, args.workdir, model_name=config.model3d
        )
    batch = next(iter(cycle.train_data_fn(config, train, targets)()))
    batch = {k: jnp.asarray(np.asarray(v)) for k, v in batch.items()}
    report = {
        "workdir": args.workdir,
        "step": int(step),
        "pairs": args.pairs,
        "trained_with": trained_with,
        "cycle_image_target": config.loss.cycle_image_target,
        "terms": term_report(
            *weighted_term_gradients(net, variables, model3d, config, batch), config.loss
        ),
        "images": image_parts(net, variables, model3d, config, batch),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
