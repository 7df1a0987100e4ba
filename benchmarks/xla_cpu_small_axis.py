"""What a trailing axis of 3 costs XLA's CPU backend: the measurements behind interpolate's JVP.

The renderer's per-pixel arrays carry a trailing axis of 3 (colours, corners, coordinates), at
batch 32 and 224 x 224 about 1.6 million rows. This times, on such arrays, the operations a
backward through them is made of, each against the same work laid out another way, all
jit-compiled, fastest of the repeats in ms:

- ``add_rows`` / ``add_flat``: ``x + y`` of two ``[N, 3]`` arrays, alone in its program (XLA
  runs a lone elementwise op as its own loop; the cotangents of the three corners' scatter-adds
  were summed this way), against the same data as ``[3N]``;
- ``broadcast_multiply_rows``: ``x * w[:, None]`` on the same ``[N, 3]`` arrays (a fused loop);
- ``reduce_rows`` / ``reduce_written_out``: ``sum(x * y, axis=-1)``, what autodiff makes of
  the barycentrics' gradient through a blend, against ``x[:, 0] * y[:, 0] + ...``;
- ``scatter_add_rows`` / ``scatter_add_scalars``: one scatter-add of ``N`` rows of 3 into
  ``[M, 3]`` against three scatter-adds of ``N`` scalars into ``[M]`` (random indices).

    python benchmarks/xla_cpu_small_axis.py
    python benchmarks/xla_cpu_small_axis.py --rows 200000 --repeats 5
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
from timing import machine, median_and_min  # noqa: E402

PIXELS = 32 * 224 * 224  # rows of a batch of 32 images at 224 x 224
VERTICES = 32 * 35_721  # rows of 32 Basel-sized grid faces' vertices


def cases(rows: int, targets: int, seed: int = 0) -> dict:
    """``{name: (fn, args)}`` of the timed operations on ``rows`` rows of 3 (``targets`` rows
    for the scatter-adds)."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.uniform(size=(rows, 3)).astype(np.float32))
    y = jnp.asarray(rng.uniform(size=(rows, 3)).astype(np.float32))
    w = jnp.asarray(rng.uniform(size=(rows,)).astype(np.float32))
    index = jnp.asarray(rng.integers(0, targets, size=rows).astype(np.int32))

    def scatter_rows(index, updates):
        return jnp.zeros((targets, 3), updates.dtype).at[index].add(updates)

    def scatter_scalars(index, updates):
        return [jnp.zeros((targets,), updates.dtype).at[index].add(updates[:, c]) for c in range(3)]

    return {
        "add_rows": (lambda a, b: a + b, (x, y)),
        "add_flat": (lambda a, b: a + b, (x.reshape(-1), y.reshape(-1))),
        "broadcast_multiply_rows": (lambda a, b: a * b[:, None], (x, w)),
        "reduce_rows": (lambda a, b: jnp.sum(a * b, axis=-1), (x, y)),
        "reduce_written_out": (
            lambda a, b: a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2],
            (x, y),
        ),
        "scatter_add_rows": (scatter_rows, (index, x)),
        "scatter_add_scalars": (scatter_scalars, (index, x)),
    }


def measure(rows: int, targets: int, repeats: int) -> dict:
    result = {"rows": rows, "targets": targets, "repeats": repeats}
    for name, (fn, args) in cases(rows, targets).items():
        compiled = jax.jit(fn)
        _, fastest = median_and_min(lambda c=compiled, a=args: c(*a), repeats)
        result[f"{name}_ms"] = round(1e3 * fastest, 3)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=PIXELS)
    parser.add_argument("--targets", type=int, default=VERTICES)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if min(args.rows, args.targets, args.repeats) < 1:
        parser.error(f"--rows, --targets and --repeats must be positive: {vars(args)}")
    result = measure(args.rows, args.targets, args.repeats)
    print(json.dumps({"machine": machine(), "results": [result]}))


if __name__ == "__main__":
    main()
