"""A finished training run read back: its config, and its predictions on the held-out split.

What the command line (``facejax evaluate``, ``facejax reconstruct``) and the experiments'
diagnostic scripts share when they open a run folder written by ``facejax train``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np


def load_run_config(workdir, recipe: str | None = None):
    """The run's ``config.json`` as a locked ``ml_collections.ConfigDict``.

    Args:
      workdir: the run's folder.
      recipe: if given, the recipe the run must have been trained by (e.g. ``"cycle"``).

    Raises:
      FileNotFoundError: ``workdir`` holds no ``config.json`` (not a training run), named.
      ValueError: the run is another recipe's, named.
    """
    import ml_collections

    path = Path(workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a facejax training run (no config.json)")
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
    if recipe is not None and config.get("recipe") != recipe:
        raise ValueError(f"{workdir}: a {config.get('recipe')} run, not a {recipe} one")
    config.lock()
    return config


class HeldOut(NamedTuple):
    """A run's predictions on the test split of the dataset it trained on.

    Attributes:
      config: the run's config.
      model3d: the morphable model its predictions decode with.
      data: the requested features of every test example, ``{name: [N, ...]}``.
      mean_identity_coeffs: the training people's mean identity coefficients ``[Ki]``.
      predictions: the recipe predictor's outputs for every test image, ``{name: [N, ...]}``.
    """

    config: Any
    model3d: Any
    data: dict[str, np.ndarray]
    mean_identity_coeffs: np.ndarray
    predictions: dict[str, np.ndarray]


def held_out_predictions(workdir, features: tuple[str, ...], batch_size: int = 100) -> HeldOut:
    """Restores the run in ``workdir`` and predicts every image of its test split.

    Args:
      workdir: a run folder of ``facejax train`` (its latest restorable checkpoint is used).
      features: the test split's features to read beside ``"image"``.
      batch_size: images per call of the predictor (the last batch is padded).
    """
    from facejax.data.fixed_batches import map_fixed_batches
    from facejax.recipes import datasets, get_recipe

    config = load_run_config(workdir)
    predict, model3d = get_recipe(config.recipe).load_predictor(config, workdir)
    builder = datasets.prepare_dataset(config)[0]
    data = datasets.read_split(
        builder.as_data_source("test"), tuple(dict.fromkeys(("image", *features)))
    )
    mean = datasets.mean_identity_coeffs(builder.as_data_source("train"))
    outputs = map_fixed_batches(predict, data["image"], batch_size)
    predictions = {name: np.asarray(value) for name, value in outputs.items()}
    return HeldOut(config, model3d, data, mean, predictions)
