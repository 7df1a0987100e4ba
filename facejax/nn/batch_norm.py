"""The BatchNorm every facejax encoder uses, set up in one place.

Parameters and running statistics in float32 whatever the compute ``dtype``; ``epsilon`` 1e-5;
statistics of the batch when training, running averages otherwise; ``axis_name`` the ``jax.pmap``
axis to average batch statistics over (``None`` under ``jax.jit`` with a sharded global batch,
see :mod:`facejax.nn.small_cnn`).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import flax.linen as nn
import jax.numpy as jnp


def batch_norm(*, train: bool, momentum: float, dtype: Any, axis_name: str | None):
    """``nn.BatchNorm`` with facejax's settings, as a constructor taking only ``name=``."""
    return partial(
        nn.BatchNorm,
        use_running_average=not train,
        momentum=momentum,
        epsilon=1e-5,
        dtype=dtype,
        param_dtype=jnp.float32,
        axis_name=axis_name,
    )
