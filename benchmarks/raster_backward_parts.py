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

With ``--arrangements`` it also times the whole per-pixel pass arranged two other ways over the
same batch (ms per image, both directions):

- ``per_pixel_vmap``: ``jax.vmap`` of the one-image loss, what ``jax.vmap`` of a one-image render
  pays (its gathers index each image's vertices with a batch index and a vertex index, where the
  native batch gathers from all the images' vertices laid end to end);
- ``per_pixel_image_by_image``: a ``jax.lax.map`` over the images, each image's loss *and its
  gradient* computed inside the loop: what the batch's backward would cost at one image's
  efficiency, the most a per-image backward could gain.

Run:
  python benchmarks/raster_backward_parts.py                  # batches 1, 4 and 32
  python benchmarks/raster_backward_parts.py --batches 1 8 --repeats 5
  python benchmarks/raster_backward_parts.py --batches 32 --arrangements
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


def _blend_loss(barycentric, depth, mask, colours, triangle_id, triangles, target):
    """The L2 image loss of the colours blended over fixed barycentrics (images ``[N, ...]``)."""
    no_overflow = jnp.zeros(triangle_id.shape[:1], jnp.int32)
    fragments = Fragments(triangle_id, barycentric, depth, mask, no_overflow)
    return jnp.sum((interpolate(fragments, triangles, colours) - target) ** 2)


def _per_pixel_loss(vertices, colours, triangle_id, triangles, target):
    """The per-pixel pass and its loss, visibility (``triangle_id [N, H, W]``) fixed."""
    geometry = _interpolate_geometry(vertices, triangles, triangle_id, perspective_correct=True)
    return _blend_loss(*geometry, colours, triangle_id, triangles, target)


def part_functions(vertices, colours, triangles, target, triangle_id):
    """``{name: (loss, argnums, args)}`` of each part: its scalar loss, the arguments its
    gradient is taken with respect to, and its inputs."""

    def geometry(v):
        return _interpolate_geometry(v, triangles, triangle_id, perspective_correct=True)

    def per_pixel_loss(v, c):
        return _per_pixel_loss(v, c, triangle_id, triangles, target)

    barycentric, depth, mask = jax.jit(geometry)(vertices)
    weights = jnp.asarray(
        np.random.default_rng(1).uniform(size=barycentric.shape).astype(np.float32)
    )

    def geometry_loss(v):
        return jnp.sum(geometry(v)[0] * weights)

    def blend_only(b, c):
        return _blend_loss(b, depth, mask, c, triangle_id, triangles, target)

    return {
        "per_pixel": (per_pixel_loss, (0, 1), (vertices, colours)),
        "geometry": (geometry_loss, (0,), (vertices,)),
        "blend": (blend_only, (0, 1), (barycentric, colours)),
    }


def arrangement_functions(vertices, colours, triangles, target, triangle_id):
    """``{name: (forward fn, forward + backward fn, args)}`` of the per-pixel loss of
    :func:`part_functions` arranged over the batch by ``jax.vmap`` and by ``jax.lax.map``."""

    def one_image_loss(v, c, t):  # one image: v [V, 3], c [V, 3], t [H, W]
        return _per_pixel_loss(v[None], c[None], t[None], triangles, target)

    gradient = jax.grad(one_image_loss, argnums=(0, 1))
    args = (vertices, colours, triangle_id)
    return {
        "per_pixel_vmap": (
            lambda *a: jnp.sum(jax.vmap(one_image_loss)(*a)),
            jax.vmap(gradient),
            args,
        ),
        "per_pixel_image_by_image": (
            lambda *a: jnp.sum(jax.lax.map(lambda x: one_image_loss(*x), a)),
            lambda *a: jax.lax.map(lambda x: gradient(*x), a),
            args,
        ),
    }


def _grid_batch(batch: int) -> tuple:
    """``batch`` copies of the grid face, random colours and target, and the visibility computed
    once: the arguments of :func:`part_functions`."""
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
    return vertices, colours, triangles, target, triangle_id


def batch_parts(batch: int) -> dict:
    """:func:`part_functions` of ``batch`` copies of the grid face (:func:`_grid_batch`)."""
    return part_functions(*_grid_batch(batch))


def measure(batch: int, repeats: int, arrangements: bool = False) -> dict:
    result = {"batch": batch, "repeats": repeats}
    inputs = _grid_batch(batch)
    timed = {
        name: (loss, jax.grad(loss, argnums=argnums), args)
        for name, (loss, argnums, args) in part_functions(*inputs).items()
    }
    if arrangements:
        timed.update(arrangement_functions(*inputs))
    for name, (forward, forward_backward, args) in timed.items():
        for direction, fn in (
            ("forward", jax.jit(forward)),
            ("forward_backward", jax.jit(forward_backward)),
        ):
            median, fastest = median_and_min(lambda fn=fn, args=args: fn(*args), repeats)
            result[f"{name}_{direction}_ms"] = round(1e3 * fastest / batch, 3)
            result[f"{name}_{direction}_median_ms"] = round(1e3 * median / batch, 3)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4, 32])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--arrangements",
        action="store_true",
        help="also the per-pixel pass under jax.vmap and image by image (jax.lax.map)",
    )
    args = parser.parse_args()
    if min(args.batches) < 1 or args.repeats < 1:
        parser.error(f"--batches and --repeats must be positive: {args.batches}, {args.repeats}")
    results = []
    for batch in args.batches:
        results.append(measure(batch, args.repeats, args.arrangements))
        print(json.dumps(results[-1]), flush=True)
    print(json.dumps({"machine": machine(), "results": results}))


if __name__ == "__main__":
    main()
