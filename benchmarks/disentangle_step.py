"""Speed of the disentangle recipe's training step (facejax.recipes.disentangle), with its FLOPs.

Times, on a jit-compiled function after a warm-up call, the loss and gradient of one batch of an
experiments/disentangle/config.py variant. Images, landmarks and targets are random (the cost
does not depend on them). ``full`` trains on the user's BFM (``model3d`` is empty in its
config): this script decodes with ``--model`` instead (the embedded ``synthetic`` model, 6,170
vertices, unless named), so the shape terms' share is that model's. FLOPs are XLA's count of the
lowered step (benchmarks/timing.py: convolutions count on every backend; a multiply-add is 2),
hence TFLOP/s and, on an H200, the share of its dense bf16 peak (model FLOPs utilisation). The
siamese and cycle recipes have the same script (siamese_step.py, cycle_step.py).

Run:
  python benchmarks/disentangle_step.py --variant small
  python benchmarks/disentangle_step.py --variant full --classes 1000   # ResNet-50, bf16 (GPU)
  python benchmarks/disentangle_step.py --variant full --flops-only     # the count, on a CPU
"""

from __future__ import annotations

import json
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import identity_step_parser, lowered_flops, machine, timed  # noqa: E402


def main() -> None:
    parser = identity_step_parser(__doc__)
    parser.add_argument("--batch", type=int, help="images a step (default: the config's)")
    parser.add_argument(
        "--flops-only",
        action="store_true",
        help="lower the step and print XLA's FLOP count, without compiling or running it (for "
        "a GPU's utilisation from a CPU machine's count, see benchmarks/timing.py)",
    )
    args = parser.parse_args()

    from facejax import morphable
    from facejax.cli.train import load_config
    from facejax.formats import load_model
    from facejax.recipes import disentangle, networks

    config = load_config(f"experiments/disentangle/config.py:{args.variant}")
    size, images = config.data.image_size, args.batch or config.data.batch_size
    model3d = morphable.to_device(load_model(args.model))
    net = disentangle.create_network(config, model3d, num_classes=args.classes)
    variables = jax.jit(networks.make_init_fn(net, model3d, size))(jax.random.key(0))
    rng = np.random.default_rng(0)
    batch = {
        "image": rng.integers(0, 256, (images, size, size, 3), dtype=np.uint8),
        "identity_coeffs": rng.normal(size=(images, model3d.num_identity)),
        "expression_coeffs": rng.normal(size=(images, model3d.num_expression)),
        "landmarks": rng.uniform(0.2 * size, 0.8 * size, (images, 68, 2)),
        "landmark_visibility": np.ones((images, 68), bool),
        "label": rng.integers(0, args.classes, images).astype(np.int32),
    }
    batch = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in batch.items()}
    loss_fn = disentangle.make_loss_fn(net, model3d, config)

    def grad(params, batch_stats, batch):
        return jax.grad(lambda p: loss_fn(p, batch_stats, batch, None, train=True)[0])(params)

    step_args = (variables["params"], variables["batch_stats"], batch)
    if args.flops_only:
        step = {"xla_flops": lowered_flops(jax.jit(grad).lower(*step_args))}
    else:
        step = timed(grad, step_args, args.repeats)
    result = {
        "variant": args.variant,
        "encoder": config.model.encoder,
        "precision": config.precision,
        "images_per_step": images,
        "image_size": size,
        "model3d": args.model,
        "num_vertices": model3d.num_vertices,
        "classes": args.classes,
        "step": step,
        "images_per_second": images / step["min_s"] if "min_s" in step else None,
        "machine": machine(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
