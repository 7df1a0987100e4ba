"""How much the cycles tell a trained cycle run: each loss term's share of the gradient, and how
much of the cycle image term is the cycle at all.

    python experiments/cycle/cycle_signal.py --workdir runs/cycle_fit/both_6k --pairs 32

Takes the run's latest checkpoint and one batch of its training pairs (its own data, seed and
augmentation) and prints JSON:

* ``terms``: per loss term, its mean value, its weight, the norm of its weighted gradient with
  respect to the network's parameters (BatchNorm in training mode, as in a training step), that
  norm's share of all the terms' norms, and the cosine between that gradient and the
  photometric term's and the whole loss's (:mod:`facejax.train.term_gradients`). Both cycles
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

from facejax import losses, train
from facejax.recipes import cycle
from facejax.recipes import cycle_construction as cc
from facejax.recipes.trained_run import load_run_config


def weighted_term_gradients(net, variables, model3d, config, batch):
    """``(means, grads)`` of :func:`facejax.train.weighted_term_gradients` for the cycle loss."""
    return train.weighted_term_gradients(
        cycle.make_loss_fn(net, model3d, config),
        variables["params"],
        variables["batch_stats"],
        batch,
        functools.partial(cycle._weight, config.loss),
    )


def term_report(means, grads, weights) -> dict:
    """:func:`facejax.train.term_report` with the weights of the config's ``loss`` block and
    the photometric term as the reference direction."""
    return train.term_report(
        means, grads, functools.partial(cycle._weight, weights), reference="photometric"
    )


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

    frames = (train.cast_images(batch[f"image_{side}"], "float32") for side in ("a", "b"))
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
    train_source = cycle._prepare_data(config).as_data_source("train")
    targets = cycle._fit_targets(config, model3d, train_source, args.workdir)
    batch = next(iter(cycle.train_data_fn(config, train_source, targets)()))
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
