"""What the benchmark scripts share: wall-clock timing after a warm-up call, the timing of a
compiled training step with XLA's FLOP count (cycle_step.py, siamese_step.py), and the machine.

FLOPs come from the *lowered* step (before backend passes), where the backend gives a count:
on a CPU it does, and the program is the same on every backend, so a CPU machine's count is the
step's. On an H200 (JAX 0.11.2) the GPU-compiled module's count left out the convolutions,
which become cuDNN calls (the cycle recipe's ResNet-50 step: 0.04 TFLOP compiled against 1.56
lowered on the CPU), and no lowering gave a count there, not even one for the CPU: run the
script on a CPU machine for the FLOPs and divide by the GPU's time (docs/performance.md). A
multiply-add counts 2.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import jax

# The H200's dense bf16 peak (FLOP/s), for the model FLOPs utilisation.
H200_BF16_PEAK = 989.4e12


def lowered_flops(lowered) -> float | None:
    """XLA's FLOP count of a lowered function (a dict, or a list of one, by JAX version)."""
    cost = lowered.cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0] if cost else None
    return float(cost["flops"]) if cost and "flops" in cost else None


def median_and_min(call, repeats) -> tuple[float, float]:
    """Wall-clock median and minimum (s) of ``repeats`` calls of ``call()`` after a warm-up
    call (which compiles); on a shared CPU the minimum is the closest to the uncontended cost."""
    jax.block_until_ready(call())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(call())
        times.append(time.perf_counter() - start)
    return statistics.median(times), min(times)


def host_memory() -> dict:
    """How host memory was served: ``GLIBC_TUNABLES`` and the kernel's transparent huge page
    mode. On a CPU, ``glibc.malloc.hugetlb=1`` changes XLA's timings by up to a third
    (facejax/cli/huge_pages.py, docs/performance.md); the ``facejax`` command sets it, these
    scripts take the environment as it is."""
    from facejax.cli import huge_pages

    return {
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES"),
        "transparent_huge_pages": huge_pages.transparent_huge_pages(),
    }


def machine() -> dict:
    """Where a figure was taken: platform, CPUs, JAX backend and device, load average, host
    memory."""
    return {
        "host_memory": host_memory(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "backend": jax.default_backend(),
        "device": jax.devices()[0].device_kind,
        "jax": jax.__version__,
        "load_average": os.getloadavg(),
    }


def timed(fn, args, repeats) -> dict:
    """Compile time, wall-clock median and minimum of ``repeats`` calls, FLOPs and rates."""
    start = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    compiled = lowered.compile()
    result = {"compile_s": time.perf_counter() - start}
    jax.block_until_ready(compiled(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - start)
    result.update(median_s=statistics.median(times), min_s=min(times))
    flops = lowered_flops(lowered)
    if flops:
        result["xla_flops"] = flops
        result["tflops_per_s"] = flops / min(times) / 1e12
        if jax.default_backend() == "gpu" and "H200" in jax.devices()[0].device_kind:
            result["mfu_vs_bf16_peak"] = flops / min(times) / H200_BF16_PEAK
    return result


def identity_step_parser(doc: str) -> argparse.ArgumentParser:
    """The command line of the step scripts of the recipes that classify training subjects
    (disentangle_step.py, siamese_step.py): the config's variant, the 3DMM to decode with, the
    number of classes and the repeats."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--variant", default="small")
    parser.add_argument("--model", default="synthetic", help="the 3DMM (for full: not the BFM)")
    parser.add_argument("--classes", type=int, default=1000, help="training subjects")
    parser.add_argument("--repeats", type=int, default=5)
    return parser
