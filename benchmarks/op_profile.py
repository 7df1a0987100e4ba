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
  (visibility held fixed), 224 x 224, the 35,721-vertex grid face;
* ``raster_geometry``, ``raster_blend``: its two halves alone (the same script's parts).

Op time is summed over XLA's threads, so on 2 cores it can exceed the wall time. With
``--timeline`` it also lists the last profiled call's instructions in the order they started,
each with its thread, start and duration, and the call's wall time: which instructions ran side
by side on the cores and which ran alone. Prints JSON.

    python benchmarks/op_profile.py --target image_formation --batch 32 --top 25
    python benchmarks/op_profile.py --target raster_per_pixel --batch 32
    python benchmarks/op_profile.py --target raster_blend --batch 32 --timeline
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

TARGETS = (
    "image_formation",
    "image_formation_batch",
    "raster_per_pixel",
    "raster_geometry",
    "raster_blend",
)
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


def raster_part(batch: int, part: str):
    """``(loss gradient fn, args)``: raster_backward_parts.py's ``part`` (``per_pixel``,
    ``geometry`` or ``blend``)."""
    from raster_backward_parts import batch_parts

    loss, argnums, args = batch_parts(batch)[part]
    return jax.grad(loss, argnums=argnums), args


def instructions(hlo_text: str) -> dict[str, tuple[str, str]]:
    """``{instruction name: (shape, JAX op name)}`` of a compiled module's text."""
    return {m.group(1): (m.group(2), m.group(3)) for m in _INSTRUCTION.finditer(hlo_text)}


def _executed(trace_dir: str, names) -> list[dict]:
    """The trace's events of the instructions in ``names``, in the order they started."""
    paths = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
    if not paths:
        raise RuntimeError(f"jax.profiler wrote no *.trace.json.gz under {trace_dir}")
    with gzip.open(paths[0]) as f:
        events = json.load(f)["traceEvents"]
    executed = [e for e in events if e.get("ph") == "X" and e.get("name") in names]
    return sorted(executed, key=lambda e: e["ts"])


def op_times_ms(events, calls: int) -> dict[str, float]:
    """Mean ms per call of each instruction among the trace ``events``."""
    total = collections.Counter()
    for event in events:
        total[event["name"]] += event.get("dur", 0.0) / 1e3 / calls
    return total


def timeline(events, names, calls: int) -> dict:
    """The last of ``calls`` calls: its wall time, each thread's busy time and its instructions
    in the order they started. Every call runs the same instructions, so the last call is the
    last ``len(events) / calls`` of them."""
    last = events[-(len(events) // calls) :]
    start = last[0]["ts"]
    threads = {tid: k for k, tid in enumerate(dict.fromkeys(e["tid"] for e in last))}
    busy = collections.Counter()
    for e in last:
        busy[threads[e["tid"]]] += e.get("dur", 0.0) / 1e3
    return {
        "wall_ms": round((max(e["ts"] + e.get("dur", 0.0) for e in last) - start) / 1e3, 2),
        "busy_ms_by_thread": {k: round(v, 2) for k, v in sorted(busy.items())},
        "instructions": [
            {
                "start_ms": round((e["ts"] - start) / 1e3, 2),
                "ms": round(e.get("dur", 0.0) / 1e3, 2),
                "thread": threads[e["tid"]],
                "instruction": e["name"],
                "shape": names[e["name"]][0],
                "op": names[e["name"]][1],
            }
            for e in last
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", choices=TARGETS, default="image_formation")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--calls", type=int, default=5, help="profiled calls, after 3 warm-ups")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--timeline", action="store_true", help="also list the last call's instructions in order"
    )
    args = parser.parse_args()
    if args.batch < 1 or args.calls < 1 or args.top < 1:
        parser.error(
            f"--batch, --calls and --top must be positive: {args.batch}, {args.calls}, {args.top}"
        )

    if args.target.startswith("raster_"):
        fn, fn_args = raster_part(args.batch, args.target.removeprefix("raster_"))
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
        events = _executed(trace_dir, names)
    times = op_times_ms(events, args.calls)
    top = [
        {"instruction": name, "ms": round(ms, 2), "shape": names[name][0], "op": names[name][1]}
        for name, ms in times.most_common(args.top)
    ]
    result = {
        "target": args.target,
        "batch": args.batch,
        "calls": args.calls,
        "op_ms_per_call": round(sum(times.values()), 1),
        "top": top,
        "machine": machine(),
    }
    if args.timeline:
        result["timeline"] = timeline(events, names, args.calls)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
