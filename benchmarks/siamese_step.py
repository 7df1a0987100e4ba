"""Speed of the Siamese recipe's training step (facejax.recipes.siamese), with its FLOPs.

Times, on a jit-compiled function after a warm-up call, the loss and gradient of one batch of
image pairs of an experiments/siamese/config.py variant (``2B`` images through the network).
Images, landmarks and targets are random (the cost does not depend on them). ``full`` trains
on the user's BFM (``model3d`` is empty in its config): this script decodes with ``--model``
instead (the embedded ``synthetic`` model, 6,170 vertices, unless named), so the shape terms'
share is that model's. FLOPs are XLA's count of the lowered step (before backend passes, so
convolutions count on every backend; a multiply-add is 2), hence TFLOP/s and, on an H200, the
share of its dense bf16 peak (model FLOPs utilisation). Wall-clock median and minimum.

Run:
  python benchmarks/siamese_step.py --variant smoke
  python benchmarks/siamese_step.py --variant full --classes 1000   # ResNet-50, bf16 (GPU)
"""

from __future__ import annotations

import json
import os
import sys

import jax
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import identity_step_parser, machine, timed  # noqa: E402


def main() -> None:
    parser = identity_step_parser(__doc__)
    args = parser.parse_args()

    from facejax import morphable
    from facejax.cli.train import load_config
    from facejax.formats import load_model
    from facejax.recipes import networks, siamese

    config = load_config(f"experiments/siamese/config.py:{args.variant}")
    size, pairs = config.data.image_size, config.data.batch_size
    model3d = morphable.to_device(load_model(args.model))
    net = siamese.create_network(config, model3d, num_classes=args.classes)
    variables = jax.jit(networks.make_init_fn(net, model3d, size))(jax.random.key(0))
    rng = np.random.default_rng(0)
    batch = {"same": rng.random(pairs) < 0.5}
    for s in "ab":
        batch[f"image_{s}"] = rng.integers(0, 256, (pairs, size, size, 3), dtype=np.uint8)
        batch[f"identity_coeffs_{s}"] = rng.normal(size=(pairs, model3d.num_identity))
        batch[f"expression_coeffs_{s}"] = rng.normal(size=(pairs, model3d.num_expression))
        batch[f"landmarks_{s}"] = rng.uniform(0.2 * size, 0.8 * size, (pairs, 68, 2))
        batch[f"landmark_visibility_{s}"] = np.ones((pairs, 68), bool)
        batch[f"label_{s}"] = rng.integers(0, args.classes, pairs).astype(np.int32)
    batch = {k: v.astype(np.float32) if v.dtype == np.float64 else v for k, v in batch.items()}
    loss_fn = siamese.make_loss_fn(net, model3d, config)

    def grad(params, batch_stats, batch):
        return jax.grad(lambda p: loss_fn(p, batch_stats, batch, None, train=True)[0])(params)

    step = timed(grad, (variables["params"], variables["batch_stats"], batch), args.repeats)
    result = {
        "variant": args.variant,
        "encoder": config.model.encoder,
        "precision": config.precision,
        "pairs_per_step": pairs,
        "images_per_step": 2 * pairs,
        "image_size": size,
        "model3d": args.model,
        "num_vertices": model3d.num_vertices,
        "classes": args.classes,
        "step": step,
        "images_per_second": 2 * pairs / step["min_s"],
        "machine": machine(),
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
