"""Timing of a compiled training step for benchmarks/cycle_step.py and siamese_step.py: compile
time, wall-clock median and minimum, XLA's FLOP count and the rates it gives.

FLOPs come from the step lowered for the CPU (before backend passes), whatever the backend: on
GPU the compiled module's count leaves out the convolutions, which become cuDNN calls (the cycle
recipe's ResNet-50 step counted 0.04 TFLOP compiled on an H200 against 1.56 lowered), and a GPU
lowering gave no count at all (JAX 0.11.2). The program is the same on every backend, so the CPU
lowering's count is the step's. A multiply-add counts 2.
"""

from __future__ import annotations

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
    flops = lowered_flops(jax.jit(fn).trace(*args).lower(lowering_platforms=("cpu",)))
    if flops:
        result["xla_flops"] = flops
        result["tflops_per_s"] = flops / min(times) / 1e12
        if jax.default_backend() == "gpu" and "H200" in jax.devices()[0].device_kind:
            result["mfu_vs_bf16_peak"] = flops / min(times) / H200_BF16_PEAK
    return result
