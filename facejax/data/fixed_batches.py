"""A function over a host array in batches of one fixed size, the last batch padded.

A jitted function compiles once per input shape: evaluating a split of 1,001 images in batches
of 64 would compile twice (64 and the remainder 41). Padding the last batch to the full size by
repeating its last element, and dropping the padded rows from the outputs, keeps one compiled
program for any number of inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def map_fixed_batches(fn: Callable[[np.ndarray], Any], inputs, batch_size: int) -> Any:
    """``fn`` over ``inputs`` in batches of exactly ``batch_size``, outputs joined on the host.

    Args:
      fn: maps a ``[batch_size, ...]`` array to a pytree of arrays with a leading
        ``[batch_size]`` axis (e.g. a jitted forward pass).
      inputs: ``[N, ...]`` array, ``N >= 1``.
      batch_size: rows per call; the last batch is padded with copies of its last row.

    Returns:
      The pytree of ``fn``'s outputs as numpy arrays ``[N, ...]`` (padding rows dropped).
    """
    inputs = np.asarray(inputs)
    if len(inputs) == 0:
        raise ValueError("map_fixed_batches: no inputs")
    if batch_size < 1:
        raise ValueError(f"map_fixed_batches: batch_size must be >= 1, got {batch_size}")
    parts = []
    for start in range(0, len(inputs), batch_size):
        chunk = inputs[start : start + batch_size]
        padded = np.concatenate([chunk, np.repeat(chunk[-1:], batch_size - len(chunk), 0)])
        count = len(chunk)
        parts.append(jax.tree.map(lambda x, count=count: np.asarray(x[:count]), fn(padded)))
    return jax.tree.map(lambda *columns: np.concatenate(columns), *parts)
