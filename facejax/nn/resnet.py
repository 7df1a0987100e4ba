"""ResNet encoders (He et al., 2016) in the layout of the Flax ImageNet example.

``ResNet18``/``ResNet34`` use :class:`BasicBlock` (two 3x3 convolutions), ``ResNet50`` the
:class:`BottleneckBlock` (1x1, 3x3, 1x1 with 4x expansion). The stem is a 7x7 stride-2
convolution and a 3x3 stride-2 max pool, each later stage halves the resolution; a global
average pool gives the feature vector, so any input size works (a 32 px input ends at 1x1).
The last BatchNorm of every residual branch starts with zero scale, so each block starts as the
identity (Goyal et al., 2017).

BatchNorm across devices: under ``jax.pmap`` set ``axis_name`` to the pmap axis name, so batch
statistics are averaged over the devices (``lax.pmean``) and every device normalises with the
statistics of the whole global batch. Under ``jax.jit`` with the batch sharded over a device
mesh, leave ``axis_name=None``: the batch axis is one global array there, and the statistics
XLA computes over it are already global. In eval (``train=False``) the running averages are
used and nothing is communicated.

Mixed precision: ``dtype=jnp.bfloat16`` runs convolutions and normalisation in bfloat16 while
parameters and the BatchNorm statistics stay float32 (``param_dtype``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import flax.linen as nn
import jax.numpy as jnp

from facejax.nn.batch_norm import batch_norm

Array = Any
ModuleDef = Any


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with a residual connection (ResNet-18/34)."""

    filters: int
    conv: ModuleDef
    norm: ModuleDef
    act: Callable = nn.relu
    strides: tuple[int, int] = (1, 1)
    expansion = 1

    @nn.compact
    def __call__(self, x) -> Array:
        residual = x
        y = self.conv(self.filters, (3, 3), self.strides)(x)
        y = self.act(self.norm()(y))
        y = self.conv(self.filters, (3, 3))(y)
        y = self.norm(scale_init=nn.initializers.zeros_init())(y)
        if residual.shape != y.shape:
            residual = self.conv(self.filters, (1, 1), self.strides, name="conv_proj")(residual)
            residual = self.norm(name="norm_proj")(residual)
        return self.act(residual + y)


class BottleneckBlock(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4) with a residual connection (ResNet-50 and deeper)."""

    filters: int
    conv: ModuleDef
    norm: ModuleDef
    act: Callable = nn.relu
    strides: tuple[int, int] = (1, 1)
    expansion = 4

    @nn.compact
    def __call__(self, x) -> Array:
        residual = x
        y = self.act(self.norm()(self.conv(self.filters, (1, 1))(x)))
        y = self.act(self.norm()(self.conv(self.filters, (3, 3), self.strides)(y)))
        y = self.conv(self.filters * self.expansion, (1, 1))(y)
        y = self.norm(scale_init=nn.initializers.zeros_init())(y)
        if residual.shape != y.shape:
            residual = self.conv(
                self.filters * self.expansion, (1, 1), self.strides, name="conv_proj"
            )(residual)
            residual = self.norm(name="norm_proj")(residual)
        return self.act(residual + y)


class ResNet(nn.Module):
    """``[B, H, W, C]`` images -> ``[B, num_filters * 2**(stages-1) * expansion]`` features.

    Attributes:
      stage_sizes: number of blocks in each stage, e.g. ``(2, 2, 2, 2)`` for ResNet-18.
      block_cls: :class:`BasicBlock` or :class:`BottleneckBlock`.
      num_filters: width of the first stage (64 in the paper; a small value such as 8 makes a
        tiny network for tests).
      dtype: computation dtype; parameters and BatchNorm statistics stay float32.
      axis_name: the ``jax.pmap`` axis name to average BatchNorm statistics over, or ``None``.
      bn_momentum: decay of BatchNorm's running averages.
    """

    stage_sizes: Sequence[int]
    block_cls: ModuleDef
    num_filters: int = 64
    dtype: Any = jnp.float32
    axis_name: str | None = None
    bn_momentum: float = 0.9
    act: Callable = nn.relu

    @property
    def feature_dim(self) -> int:
        return self.num_filters * 2 ** (len(self.stage_sizes) - 1) * self.block_cls.expansion

    @nn.compact
    def __call__(self, images, *, train: bool) -> Array:
        """Args: images ``[B, H, W, C]``; train: batch statistics (True) or running averages.

        Returns: ``[B, feature_dim]`` features in ``dtype``.
        """
        if images.ndim != 4:
            raise ValueError(f"ResNet: images must be [B, H, W, C], got {images.shape}")
        conv = partial(nn.Conv, use_bias=False, dtype=self.dtype, param_dtype=jnp.float32)
        norm = batch_norm(
            train=train, momentum=self.bn_momentum, dtype=self.dtype, axis_name=self.axis_name
        )
        x = jnp.asarray(images, self.dtype)
        x = conv(self.num_filters, (7, 7), (2, 2), padding=[(3, 3), (3, 3)], name="conv_init")(x)
        x = self.act(norm(name="bn_init")(x))
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding="SAME")
        for i, block_size in enumerate(self.stage_sizes):
            for j in range(block_size):
                strides = (2, 2) if i > 0 and j == 0 else (1, 1)
                x = self.block_cls(
                    self.num_filters * 2**i, conv=conv, norm=norm, act=self.act, strides=strides
                )(x)
        return jnp.mean(x, axis=(1, 2))


ResNet18 = partial(ResNet, stage_sizes=(2, 2, 2, 2), block_cls=BasicBlock)
ResNet34 = partial(ResNet, stage_sizes=(3, 4, 6, 3), block_cls=BasicBlock)
ResNet50 = partial(ResNet, stage_sizes=(3, 4, 6, 3), block_cls=BottleneckBlock)
