"""Speed of ``jax.vmap(render_face)`` against rendering the same faces one at a time.

``facejax.render.render_face`` renders one face; the library's docs batch it with ``jax.vmap``.
This times, per image, on jit-compiled functions after a warm-up call: one face per call (the
batch rendered by a Python loop over a jitted one-face render), and the whole batch in one
``jax.vmap`` call; forward (the image) and forward + backward (the gradient of an L2 image loss
with respect to every parameter). The faces are random (``morphable.random_params``) of the
embedded ``synthetic`` model (6,170 vertices) unless ``--model`` names another. Wall-clock
median and minimum of the repeats (the CPU may be shared: the minimum is the closest to the
uncontended cost).

Run:
  python benchmarks/render_face_batching.py                 # 224 px, batch 8, prints JSON
  python benchmarks/render_face_batching.py --size 64 --batch 32
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import host_memory, median_and_min  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="synthetic")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from facejax import morphable
    from facejax.formats import load_model
    from facejax.render import render_face

    model = morphable.to_device(load_model(args.model))
    size, batch = args.size, args.batch
    keys = jax.random.split(jax.random.key(0), batch)
    params = jax.vmap(lambda k: morphable.random_params(model, k, image_size=size))(keys)
    one = [jax.tree.map(lambda x, i=i: x[i], params) for i in range(batch)]
    target = jnp.full((size, size, 3), 0.5)

    def image(p):
        return render_face(model, p, size, size).image

    def loss(p):
        return jnp.mean(jnp.square(image(p) - target))

    single = {"forward": jax.jit(image), "forward_backward": jax.jit(jax.grad(loss))}
    mapped = {
        "forward": jax.jit(jax.vmap(image)),
        "forward_backward": jax.jit(jax.vmap(jax.grad(loss))),
    }
    results = []
    for pass_name in ("forward", "forward_backward"):
        fn = single[pass_name]
        loop_median, loop_min = median_and_min(lambda fn=fn: [fn(p) for p in one], args.repeats)
        fn = mapped[pass_name]
        vmap_median, vmap_min = median_and_min(lambda fn=fn: fn(params), args.repeats)
        row = {
            "pass": pass_name,
            "size": size,
            "batch": batch,
            "one_at_a_time_ms_per_image": 1e3 * loop_median / batch,
            "one_at_a_time_min_ms_per_image": 1e3 * loop_min / batch,
            "vmap_ms_per_image": 1e3 * vmap_median / batch,
            "vmap_min_ms_per_image": 1e3 * vmap_min / batch,
        }
        row["vmap_over_one_at_a_time"] = (
            row["vmap_ms_per_image"] / row["one_at_a_time_ms_per_image"]
        )
        print(json.dumps(row), flush=True)
        results.append(row)
    print(
        json.dumps(
            {
                "results": results,
                "model": args.model,
                "num_vertices": int(model.mean_shape.shape[0]),
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor(),
                    "cpu_count": os.cpu_count(),
                    "jax": jax.__version__,
                    "backend": jax.default_backend(),
                    "devices": [str(d) for d in jax.devices()],
                    "host_memory": host_memory(),
                },
            }
        )
    )


if __name__ == "__main__":
    main()
