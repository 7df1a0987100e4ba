"""The datasets a recipe trains and evaluates on: prepared on the fly, read without TensorFlow.

Training batches keep the loader's checkpointable state; identity labels of a training split are
renumbered ``0..C-1`` (a split holds only some of a dataset's people) for the classifier.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

DEFAULT_DATA_DIR = os.path.join("~", ".cache", "facejax", "datasets")


def data_dir(config_dir: str) -> str:
    """``config_dir``, else ``$FACEJAX_DATA_DIR``, else ``~/.cache/facejax/datasets``."""
    path = config_dir or os.environ.get("FACEJAX_DATA_DIR") or DEFAULT_DATA_DIR
    return str(Path(path).expanduser())


def prepare_builder(
    name: str,
    config_name: str,
    directory: str,
    *,
    manual_dir: str = "",
    model: str | None = None,
    image_size: int | None = None,
):
    """The tfds builder ``name/config_name`` in ``directory``, built first if it is missing.

    Synthetic datasets are generated (nothing is downloaded); real ones read ``manual_dir``. A
    builder that makes its examples for a recipe's model and image size (a ``config_for``
    classmethod, e.g. ``facejax_fitted_targets``) gets them: its config is derived from
    ``config_name`` with ``model`` and ``image_size``.

    Args:
      name, config_name: the builder and its config (``data.builder``, ``data.config``).
      directory: the data dir (``""``: :func:`data_dir`'s default).
      manual_dir: the user's copy of a real dataset.
      model: the ``facejax.load_model`` source the recipe trains with; a dataset that records
        another model's fingerprint is refused.
      image_size: the recipe's image side, for builders that crop to it.

    Raises:
      ValueError: the dataset's targets come from another morphable model than ``model``.
    """
    import tensorflow_datasets as tfds

    import facejax.data.builders  # noqa: F401  (registers the facejax builders)

    options = {"data_dir": data_dir(directory), "file_format": "array_record"}
    config_for = getattr(tfds.builder_cls(name), "config_for", None)
    if config_for is not None:
        config = config_for(config_name, model=model, image_size=image_size)
        builder = tfds.builder(name, config=config, **options)
    else:
        builder = tfds.builder(f"{name}/{config_name}", **options)
    if not builder.is_prepared():
        print(
            f"preparing {name}/{builder.builder_config.name} in {builder.data_dir} ...", flush=True
        )
        download_config = None
        if manual_dir:
            download_config = tfds.download.DownloadConfig(manual_dir=manual_dir)
        builder.download_and_prepare(download_config=download_config)
    if model is not None:
        check_model(builder, model)
    return builder


def prepare_dataset(config):
    """``(builder, metadata)`` of a recipe config's ``data`` (built first if it is missing),
    for its ``model3d`` and image size (:func:`prepare_builder`), whose images must be of
    ``data.image_size`` (:func:`check_image_size`)."""
    builder = prepare_builder(
        config.data.builder, config.data.config, config.data.data_dir,
        manual_dir=config.data.manual_dir, model=config.model3d,
        image_size=config.data.image_size,
    )  # fmt: skip
    check_image_size(builder, config.data.image_size)
    return builder, builder.info.metadata


def check_image_size(builder, image_size: int) -> None:
    """Raises ``ValueError`` unless the dataset's images (``image`` ``[H, W, 3]``, or a clip's
    ``frames`` ``[T, H, W, 3]``) are ``image_size`` square: the recipes feed them to a network
    built for ``data.image_size`` as they are, and a network initialised at one size fails
    on another with an error that names neither."""
    features = builder.info.features
    key = "image" if "image" in features else "frames" if "frames" in features else None
    if key is None:
        return
    height, width = features[key].shape[-3:-1]
    if (height, width) != (image_size, image_size):
        raise ValueError(
            f"{builder.name}/{builder.builder_config.name}: its images are {height}x{width} px, "
            f"the config trains at {image_size} (data.image_size); set data.image_size to "
            f"{height}, or a data.config whose images are {image_size} px"
        )


def check_model(builder, model: str) -> None:
    """Raises ``ValueError`` unless the dataset's coefficients are of ``model`` (its
    ``metadata["model_fingerprint"]``; datasets without one are not checked)."""
    recorded = builder.info.metadata.get("model_fingerprint") if builder.info.metadata else None
    if recorded is None:
        return
    from facejax.formats import load_model
    from facejax.morphable import fingerprint

    expected = fingerprint(load_model(model))
    if recorded != expected:
        raise ValueError(
            f"{builder.name}/{builder.builder_config.name}: its coefficients are of the model "
            f"{builder.info.metadata.get('model')!r} (fingerprint {recorded[:12]}), the config "
            f"trains with {model!r} ({expected[:12]}); set config.model3d or data.config to match"
        )


def train_label_map(metadata: Mapping, split: str = "train") -> np.ndarray:
    """``[num_identities]`` int64: the dataset's identity label -> its class in ``split``
    (``0..C-1`` in label order), ``-1`` for people not in the split."""
    names = list(metadata["identity_names"])
    members = set(metadata["split_identities"][split])
    table = np.full(len(names), -1, np.int64)
    classes = [label for label, name in enumerate(names) if name in members]
    table[classes] = np.arange(len(classes))
    return table


def num_train_classes(metadata: Mapping, split: str = "train") -> int:
    """The number of people in ``split``: the classes of :func:`train_label_map`."""
    return int(np.sum(train_label_map(metadata, split) >= 0))


SINGLE_LABELS = (("identity", "label"),)
PAIR_LABELS = (("identity_a", "label_a"), ("identity_b", "label_b"))


class RelabelledBatches(Iterator):
    """A loader's batches with identity features renumbered by a table into class labels; the
    loader's ``get_state``/``set_state``/``close`` pass through, so the run stays resumable.

    ``fields`` pairs each identity feature with the label it gives: ``identity -> label`` for
    single images (:data:`SINGLE_LABELS`), ``identity_a -> label_a`` and ``identity_b ->
    label_b`` for the pairs of ``facejax.data.pipeline.pair_source`` (:data:`PAIR_LABELS`).
    """

    def __init__(self, loader, table: np.ndarray, fields=SINGLE_LABELS):
        self.loader = loader
        self.table = table
        self.fields = tuple(fields)

    def __next__(self) -> dict:
        batch = dict(next(self.loader))
        for identity, label in self.fields:
            batch[label] = self.table[np.asarray(batch[identity])]
            if np.any(batch[label] < 0):
                raise ValueError("a training batch holds a person outside the training split")
        return batch

    def get_state(self):
        return self.loader.get_state()

    def set_state(self, state) -> None:
        self.loader.set_state(state)

    def close(self) -> None:
        self.loader.close()


def read_split(source, features: tuple[str, ...], batch_size: int = 256) -> dict[str, np.ndarray]:
    """Every example of a data source, in its order, as stacked arrays of ``features``."""
    columns: dict[str, list] = {name: [] for name in features}
    for start in range(0, len(source), batch_size):
        indices = range(start, min(start + batch_size, len(source)))
        examples = (
            source.__getitems__(list(indices))
            if hasattr(source, "__getitems__")
            else [source[i] for i in indices]
        )
        for example in examples:
            for name in features:
                columns[name].append(example[name])
    return {name: np.stack(values) for name, values in columns.items()}


def mean_identity_coeffs(source, batch_size: int = 256) -> np.ndarray:
    """``[K]`` the mean identity of a split's people: each person's mean ``identity_coeffs``
    over their images, then the mean over people (a person with many images counts once).

    Decoded with the morphable model this is the *mean face*, the baseline a learned shape is
    reported beside (``facejax.evaluation.baselines``).
    """
    data = read_split(source, ("identity", "identity_coeffs"), batch_size)
    labels, inverse = np.unique(data["identity"], return_inverse=True)
    sums = np.zeros((len(labels), data["identity_coeffs"].shape[-1]), np.float64)
    np.add.at(sums, inverse, data["identity_coeffs"])
    per_person = sums / np.bincount(inverse)[:, None]
    return per_person.mean(0).astype(np.float32)
