"""Speed of facejax.render.rasterize: forward, and forward + backward of an L2 image loss.

Meshes are front-facing height-field grids (a smooth bump, like a face seen from the front)
filling most of the image: a Deep3DFaceRecon-sized one (about 35.7k vertices, 70.7k triangles)
at 224 x 224 and a ~4k-vertex one at 64 x 64 and 112 x 112. Every timing is taken after a
warm-up call, on jit-compiled functions, in ms per image: wall-clock median and minimum of the
repeats and the median process CPU time (the CPU may be shared; the minimum is closest to the
uncontended cost). Compile time is lowering plus compilation.

Run:
  python benchmarks/render_speed.py            # full table, prints JSON
  python benchmarks/render_speed.py --quick    # fewer repeats, batch 8 instead of 32
  python benchmarks/render_speed.py --stages   # also time the visibility pass alone
  python benchmarks/render_speed.py --windows 2 4 8 16   # sweep the tile size
  python benchmarks/render_speed.py --batch-chunk 0      # whole batch at once (vectorised)
  python benchmarks/render_speed.py --batch-chunk 1      # one image at a time
  python benchmarks/render_speed.py --soft     # also soft_silhouette (batch 1 cases)
  python benchmarks/render_speed.py --vmap     # also jax.vmap of the one-image functions
  python benchmarks/render_speed.py --only large --batch 64   # the GPU goal's batch
  python benchmarks/render_speed.py --only large --windows 2 --paired 60   # the ratio, paired

Each result line is JSON; the last line gathers them with the machine.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from facejax.render import (
    boundary_triangles,
    default_batch_chunk,
    default_max_tiles,
    interpolate,
    rasterize,
    soft_silhouette,
)
from facejax.render.rasterize import _visible_triangles, tile_budgets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from timing import host_memory  # noqa: E402


def grid_mesh(rows: int, cols: int, size: int, margin: float = 0.08):
    """A front-facing bump on a ``rows x cols`` grid filling ``size x size`` pixels.

    Returns ``(screen_vertices [V, 3] float32, triangles [F, 3] int32)``; triangles have negative
    signed area in pixel coordinates (front-facing, see facejax.render.rasterize).
    """
    u, v = np.meshgrid(np.linspace(-1.0, 1.0, cols), np.linspace(-1.0, 1.0, rows))
    bump = np.exp(-1.5 * (u**2 + v**2))
    x = (0.5 + (0.5 - margin) * u) * size
    y = (0.5 + (0.5 - margin) * v) * size
    depth = 500.0 - 60.0 * bump
    vertices = np.stack([x, y, depth], -1).reshape(-1, 3).astype(np.float32)
    idx = np.arange(rows * cols).reshape(rows, cols)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    # (a, c, b) runs clockwise on screen (y down), i.e. counter-clockwise seen from the camera.
    triangles = np.concatenate([np.stack([a, c, b], 1), np.stack([b, c, d], 1)]).astype(np.int32)
    return vertices, triangles


def _timings_ms(fn, args, repeats):
    """Wall-clock median and minimum, and process CPU-time median, in ms per call.

    The machine is shared: the median says what a user sees, the minimum is closest to the
    cost without contention, CPU time counts all threads' work.
    """
    jax.block_until_ready(fn(*args))  # warm-up
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        jax.block_until_ready(fn(*args))
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return 1e3 * statistics.median(wall), 1e3 * min(wall), 1e3 * statistics.median(cpu)


def _paired_ratios(forward, forward_backward, args, pairs):
    """Forward + backward over forward, call pair by call pair: ``pairs`` of each, in turn
    (which comes first alternates), so that a slow spell of a shared machine falls on both
    halves of a pair; a ratio of two separate rounds of repeats compares different spells."""
    for fn in (forward, forward_backward):
        jax.block_until_ready(fn(*args))  # warm-up
    ratios, forward_ms, forward_backward_ms = [], [], []
    for i in range(pairs):
        wall = {}
        for fn in (forward, forward_backward) if i % 2 == 0 else (forward_backward, forward):
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            wall[fn] = 1e3 * (time.perf_counter() - start)
        forward_ms.append(wall[forward])
        forward_backward_ms.append(wall[forward_backward])
        ratios.append(wall[forward_backward] / wall[forward])
    low, _, high = statistics.quantiles(ratios, n=4)
    return {
        "paired_calls": pairs,
        "paired_ratio_median": round(statistics.median(ratios), 3),
        "paired_ratio_quartiles": [round(low, 3), round(high, 3)],
        "paired_ratio_of_fastest": round(min(forward_backward_ms) / min(forward_ms), 3),
    }


def _compile_s(fn, args):
    start = time.perf_counter()
    fn.lower(*args).compile()
    return time.perf_counter() - start


def measure(
    rows,
    cols,
    size,
    batch,
    window,
    repeats,
    *,
    batch_chunk,
    cull=False,
    stages=False,
    soft=False,
    vmap=False,
    paired=0,
):
    vertices, triangles = grid_mesh(rows, cols, size)
    rng = np.random.default_rng(0)
    colours = rng.uniform(size=(len(vertices), 3)).astype(np.float32)
    target = rng.uniform(size=(size, size, 3)).astype(np.float32)
    v = jnp.asarray(np.broadcast_to(vertices, (batch,) + vertices.shape).copy())
    c = jnp.asarray(np.broadcast_to(colours, (batch,) + colours.shape).copy())
    t = jnp.asarray(triangles)
    if batch_chunk == 0:
        batch_chunk = batch
    if batch_chunk is None:
        batch_chunk = default_batch_chunk(
            default_max_tiles(len(triangles), size, size, window), window
        )
    raster = functools.partial(
        rasterize,
        height=size,
        width=size,
        window=window,
        cull_backfaces=cull,
        batch_chunk=batch_chunk,
    )

    def forward_fn(v, c, t):
        frags = raster(v, t)
        return interpolate(frags, t, c), frags.overflow_count

    def forward_backward_fn(v, c, t):
        def loss(v, c):
            image = interpolate(raster(v, t), t, c)
            return jnp.sum((image - target) ** 2)

        return jax.grad(loss, argnums=(0, 1))(v, c)

    forward, forward_backward = jax.jit(forward_fn), jax.jit(forward_backward_fn)

    result = {
        "vertices": len(vertices),
        "triangles": len(triangles),
        "image": size,
        "batch": batch,
        "batch_chunk": batch_chunk,
        "window": window,
        "max_tiles": default_max_tiles(len(triangles), size, size, window),
        "cull_backfaces": cull,
        "compile_forward_s": round(_compile_s(forward, (v, c, t)), 2),
        "compile_forward_backward_s": round(_compile_s(forward_backward, (v, c, t)), 2),
    }
    image, overflow = forward(v, c, t)
    result["overflow_count"] = int(jnp.max(overflow))
    result["coverage"] = round(float(jnp.mean(jnp.any(image[0] != 0, -1))), 3)
    timed = {"forward": (forward, (v, c, t)), "forward_backward": (forward_backward, (v, c, t))}
    if paired:
        result.update(_paired_ratios(forward, forward_backward, (v, c, t), paired))
    if stages:
        visible = jax.jit(
            functools.partial(
                _visible_triangles,
                height=size,
                width=size,
                cull_backfaces=cull,
                perspective_correct=True,
                near=0.0,
                window=window,
                budgets=tile_budgets(len(triangles), size, size, window, result["max_tiles"]),
            )
        )
        timed["visibility_one_image"] = (lambda v, t: visible(v[:1], t), (v, t))
    if vmap and batch > 1:
        # The one-image functions under jax.vmap: what a user who maps a single render gets.
        mapped = (0, 0, None)
        timed["vmap_forward"] = (jax.jit(jax.vmap(forward_fn, mapped)), (v, c, t))
        timed["vmap_forward_backward"] = (jax.jit(jax.vmap(forward_backward_fn, mapped)), (v, c, t))
    if soft and batch == 1:
        # Silhouette loss through soft_silhouette (sigma 1 px), searching the triangles at the
        # hard outline only, or all of them.
        target_mask = jnp.asarray(rng.uniform(size=(size, size)) > 0.5, jnp.float32)

        def silhouette_grad(restrict):
            def loss(v):
                frags = raster(v, t)
                mask = boundary_triangles(frags, t.shape[0]) if restrict else None
                image = soft_silhouette(frags, v, t, sigma=1.0, triangle_mask=mask, window=window)
                return jnp.sum((image - target_mask) ** 2)

            return jax.jit(jax.grad(loss))

        timed["soft_outline_forward_backward"] = (silhouette_grad(True), (v,))
        timed["soft_all_forward_backward"] = (silhouette_grad(False), (v,))
    for name, (fn, args) in timed.items():
        per = 1 if name.endswith("one_image") else batch
        median, fastest, cpu = _timings_ms(fn, args, repeats)
        result[f"{name}_ms_per_image"] = round(median / per, 2)
        result[f"{name}_min_ms_per_image"] = round(fastest / per, 2)
        result[f"{name}_cpu_ms_per_image"] = round(cpu / per, 2)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, batch 8 not 32")
    parser.add_argument("--stages", action="store_true", help="also time visibility alone")
    parser.add_argument("--windows", type=int, nargs="*", default=[4], help="tile sizes")
    parser.add_argument(
        "--batch-chunk", type=int, default=-1, help="-1: rasterize's default; 0: whole batch"
    )
    parser.add_argument("--cull", action="store_true", help="cull back faces")
    parser.add_argument("--soft", action="store_true", help="also time soft_silhouette")
    parser.add_argument("--vmap", action="store_true", help="also time jax.vmap of one image")
    parser.add_argument("--only", choices=["large", "small"], help="one mesh only")
    parser.add_argument("--batch", type=int, help="the large batch (default 32, 8 with --quick)")
    parser.add_argument(
        "--paired",
        type=int,
        default=0,
        metavar="N",
        help="also N forward and N forward + backward calls in turn: their ratio pair by pair",
    )
    args = parser.parse_args()
    if args.paired < 0 or args.paired == 1:
        parser.error("--paired takes 0 (off) or at least 2 pairs (for quartiles)")
    repeats = 3 if args.quick else 10
    big_batch = args.batch or (8 if args.quick else 32)
    cases = []
    if args.only != "small":
        cases += [(189, 189, 224, 1), (189, 189, 224, big_batch)]
    if args.only != "large":
        cases += [(64, 64, 64, 1), (64, 64, 112, 1), (64, 64, 112, big_batch)]
    results = []
    for window in args.windows:
        for rows, cols, size, batch in cases:
            r = measure(
                rows,
                cols,
                size,
                batch,
                window,
                repeats,
                batch_chunk=None if args.batch_chunk < 0 else args.batch_chunk,
                cull=args.cull,
                stages=args.stages,
                soft=args.soft,
                vmap=args.vmap,
                paired=args.paired,
            )
            results.append(r)
            print(json.dumps(r), flush=True)
    machine = {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "jax": jax.__version__,
        "host_memory": host_memory(),
    }
    print(json.dumps({"machine": machine, "results": results}))


if __name__ == "__main__":
    main()
