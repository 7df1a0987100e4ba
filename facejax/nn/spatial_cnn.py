"""A small encoder that keeps *where* things are: for regressing geometry from small images.

:class:`facejax.nn.SmallCNN` ends in a global average pool: what is in the image survives,
where it is mostly does not (only through padding effects). A face's shape is read from where
its parts are, to a fraction of a pixel at 64 px, so this encoder instead flattens its last
feature map (``4 x 4`` for 64 px input) into one dense layer, and adds a full-resolution
convolution in front and a stride-1 convolution in every stage. On the 64 px synthetic faces it
learned identity shape faster than the pooled CNN (experiments/disentangle/README.md). Its dense
layer's size is fixed by the image size it was initialised at.

BatchNorm across devices: ``axis_name`` as in :mod:`facejax.nn.small_cnn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from facejax.nn.batch_norm import batch_norm

Array = Any

DEFAULT_WIDTHS = (32, 64, 128, 256)


class SpatialCNN(nn.Module):
    """``[B, H, W, C]`` images -> ``[B, features]``, keeping the spatial layout to the end.

    A 3x3 convolution at full resolution, then per width a stride-2 and a stride-1 3x3
    convolution (each with BatchNorm and ReLU), the last width repeated until the map is at most
    ``final_size`` on a side; the map is flattened into a dense layer of ``features`` units.

    Attributes:
      widths: channels of the stages (the stem uses the first).
      features: output units.
      final_size: the side the feature map is reduced to before flattening.
      dtype: computation dtype; parameters and BatchNorm statistics stay float32.
      axis_name: the ``jax.pmap`` axis name for BatchNorm statistics, or ``None``.
      bn_momentum: decay of BatchNorm's running averages.
    """

    widths: Sequence[int] = DEFAULT_WIDTHS
    features: int = 512
    final_size: int = 4
    dtype: Any = jnp.float32
    axis_name: str | None = None
    bn_momentum: float = 0.9

    @nn.compact
    def __call__(self, images, *, train: bool) -> Array:
        if images.ndim != 4:
            raise ValueError(f"SpatialCNN: images must be [B, H, W, C], got {images.shape}")
        norm = batch_norm(
            train=train, momentum=self.bn_momentum, dtype=self.dtype, axis_name=self.axis_name
        )
        conv = partial(nn.Conv, use_bias=False, dtype=self.dtype, param_dtype=jnp.float32)
        x = jnp.asarray(images, self.dtype)
        x = nn.relu(norm()(conv(self.widths[0], (3, 3))(x)))
        stage = 0
        while max(x.shape[1:3]) > self.final_size:
            width = self.widths[min(stage, len(self.widths) - 1)]
            x = nn.relu(norm()(conv(width, (3, 3), strides=(2, 2))(x)))
            x = nn.relu(norm()(conv(width, (3, 3))(x)))
            stage += 1
        x = x.reshape(x.shape[0], -1)
        dense = nn.Dense(self.features, dtype=self.dtype, param_dtype=jnp.float32)
        return nn.relu(dense(x))
