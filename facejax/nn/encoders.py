"""Image encoders by name, for configs: ``create_encoder("resnet50", dtype=jnp.bfloat16)``.

Every encoder maps ``[B, H, W, C]`` images to ``[B, D]`` features, is called as
``encoder(images, train=...)`` and keeps its BatchNorm statistics in the ``batch_stats``
collection (apply with ``mutable=["batch_stats"]`` when ``train=True``).
"""

from __future__ import annotations

import types
from collections.abc import Callable, Mapping

import flax.linen as nn

from facejax.nn.keypoint_cnn import KeypointCNN
from facejax.nn.resnet import ResNet18, ResNet34, ResNet50
from facejax.nn.small_cnn import SmallCNN
from facejax.nn.spatial_cnn import SpatialCNN

ENCODERS: Mapping[str, Callable[..., nn.Module]] = types.MappingProxyType(
    {
        "small_cnn": SmallCNN,
        "spatial_cnn": SpatialCNN,
        "keypoint_cnn": KeypointCNN,
        "resnet18": ResNet18,
        "resnet34": ResNet34,
        "resnet50": ResNet50,
    }
)


def create_encoder(name: str, **kwargs) -> nn.Module:
    """The encoder called ``name`` (a key of ``ENCODERS``), built with ``kwargs``.

    Common keyword arguments: ``dtype`` (computation dtype), ``axis_name`` (the pmap axis name
    for cross-device BatchNorm, ``None`` under jit), ``bn_momentum``; ``num_filters`` for the
    ResNets, ``widths`` for the small, spatial and keypoint CNNs.

    Raises:
      ValueError: for an unknown name.
    """
    try:
        factory = ENCODERS[name]
    except KeyError:
        known = ", ".join(sorted(ENCODERS))
        raise ValueError(f"create_encoder: unknown encoder {name!r}; known: {known}") from None
    return factory(**kwargs)
