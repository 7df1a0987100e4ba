"""Speed of the cycle recipe's training step (facejax.recipes.cycle), and the renderer's share.

Times, on jit-compiled functions after a warm-up call, the loss and gradient of one batch of
frame pairs of an experiments/cycle/config.py variant: with both cycles, with none, and one
render (forward and backward) of the ``2B`` frames' faces alone. With both cycles a step renders
``6B`` faces (each frame; per cycle the injected and the reversed faces of ``B`` pairs), three
times that render; without cycles, once. Images and landmarks are random (the
cost does not depend on them); the network is untrained (faces of the mean size). Wall-clock
median and minimum of the repeats (the CPU may be shared: the minimum is the closest to the
uncontended cost) and compile times.

Run:
  python benchmarks/cycle_step.py                  # the small variant, prints JSON
  python benchmarks/cycle_step.py --variant smoke --repeats 5
  python benchmarks/cycle_step.py --variant full   # ResNet-50, bf16, 112 px, 64 pairs (GPU)

With XLA's FLOP count of each lowered step (benchmarks/timing.py), its TFLOP/s and, on an
H200, the share of the dense bf16 peak (model FLOPs utilisation).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import machine, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="small")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from facejax import morphable
    from facejax.cli.train import load_config
    from facejax.formats import load_model
    from facejax.recipes import cycle, cycle_construction, networks

    config = load_config(f"experiments/cycle/config.py:{args.variant}")
    size, pairs = config.data.image_size, config.data.batch_size
    model3d = morphable.to_device(load_model(config.model3d))
    net = cycle.create_network(config)
    variables = jax.jit(networks.make_init_fn(net, model3d, size))(jax.random.key(0))
    rng = np.random.default_rng(0)
    batch = {
        f"image_{s}": rng.integers(0, 256, (pairs, size, size, 3), dtype=np.uint8) for s in "ab"
    }
    for s in "ab":
        batch[f"landmarks_{s}"] = rng.uniform(0.2 * size, 0.8 * size, (pairs, 68, 2)).astype(
            np.float32
        )
        batch[f"has_landmarks_{s}"] = np.ones((pairs,), bool)
    # The targets fitted to each clip and frame (zero: the mean face, neutral and frontal), in
    # the batch whatever the weights: the loss reads only those of its terms.
    batch["fitted_identity"] = np.zeros((pairs, model3d.num_identity), np.float32)
    batch["fitted_identity_valid"] = np.ones((pairs,), bool)
    for s in "ab":
        batch[f"fitted_expression_{s}"] = np.zeros((pairs, model3d.num_expression), np.float32)
        batch[f"fitted_angles_{s}"] = np.zeros((pairs, 3), np.float32)
        batch[f"fitted_frame_valid_{s}"] = np.ones((pairs,), bool)

    def step_fn(loss_config):
        with config.unlocked():
            config.loss.update(loss_config)
        loss_fn = cycle.make_loss_fn(net, model3d, config)

        def grad(params, batch_stats, batch):
            return jax.grad(lambda p: loss_fn(p, batch_stats, batch, None, train=True)[0])(params)

        return grad

    state = (variables["params"], variables["batch_stats"], batch)
    results = {
        "variant": args.variant,
        "pairs_per_step": pairs,
        "image_size": size,
        "num_vertices": int(model3d.mean_shape.shape[0]),
        "step_both_cycles": timed(
            step_fn({"pose_cycle": True, "expression_cycle": True}), state, args.repeats
        ),
        "step_no_cycle": timed(
            step_fn({"pose_cycle": False, "expression_cycle": False}), state, args.repeats
        ),
    }
    images = jnp.concatenate([batch["image_a"], batch["image_b"]]).astype(jnp.float32) / 255.0
    codes = jax.jit(lambda v, x: net.apply(v, x, model3d, train=False))(variables, images)

    def render_grad(codes, images):
        def total(codes):
            return jnp.sum(cycle_construction.render_codes(model3d, codes, images).image)

        return jax.grad(total)(codes)

    results["render_2b_faces_fwd_bwd"] = timed(render_grad, (codes, images), args.repeats)
    step = results["step_both_cycles"]["min_s"]
    results["frames_per_second_both_cycles"] = 2 * pairs / step
    results["machine"] = machine()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
