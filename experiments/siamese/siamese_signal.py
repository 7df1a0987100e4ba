"""How much the contrastive and identity losses steer a trained Siamese run: each loss term's
share of a training step's gradient.

    python experiments/siamese/siamese_signal.py \
        --workdir runs/siamese_ablation/contrastive_+_identity/0

Takes the run's latest checkpoint (its EMA parameters where it kept them) and one batch of its
training pairs (its own data, seed and augmentation) and prints JSON: per loss term, its mean
value, its weight, the norm of its weighted gradient with respect to the network's parameters
(BatchNorm in training mode, as in a training step), that norm's share of all the terms' norms,
and the cosine between that gradient and the whole loss's and the landmark term's
(:mod:`facejax.train.term_gradients`). A term the run trained with weight 0 is measured with
weight 1 (``trained_weights`` says which), so its direction can be compared with the others'.
"""

from __future__ import annotations

import argparse
import json

import jax.numpy as jnp
import numpy as np

from facejax import train
from facejax.recipes import datasets, siamese
from facejax.recipes.trained_run import load_run_config

MEASURED_IF_UNUSED = ("w_contrastive", "w_identification")


def measure(config, workdir, pairs: int) -> dict:
    """The report of the module docstring for the run in ``workdir`` (its ``config``)."""
    trained_weights = {name: float(config.loss[name]) for name in MEASURED_IF_UNUSED}
    with config.unlocked():
        config.data.batch_size = pairs
        for name, weight in trained_weights.items():
            config.loss[name] = weight or 1.0
    net, variables, model3d, step = siamese.restore(config, workdir)
    builder, metadata = datasets.prepare_dataset(config)
    loader = datasets.RelabelledBatches(
        siamese._pair_loader(config, builder.as_data_source("train"), workdir),
        datasets.train_label_map(metadata),
        datasets.PAIR_LABELS,
    )
    batch = next(iter(loader))
    batch = {k: jnp.asarray(np.asarray(v)) for k, v in batch.items()}

    def weight_of(term):
        return config.loss[f"w_{term}"]

    means, grads = train.weighted_term_gradients(
        siamese.make_loss_fn(net, model3d, config),
        variables["params"],
        variables["batch_stats"],
        batch,
        weight_of,
    )
    return {
        "workdir": str(workdir),
        "step": int(step),
        "pairs": pairs,
        "positive_pairs": int(np.sum(np.asarray(batch["same"]))),
        "trained_weights": trained_weights,
        "terms": train.term_report(means, grads, weight_of, reference="landmarks"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--pairs", type=int, default=64, help="training pairs in the batch")
    args = parser.parse_args()
    config = load_run_config(args.workdir, recipe="siamese")
    print(json.dumps(measure(config, args.workdir, args.pairs), indent=1))


if __name__ == "__main__":
    main()
