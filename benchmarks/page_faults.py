"""Page faults per call of a jit-compiled function on the CPU, and what they cost.

XLA on a CPU allocates each execution's temporary buffers anew. Past glibc's mmap threshold an
allocation is a fresh ``mmap`` that the kernel maps on first touch, one page at a time, so a
function whose temporaries are large pays a page fault per 4 KiB on every call. This times the
gradient of the rasterizer's per-pixel pass (the barycentrics recomputed from the visible
triangles, ``facejax.render.rasterize``) for one image and for a batch, with the minor page
faults of the process per call (``getrusage``). Run it as it is and with
``GLIBC_TUNABLES=glibc.malloc.hugetlb=1`` (what the ``facejax`` command sets,
facejax/cli/huge_pages.py) to see the difference; docs/performance.md has the figures.

Run:
  python benchmarks/page_faults.py                    # prints JSON lines
  GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python benchmarks/page_faults.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

import jax
import jax.numpy as jnp

from facejax import morphable
from facejax.formats import load_model
from facejax.render import rasterize
from facejax.render.rasterize import _interpolate_geometry

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import machine, median_and_min  # noqa: E402


def minor_faults() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    model = morphable.to_device(load_model("synthetic"))
    size, triangles = args.size, model.triangles
    keys = jax.random.split(jax.random.key(0), max(args.batches))
    params = jax.vmap(lambda k: morphable.random_params(model, k, image_size=size))(keys)
    vertices = jax.vmap(lambda p: morphable.decode(model, p))(params).screen_vertices
    triangle_id = rasterize(vertices, triangles, size, size, cull_backfaces=True).triangle_id

    def loss(screen_vertices, triangle_id):
        barycentric, _, _ = _interpolate_geometry(
            screen_vertices, triangles, triangle_id, perspective_correct=True
        )
        return jnp.sum(jnp.square(barycentric))

    gradient = jax.jit(jax.grad(loss))
    for batch in args.batches:
        inputs = (vertices[:batch], triangle_id[:batch])
        jax.block_until_ready(gradient(*inputs))
        before = minor_faults()
        median, fastest = median_and_min(lambda inputs=inputs: gradient(*inputs), args.repeats)
        faults = (minor_faults() - before) / (args.repeats + 1)
        row = {
            "what": "gradient of the per-pixel pass (barycentrics)",
            "image": size,
            "batch": batch,
            "ms_per_image": round(1e3 * median / batch, 3),
            "min_ms_per_image": round(1e3 * fastest / batch, 3),
            "page_faults_per_call": round(faults),
        }
        print(json.dumps(row), flush=True)
    print(json.dumps({"machine": machine()}))


if __name__ == "__main__":
    main()
