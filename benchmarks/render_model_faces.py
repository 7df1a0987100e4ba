"""Speed of rasterizing a morphable model's random faces at several image sizes.

``interpolate(rasterize(...))`` of the vertex colours of a batch of random faces
(``morphable.random_params``) of the embedded ``synthetic`` model (12,336 triangles) unless
``--model`` names another, with back-face culling and the default window and budgets, the way
the recipes render: forward, and forward + backward of an L2 image loss with respect to the
screen vertices and the colours. ms per image on jit-compiled functions after a warm-up call,
wall-clock median and minimum of the repeats (the CPU may be shared: the minimum is the closest
to the uncontended cost), and the compile time of the forward pass.

Run:
  python benchmarks/render_model_faces.py                      # 64, 112, 224 px, batch 8
  python benchmarks/render_model_faces.py --sizes 112 --batch 32
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import machine, median_and_min  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="synthetic")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 112, 224])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    from facejax import morphable
    from facejax.formats import load_model
    from facejax.render import default_window, interpolate, rasterize

    model = morphable.to_device(load_model(args.model))
    triangles = model.triangles
    results = []
    for size in args.sizes:
        keys = jax.random.split(jax.random.key(0), args.batch)
        params = jax.vmap(lambda k, size=size: morphable.random_params(model, k, image_size=size))(
            keys
        )
        faces = jax.vmap(lambda p: morphable.decode(model, p))(params)

        def image(screen, colours, size=size):
            fragments = rasterize(screen, triangles, size, size, cull_backfaces=True)
            return interpolate(fragments, triangles, colours)

        forward = jax.jit(image)
        gradient = jax.jit(jax.grad(lambda s, c: jnp.sum(jnp.square(image(s, c))), argnums=(0, 1)))
        inputs = (faces.screen_vertices, faces.colors)
        start = time.perf_counter()
        forward.lower(*inputs).compile()
        compile_s = time.perf_counter() - start
        result = {
            "size": size,
            "batch": args.batch,
            "window": default_window(int(triangles.shape[0]), size, size),
            "compile_forward_s": round(compile_s, 2),
        }
        for name, fn in (("forward", forward), ("forward_backward", gradient)):
            median, fastest = median_and_min(lambda fn=fn, x=inputs: fn(*x), args.repeats)
            result[f"{name}_ms_per_image"] = round(1e3 * median / args.batch, 3)
            result[f"{name}_min_ms_per_image"] = round(1e3 * fastest / args.batch, 3)
        print(json.dumps(result), flush=True)
        results.append(result)
    summary = {"model": args.model, "triangles": int(triangles.shape[0]), "results": results}
    print(json.dumps(summary | {"machine": machine()}))


if __name__ == "__main__":
    main()
