"""Where the rasterizer's forward + backward goes, per image, at several batch sizes.

``render_speed.py`` times the whole of ``rasterize`` + ``interpolate`` + an L2 image loss. This
splits it: the visibility pass (which triangle each pixel sees; no gradient) is computed once
and held fixed, then the *per-pixel pass* (the barycentrics recomputed from the visible
triangles' vertices, ``rasterize._interpolate_geometry``, and the colour blend, ``interpolate``)
is timed forward and forward + backward, whole and in its two halves:

- ``per_pixel``: the loss of ``render_speed.py`` from the vertices and colours, visibility fixed;
- ``geometry``: the barycentrics from the vertices (the loss: their sum weighted by a random
  map), gradient with respect to the vertices;
- ``blend``: the colour blend from fixed barycentrics and the colours, gradient with respect to
  both.

Same mesh and image as ``render_speed.py --only large --windows 2``: the 35,721-vertex,
70,688-triangle grid face filling a 224 x 224 image. Each figure is ms per image, the fastest
of the repeats after a warm-up call (the median beside it). On a CPU the backward of the
per-pixel pass costs more per image in a large batch while its forward does not: this shows by
how much, and in which half (docs/performance.md, *Where the backward at batch 32 goes*).

Run:
  python benchmarks/raster_backward_parts.py                  # batches 1, 4 and 32
  python benchmarks/raster_backward_parts.py --batches 1 8 --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

from facejax.render import interpolate, rasterize
from facejax.render.rasterize import Fragments, _interpolate_geometry

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from render_speed import grid_mesh  # noqa: E402
from timing import machine, median_and_min  # noqa: E402

SIZE = 224
WINDOW = 2


def part_functions(vertices, colours, triangles, target, triangle_id):
    """``{name: (loss, argnums, args)}`` of each part: its scalar loss, the arguments its
    gradient is taken with respect to, and its inputs."""
    batch = vertices.shape[0]
    no_overflow = jnp.zeros((batch,), jnp.int32)

    def geometry(v):
        return _interpolate_geometry(v, triangles, triangle_id, perspective_correct=True)

    def blend_loss(barycentric, depth, mask, c):
        fragments = Fragments(triangle_id, barycentric, depth, mask, no_overflow)
        return jnp.sum((interpolate(fragments, triangles, c) - target) ** 2)

    def per_pixel_loss(v, c):
        return blend_loss(*geometry(v), c)

    barycentric, depth, mask = jax.jit(geometry)(vertices)
    weights = jnp.asarray(
        np.random.default_rng(1).uniform(size=barycentric.shape).astype(np.float32)
    )

    def geometry_loss(v):
        return jnp.sum(geometry(v)[0] * weights)

    def blend_only(b, c):
        return blend_loss(b, depth, mask, c)

    return {
        "per_pixel": (per_pixel_loss, (0, 1), (vertices, colours)),
        "geometry": (geometry_loss, (0,), (vertices,)),
        "blend": (blend_only, (0, 1), (barycentric, colours)),
    }


def batch_parts(batch: int) -> dict:
    """:func:`part_functions` of ``batch`` copies of the grid face, random colours and target,
    and the visibility computed once."""
    mesh_vertices, mesh_triangles = grid_mesh(189, 189, SIZE)
    rng = np.random.default_rng(0)
    colours = rng.uniform(size=(len(mesh_vertices), 3)).astype(np.float32)
    target = jnp.asarray(rng.uniform(size=(SIZE, SIZE, 3)).astype(np.float32))
    vertices = jnp.asarray(np.broadcast_to(mesh_vertices, (batch,) + mesh_vertices.shape).copy())
    colours = jnp.asarray(np.broadcast_to(colours, (batch,) + colours.shape).copy())
    triangles = jnp.asarray(mesh_triangles)
    triangle_id = jax.jit(lambda v: rasterize(v, triangles, SIZE, SIZE, window=WINDOW).triangle_id)(
        vertices
    )
    return part_functions(vertices, colours, triangles, target, triangle_id)


def measure(batch: int, repeats: int) -> dict:
    result = {"batch": batch, "repeats": repeats}
    for name, (loss, argnums, args) in batch_parts(batch).items():
        for direction, fn in (
            ("forward", jax.jit(loss)),
            ("forward_backward", jax.jit(jax.grad(loss, argnums=argnums))),
        ):
            median, fastest = median_and_min(lambda fn=fn, args=args: fn(*args), repeats)
            result[f"{name}_{direction}_ms"] = round(1e3 * fastest / batch, 3)
            result[f"{name}_{direction}_median_ms"] = round(1e3 * median / batch, 3)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 32])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if min(args.batches) < 1 or args.repeats < 1:
        parser.error(f"--batches and --repeats must be positive: {args.batches}, {args.repeats}")
    results = []
    for batch in args.batches:
        results.append(measure(batch, args.repeats))
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"machine": machine(), "results": results}))


if __name__ == "__main__":
    main()
