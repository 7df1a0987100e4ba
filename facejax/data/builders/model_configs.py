"""The builder config a recipe trains with: a named config re-derived for its model and image size.

A builder whose examples depend on the recipe's morphable model (coefficients of that model)
and image side (crop size) has a ``config_for`` classmethod that calls :func:`config_for_model`;
``facejax.recipes.datasets.prepare_builder`` finds it and the builder records the model's
fingerprint in ``info.metadata["model_fingerprint"]``, which ``prepare_builder`` checks. The
derived config is named ``<base>_<S>px_model<8 hex digits of the fingerprint>`` (the parts that
differ from ``base``), so tfds keeps every model and size apart in one data dir.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from facejax.data.builders.face_crops import FaceCropConfig


def config_for_model(
    builder_name: str,
    configs: Sequence[FaceCropConfig],
    base: str,
    *,
    model: str | None = None,
    image_size: int | None = None,
    check_model: Callable | None = None,
) -> FaceCropConfig:
    """The config ``base`` with ``model`` (its ``model`` field) and ``crop_size=image_size``.

    Args:
      builder_name: named in errors.
      configs: the builder's ``BUILDER_CONFIGS``; each has a ``model`` field.
      base: the name of one of them (a recipe's ``data.config``).
      model: a ``facejax.load_model`` source, or ``None`` to keep ``base``'s.
      image_size: the crop side in pixels, or ``None`` to keep ``base``'s.
      check_model: called with the loaded model when ``model`` changes; raises to refuse it.

    Returns:
      ``base``'s config itself when nothing changes, else a renamed copy.

    Raises:
      ValueError: for an unknown ``base``, or from ``check_model``.
    """
    by_name = {c.name: c for c in configs}
    if base not in by_name:
        raise ValueError(
            f"{builder_name}: unknown config {base!r}; known: {', '.join(by_name)} "
            "(a recipe names it in data.config)"
        )
    config, changes, name = by_name[base], {}, base
    if image_size is not None and image_size != config.crop_size:
        changes["crop_size"] = int(image_size)
        name += f"_{int(image_size)}px"
    if model is not None and model != config.model:
        from facejax.formats import load_model
        from facejax.morphable import fingerprint

        loaded = load_model(model, format=getattr(config, "model_format", None))
        if check_model is not None:
            check_model(loaded)
        changes["model"] = model
        name += f"_model{fingerprint(loaded)[:8]}"
    if not changes:
        return config
    return dataclasses.replace(config, name=name, description=f"{base} with {changes}", **changes)
