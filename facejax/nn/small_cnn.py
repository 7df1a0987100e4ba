"""A small convolutional encoder for CPU runs and tests (32 to 64 pixel images).

Each stage is a strided 3x3 convolution, BatchNorm and ReLU; a global average pool makes the
feature vector, so any input size works. The default widths ``(32, 64, 128, 256)`` have about
0.39 M parameters (with 3-channel input).

BatchNorm across devices: under ``jax.pmap`` set ``axis_name`` to the pmap axis name, so batch
statistics are averaged over the devices (``lax.pmean``) and every device normalises with the
statistics of the whole global batch. Under ``jax.jit`` with the batch sharded over a device
mesh, leave ``axis_name=None``: the batch axis is one global array there, and the statistics
XLA computes over it are already global. In eval (``train=False``) the running averages are
used and nothing is communicated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from facejax.nn.batch_norm import batch_norm

Array = Any

DEFAULT_WIDTHS = (32, 64, 128, 256)


class SmallCNN(nn.Module):
    """``[B, H, W, C]`` images -> ``[B, widths[-1]]`` features.

    Attributes:
      widths: output channels of each stride-2 stage.
      dtype: computation dtype (``jnp.bfloat16`` for mixed precision); parameters and BatchNorm
        statistics stay float32.
      axis_name: the ``jax.pmap`` axis name to average BatchNorm statistics over, or ``None``
        (one device, or ``jax.jit`` over a sharded global batch).
      bn_momentum: decay of BatchNorm's running averages.
    """

    widths: Sequence[int] = DEFAULT_WIDTHS
    dtype: Any = jnp.float32
    axis_name: str | None = None
    bn_momentum: float = 0.9

    @nn.compact
    def __call__(self, images, *, train: bool) -> Array:
        """Args: images ``[B, H, W, C]``; train: batch statistics (True) or running averages.

        Returns: ``[B, widths[-1]]`` features in ``dtype``.
        """
        if images.ndim != 4:
            raise ValueError(f"SmallCNN: images must be [B, H, W, C], got {images.shape}")
        norm = batch_norm(
            train=train, momentum=self.bn_momentum, dtype=self.dtype, axis_name=self.axis_name
        )
        x = jnp.asarray(images, self.dtype)
        for width in self.widths:
            x = nn.Conv(
                width,
                (3, 3),
                strides=(2, 2),
                use_bias=False,
                dtype=self.dtype,
                param_dtype=jnp.float32,
            )(x)
            x = nn.relu(norm()(x))
        return jnp.mean(x, axis=(1, 2))
