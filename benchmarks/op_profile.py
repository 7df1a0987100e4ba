"""Where a hot function's time goes, op by op: the profile behind docs/performance.md's
image formation and rasterizer paragraphs (issue 16).

Compiles the forward + backward of one target, runs it under ``jax.profiler.trace``, and sums
the time of each executed HLO instruction (a fusion, a scatter, a dot) over the calls. Each is
printed with its shape and the JAX op name XLA kept in its metadata (``jvp(...)`` is the
forward, ``transpose(jvp(...))`` the backward), read from the compiled module's text, so a slow
fusion can be traced to the line that made it. Targets:

* ``image_formation``: the loss of benchmarks/morphable_speed.py (Basel-sized model),
  ``jax.vmap(morphable.decode)`` over the batch;
* ``image_formation_batch``: the same with ``morphable.decode_batch``;
* ``raster_per_pixel``: the rasterizer's per-pixel pass of benchmarks/raster_backward_parts.py
  (visibility held fixed), 224 x 224, the 35,721-vertex grid face.

Op time is summed over XLA's threads, so on 2 cores it can exceed the wall time. Prints JSON.

    python benchmarks/op_profile.py --target image_formation --batch 32 --top 25
    python benchmarks/op_profile.py --target raster_per_pixel --batch 32
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile

import jax
import jax.numpy as jnp

from facejax import morphable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from morphable_speed import deep3d_sized_model  # noqa: E402
from timing import machine  # noqa: E402

TARGETS = ("image_formation", "image_formation_batch", "raster_per_pixel")
# An instruction line of HLO text: its name, its shape, and the op name in its metadata.
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = (\S+) [^\n]*?op_name=\"([^\"]+)\"", re.M)


def image_formation(batch: int, native: bool):
    """``(loss gradient fn, args)``: morphable_speed.py's loss and its gradient."""
    model = morphable.to_device(deep3d_sized_model())
    keys = jax.random.split(jax.random.key(0), batch)
    params = jax.vmap(lambda k: morphable.random_params(model, k))(keys)
    decode = morphable.decode_batch if native else jax.vmap(morphable.decode, in_axes=(None, 0))

    def loss(params, model):
        face = decode(model, params)
        return jnp.mean(face.screen_vertices[..., :2] ** 2) * 1e-4 + jnp.mean(face.colors**2)

    return jax.value_and_grad(loss), (params, model)


def raster_per_pixel(batch: int):
    """``(loss gradient fn, args)``: raster_backward_parts.py's per-pixel pass."""
    from raster_backward_parts import batch_parts

    loss, argnums, args = batch_parts(batch)["per_pixel"]
    return jax.grad(loss, argnums=argnums), args


def instructions(hlo_text: str) -> dict[str, tuple[str, str]]:
    """``{instruction name: (shape, JAX op name)}`` of a compiled module's text."""
    return {m.group(1): (m.group(2), m.group(3)) for m in _INSTRUCTION.finditer(hlo_text)}


def op_times_ms(trace_dir: str, names, calls: int) -> dict[str, float]:
    """Mean ms per call of each instruction in ``names`` that the trace in ``trace_dir`` ran."""
    paths = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
    if not paths:
        raise RuntimeError(f"jax.profiler wrote no *.trace.json.gz under {trace_dir}")
    with gzip.open(paths[0]) as f:
        events = json.load(f)["traceEvents"]
    total = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and event.get("name") in names:
            total[event["name"]] += event.get("dur", 0.0) / 1e3 / calls
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=TARGETS, default="image_formation")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--calls", type=int, default=5, help="profiled calls, after 3 warm-ups")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    if args.batch < 1 or args.calls < 1 or args.top < 1:
        parser.error(
            f"--batch, --calls and --top must be positive: {args.batch}, {args.calls}, {args.top}"
        )

    if args.target == "raster_per_pixel":
        fn, fn_args = raster_per_pixel(args.batch)
    else:
        fn, fn_args = image_formation(args.batch, native=args.target == "image_formation_batch")
    compiled = jax.jit(fn).lower(*fn_args).compile()
    names = instructions(compiled.as_text())
    for _ in range(3):
        jax.block_until_ready(compiled(*fn_args))
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            for _ in range(args.calls):
                jax.block_until_ready(compiled(*fn_args))
        times = op_times_ms(trace_dir, names, args.calls)
    top = [
        {"instruction": name, "ms": round(ms, 2), "shape": names[name][0], "op": names[name][1]}
        for name, ms in times.most_common(args.top)
    ]
    print(
        json.dumps(
            {
                "target": args.target,
                "batch": args.batch,
                "calls": args.calls,
                "op_ms_per_call": round(sum(times.values()), 1),
                "top": top,
                "machine": machine(),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
