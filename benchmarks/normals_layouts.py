"""Vertex normals of a batch under ``jax.vmap``: the library's code beside other layouts of the
same math, the probe behind docs/performance.md's normals paragraph (issue 16).

The model of benchmarks/morphable_speed.py (35,709 vertices, 70,789 triangles), random shapes
``[B, V, 3]``; each variant jit-compiled, forward and forward + backward (the gradient of the
sum of squares of the normals), the median and minimum of the repeats in ms:

* ``library``: ``jax.vmap(geometry.vertex_normals)``, one gather of the corners and one
  scatter-add (``segment_sum``) of the broadcast cross products;
* ``sparse``: the gather and the scatter-add as products with a BCOO selection matrix
  (``jax.experimental.sparse``), under ``vmap``;
* ``three_adds``: three gathers and three ``.at[corner].add`` scatter-adds, under ``vmap``;
* ``batch_inside``: not a ``vmap``: the batch moved inside each row (``[V, B, 3]``), the same
  gather and scatter-adds, moved back. What a batching rule could reach if it could choose the
  layout (it cannot for the gradient: docs/performance.md).

Every variant is checked against the library's normals first. Prints JSON.

    python benchmarks/normals_layouts.py               # batch 32, 5 repeats
    python benchmarks/normals_layouts.py --batch 8 --repeats 3
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import sparse

from facejax import geometry
from facejax.geometry.safe import safe_normalize

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from morphable_speed import deep3d_sized_model  # noqa: E402
from timing import machine, median_and_min  # noqa: E402

# Float32 normals summed in another order: unit vectors agree to this.
AGREEMENT_ATOL = 1e-4


def _cross(v0, v1, v2):
    return jnp.cross(v1 - v0, v2 - v0)


def sparse_normals(vertices, triangles):
    num_vertices, num_corners = vertices.shape[0], triangles.size
    rows = jnp.arange(num_corners, dtype=triangles.dtype)
    select = sparse.BCOO(
        (jnp.ones(num_corners, vertices.dtype), jnp.stack([rows, triangles.reshape(-1)], -1)),
        shape=(num_corners, num_vertices),
        indices_sorted=True,
        unique_indices=True,
    )
    corners = (select @ vertices).reshape(-1, 3, 3)
    cross = _cross(corners[:, 0], corners[:, 1], corners[:, 2])
    per_corner = jnp.repeat(cross, 3, axis=0)
    return safe_normalize(select.T @ per_corner)


def three_adds_normals(vertices, triangles):
    cross = _cross(*(vertices[triangles[:, c]] for c in range(3)))
    summed = jnp.zeros_like(vertices)
    for c in range(3):
        summed = summed.at[triangles[:, c]].add(cross)
    return safe_normalize(summed)


def batch_inside_normals(batch, triangles):
    """``[B, V, 3]`` -> ``[B, V, 3]`` with the batch inside each row while it works."""
    inside = jnp.moveaxis(batch, 0, 1)  # [V, B, 3]
    cross = _cross(*(inside[triangles[:, c]] for c in range(3)))  # [F, B, 3]
    summed = sum(
        jax.ops.segment_sum(cross, triangles[:, c], num_segments=inside.shape[0]) for c in range(3)
    )
    return jnp.moveaxis(safe_normalize(summed), 1, 0)


def variants():
    """``{name: batched fn(vertices [B, V, 3], triangles) -> [B, V, 3]}``."""
    mapped = {
        "library": geometry.vertex_normals,
        "sparse": sparse_normals,
        "three_adds": three_adds_normals,
    }
    out = {name: jax.vmap(fn, in_axes=(0, None)) for name, fn in mapped.items()}
    out["batch_inside"] = batch_inside_normals
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    model = deep3d_sized_model()
    rng = np.random.default_rng(0)
    mean = np.asarray(model.mean_shape, np.float32)
    vertices = jnp.asarray(mean + rng.normal(size=(args.batch, *mean.shape)), jnp.float32)
    triangles = jnp.asarray(model.triangles)
    fns = variants()
    reference = jax.jit(fns["library"])(vertices, triangles)
    results = {}
    for name, fn in fns.items():
        forward = jax.jit(fn)
        error = float(jnp.max(jnp.abs(forward(vertices, triangles) - reference)))
        if error > AGREEMENT_ATOL:
            raise AssertionError(f"{name}: normals differ from the library's by {error}")
        gradient = jax.jit(jax.grad(lambda v, fn=fn: jnp.sum(fn(v, triangles) ** 2)))
        entry = {"max_abs_difference": error}
        calls = {
            "forward": functools.partial(forward, vertices, triangles),
            "forward_backward": functools.partial(gradient, vertices),
        }
        for label, call in calls.items():
            median, best = median_and_min(call, args.repeats)
            entry[f"{label}_ms"] = round(median * 1e3, 1)
            entry[f"{label}_min_ms"] = round(best * 1e3, 1)
        results[name] = entry
    print(json.dumps({"batch": args.batch, "variants": results, "machine": machine()}, indent=1))


if __name__ == "__main__":
    main()
