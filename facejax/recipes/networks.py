"""How a recipe builds its network from a config and gets it back from a checkpoint.

The pieces every network recipe repeats: the encoder of ``config.model`` (its computation
dtype, BatchNorm axis and widths), the ``init_fn`` of ``facejax.train.run_training`` (a dummy
image batch), and the restore of the latest checkpoint with the network rebuilt from the config
saved beside it (``config.model.num_classes``, recorded by training).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax.numpy as jnp

from facejax import morphable, nn
from facejax.formats import load_model
from facejax.recipes import datasets
from facejax.train import batch_axis_name, compute_dtype, restore_variables


def create_encoder(config):
    """The image encoder of ``config.model`` (``encoder``; ``num_filters`` for ResNets, stage
    widths ``width x (1, 2, 4, 8)`` for the small, spatial and keypoint CNNs, ``num_keypoints``
    for the keypoint CNN) in ``config.precision``."""
    m = config.model
    kwargs: dict[str, Any] = {"dtype": compute_dtype(config.precision)}
    kwargs["axis_name"] = batch_axis_name(config.parallelism)
    if m.encoder.startswith("resnet"):
        kwargs["num_filters"] = m.num_filters
    else:  # the small, spatial and keypoint CNNs
        kwargs["widths"] = tuple(m.get("width", 32) * 2**i for i in range(4))
    if m.encoder == "keypoint_cnn" and m.get("num_keypoints"):
        kwargs["num_keypoints"] = m.num_keypoints
    return nn.create_encoder(m.encoder, **kwargs)


def make_init_fn(net, model3d, image_size: int):
    """``init_fn(rng) -> variables`` of ``net`` on one blank ``[1, S, S, 3]`` image."""

    def init_fn(rng):
        images = jnp.zeros((1, image_size, image_size, 3), jnp.float32)
        return net.init(rng, images, model3d, train=False)

    return init_fn


def restore(config, workdir, create_network: Callable):
    """``(net, variables, model3d, step)`` of the latest checkpoint in ``workdir`` (EMA
    parameters when the run kept them).

    Args:
      config: the run's config (``facejax.cli.train.load_config`` of ``workdir``).
      workdir: the run's folder.
      create_network: ``create_network(config, model3d, num_classes)``, the recipe's.
    """
    model3d = morphable.to_device(load_model(config.model3d))
    num_classes = config.model.get("num_classes", 0)
    if not num_classes:  # a run saved before the config recorded it: count the people
        num_classes = datasets.num_train_classes(datasets.prepare_dataset(config)[1])
    net = create_network(config, model3d, num_classes=num_classes)
    init_fn = make_init_fn(net, model3d, config.data.image_size)
    variables, step = restore_variables(config, workdir, init_fn)
    return net, variables, model3d, step
