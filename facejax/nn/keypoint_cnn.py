"""An encoder that reads *where* things are as numbers: learned keypoints by spatial soft-argmax.

:class:`facejax.nn.SpatialCNN` keeps the layout of its last ``4 x 4`` map, but a dense layer must
still turn activations into positions, and a face's shape is in the positions of its parts to a
fraction of a pixel at 64 px. This encoder adds a keypoint stage (the spatial soft-argmax of
Levine, Finn et al., "End-to-End Training of Deep Visuomotor Policies", JMLR 2016): on an
intermediate map (``16 x 16`` for 64 px input) a 1x1 convolution scores ``num_keypoints``
heatmaps, each is normalised by a softmax over the map, and its expected position, a continuous
``(x, y)`` in input pixels, becomes two features. The keypoints are learned end to end from the
recipe's losses, or supervised: the keypoints are sown into the ``intermediates`` collection
(:func:`sown_keypoints`), where a recipe can compare the first 68 with the image's landmarks
(the Siamese recipe's ``loss.w_keypoints``): a landmark detector whose continuous positions the
heads read.

Features: ``[B, features + 2 * num_keypoints]``, the SpatialCNN's dense features (computed from
its flattened last map *and* the keypoints) followed by the keypoint coordinates, normalised by a
BatchNorm (each coordinate's batch spread, so that a sub-pixel shift is a change of order 0.1, not
0.003, at the linear heads).

BatchNorm across devices: ``axis_name`` as in :mod:`facejax.nn.small_cnn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from facejax.nn.batch_norm import batch_norm
from facejax.nn.spatial_cnn import DEFAULT_WIDTHS
from facejax.numerics import at_least_float32

Array = Any


KEYPOINTS = "keypoints"


def sown_keypoints(intermediates):
    """The ``[B, K, 2]`` keypoints (input pixels) a :class:`KeypointCNN` sowed into the
    ``intermediates`` collection of an ``apply(..., mutable=["intermediates"])``, wherever the
    encoder sits in the network.

    Raises:
      ValueError: none or several keypoint encoders sowed.
    """
    found = [
        value
        for path, value in jax.tree_util.tree_flatten_with_path(
            intermediates, is_leaf=lambda x: isinstance(x, tuple)
        )[0]
        if getattr(path[-1], "key", None) == KEYPOINTS
    ]
    if len(found) != 1:
        raise ValueError(
            f"sown_keypoints: expected the keypoints of one KeypointCNN, found {len(found)} "
            "(is the encoder a keypoint_cnn, applied with mutable=['intermediates']?)"
        )
    (keypoints,) = found[0]
    return keypoints


def spatial_soft_argmax(logits, stride: float):
    """``[B, h, w, K]`` scores -> ``[B, K, 2]`` expected ``(x, y)`` of each softmax-normalised map.

    Positions are those of the cell centres in the input image's pixels, ``((j + 0.5) * stride,
    (i + 0.5) * stride)`` for cell ``(i, j)`` (row, column), so a map of side ``h`` at stride
    ``H / h`` spans the input's ``[0, H]``. Computed in float32 at least.
    """
    logits = at_least_float32(logits)
    b, h, w, k = logits.shape
    weights = jax.nn.softmax(logits.reshape(b, h * w, k), axis=1).reshape(b, h, w, k)
    ys = (jnp.arange(h, dtype=logits.dtype) + 0.5) * stride
    xs = (jnp.arange(w, dtype=logits.dtype) + 0.5) * stride
    x = jnp.einsum("bhwk,w->bk", weights, xs)
    y = jnp.einsum("bhwk,h->bk", weights, ys)
    return jnp.stack([x, y], axis=-1)


class KeypointCNN(nn.Module):
    """``[B, H, W, C]`` images -> ``[B, features + 2 * num_keypoints]``.

    The :class:`~facejax.nn.SpatialCNN` layout (a full-resolution stem, per width a stride-2 and
    a stride-1 3x3 convolution with BatchNorm and ReLU, down to ``final_size``), with keypoints
    read from the first map whose side is at most ``keypoint_size``.

    Attributes:
      widths: channels of the stages (the stem uses the first).
      features: units of the dense layer.
      num_keypoints: learned keypoints (two coordinates each).
      keypoint_size: the largest map side the keypoints are read from.
      final_size: the side the feature map is reduced to before flattening.
      dtype: computation dtype; parameters, BatchNorm statistics and the soft-argmax stay float32.
      axis_name: the ``jax.pmap`` axis name for BatchNorm statistics, or ``None``.
      bn_momentum: decay of BatchNorm's running averages.
    """

    widths: Sequence[int] = DEFAULT_WIDTHS
    features: int = 512
    num_keypoints: int = 32
    keypoint_size: int = 16
    final_size: int = 4
    dtype: Any = jnp.float32
    axis_name: str | None = None
    bn_momentum: float = 0.9

    @nn.compact
    def __call__(self, images, *, train: bool) -> Array:
        if images.ndim != 4:
            raise ValueError(f"KeypointCNN: images must be [B, H, W, C], got {images.shape}")
        if self.keypoint_size < self.final_size:
            raise ValueError(
                f"KeypointCNN: keypoint_size {self.keypoint_size} is below final_size "
                f"{self.final_size}"
            )
        norm = batch_norm(
            train=train, momentum=self.bn_momentum, dtype=self.dtype, axis_name=self.axis_name
        )
        conv = partial(nn.Conv, use_bias=False, dtype=self.dtype, param_dtype=jnp.float32)
        size = images.shape[1]
        x = jnp.asarray(images, self.dtype)
        x = nn.relu(norm()(conv(self.widths[0], (3, 3))(x)))
        keypoints = None
        stage = 0
        while True:
            if keypoints is None and max(x.shape[1:3]) <= self.keypoint_size:
                scores = nn.Conv(
                    self.num_keypoints, (1, 1), dtype=jnp.float32, name="keypoint_scores"
                )(x)
                keypoints = spatial_soft_argmax(scores, size / x.shape[1])
                self.sow("intermediates", KEYPOINTS, keypoints)
            if max(x.shape[1:3]) <= self.final_size:
                break
            width = self.widths[min(stage, len(self.widths) - 1)]
            x = nn.relu(norm()(conv(width, (3, 3), strides=(2, 2))(x)))
            x = nn.relu(norm()(conv(width, (3, 3))(x)))
            stage += 1
        coords = keypoints.reshape(keypoints.shape[0], -1)
        coords = norm(name="keypoint_norm", dtype=jnp.float32)(coords)
        x = jnp.concatenate([x.reshape(x.shape[0], -1), jnp.asarray(coords, self.dtype)], -1)
        dense = nn.Dense(self.features, dtype=self.dtype, param_dtype=jnp.float32)
        return jnp.concatenate([nn.relu(dense(x)), jnp.asarray(coords, self.dtype)], -1)
