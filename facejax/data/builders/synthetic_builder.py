"""The base of facejax's synthetic-dataset builders: options, model, batching and metadata.

``facejax_synthetic_faces`` and ``facejax_synthetic_clips`` share a config (image size,
identities, model, seed, scene ranges), the way they load their model, render batches of scenes
in one compiled shape, split identities (``identity_split.split_identities``, as the real
identity-folder builders do) and describe themselves in ``info.metadata``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds
import tqdm

from facejax.data import features
from facejax.data import synthetic_scenes as scenes
from facejax.data.builders.identity_split import split_identities
from facejax.data.synthetic_render import render_scenes

# The seed is folded into jax.random keys as an int32.
MAX_SEED = 2**31 - 1
POSE_CONVENTION = "xyz"


@dataclasses.dataclass(eq=False)
class SyntheticConfig(tfds.core.BuilderConfig):
    """Options shared by the synthetic builders.

    Attributes:
      image_size: side ``S`` of the square images, pixels.
      num_train_identities: people in ``train``.
      num_test_identities: people in ``test`` (never in ``train``).
      model: what :func:`facejax.load_model` reads: ``"synthetic"``, ``"synthetic:small"`` or
        a path to any supported model file (it needs 68 landmarks).
      seed: every random draw derives from it (``[0, 2**31)``).
      scene: the ranges of pose, framing, expression, lighting and degradation.
      batch_size: images rendered per compiled call (a speed knob; the data do not depend on
        it).
      max_tiles: the rasterizer's tile budget (``None``: its default); raise it if a build
        reports overflowing triangles.
    """

    image_size: int = 64
    num_train_identities: int = 300
    num_test_identities: int = 100
    model: str = "synthetic"
    seed: int = 0
    scene: scenes.SceneConfig = dataclasses.field(default_factory=scenes.SceneConfig)
    batch_size: int = 32
    max_tiles: int | None = None

    def __post_init__(self):
        if self.image_size < 8:
            raise ValueError(f"{self.name}: image_size must be >= 8, got {self.image_size}")
        if self.num_train_identities < 1 or self.num_test_identities < 1:
            raise ValueError(
                f"{self.name}: need at least one train and one test identity, got "
                f"{self.num_train_identities} and {self.num_test_identities}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"{self.name}: seed must be in [0, {MAX_SEED}], got {self.seed}")
        if self.batch_size < 1:
            raise ValueError(f"{self.name}: batch_size must be >= 1, got {self.batch_size}")

    @property
    def num_identities(self) -> int:
        return self.num_train_identities + self.num_test_identities


def identity_names(num_identities: int) -> list[str]:
    """``synthetic_00000``, ... : sorted, so label ``i`` is name ``i``."""
    width = max(5, len(str(num_identities - 1)))
    return [f"synthetic_{i:0{width}d}" for i in range(num_identities)]


def ground_truth_features(model, shape=()) -> dict:
    """The parameters stored beside each image (``shape``: leading per-frame dims)."""

    def vector(*dims):
        return tfds.features.Tensor(shape=(*shape, *dims), dtype=np.float32)

    return {
        "identity_coeffs": vector(model.num_identity),
        "expression_coeffs": vector(model.num_expression),
        "albedo_coeffs": vector(model.num_albedo),
        "pose": vector(3),
        "translation": vector(3),
        "camera_focal": vector(2),
        "camera_principal_point": vector(2),
        "sh_coeffs": vector(9, 3),
        "landmark_visibility": tfds.features.Tensor(
            shape=(*shape, features.NUM_LANDMARKS), dtype=np.bool_
        ),
    }


class SyntheticBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """What both synthetic builders share: the model, its framing and the metadata."""

    # tensorflow-datasets 4.9.10 computes a builder's source path with importlib_resources, a
    # backport it installs only for Python < 3.9: on 3.11 any builder defined in a package fails
    # in download_and_prepare. The path only locates download checksums, which we have none of.
    code_path = None

    def __init__(self, *, progress: bool = False, **kwargs):
        """``progress=True`` shows a progress bar of the rendering (``tqdm``); the other
        arguments are tfds's (``config``, ``data_dir``, ``file_format="array_record"``, ...)."""
        self.progress = progress
        super().__init__(**kwargs)

    @functools.cached_property
    def model(self):
        from facejax.formats import load_model
        from facejax.morphable import to_device

        return to_device(load_model(self.builder_config.model))

    @functools.cached_property
    def fingerprint(self) -> str:
        from facejax.morphable import fingerprint

        return fingerprint(self.model)

    def _features(self) -> dict:
        raise NotImplementedError

    def _generate_examples(self, **kwargs):
        # Each builder returns its own generators from `_split_generators`.
        raise NotImplementedError(f"{type(self).__name__} has no generic _generate_examples")

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(type(self).__doc__ or "").strip(),
            features=tfds.features.FeaturesDict(self._features()),
            homepage="",
            metadata=tfds.core.MetadataDict(),
        )

    def _common_metadata(self) -> dict:
        config = self.builder_config
        names = identity_names(config.num_identities)
        splits = split_identities(
            names,
            test_fraction=config.num_test_identities / config.num_identities,
            seed=config.seed,
        )
        # The fraction round-trips to the exact count (split_identities rounds it).
        assert len(splits["test"]) == config.num_test_identities, splits
        frame = scenes.framing(self.model)
        return {
            "model": config.model,
            "model_name": self.model.name,
            "model_fingerprint": self.fingerprint,
            "units": "mm",
            "pose_convention": POSE_CONVENTION,
            "seed": config.seed,
            "image_size": config.image_size,
            "scene": dataclasses.asdict(config.scene),
            "framing": {"anchor_mm": frame.anchor.tolist(), "extent_mm": frame.extent},
            "identity_names": names,
            "num_identities": len(names),
            "split_identities": splits,
        }

    def _render(self, scene_batch, count: int):
        """Renders a batch of scenes; yields the arrays of its first ``count`` examples."""
        config = self.builder_config
        out = render_scenes(
            self.model,
            scene_batch,
            radius=config.scene.blur_radius(config.image_size),
            max_tiles=config.max_tiles,
        )
        out = jax.device_get(out)
        overflow = int(np.max(out.pop("overflow")))
        if overflow:
            raise RuntimeError(
                f"{self.name}/{config.name}: the rasterizer dropped {overflow} triangles of an "
                "image; set a larger max_tiles in the config"
            )
        for j in range(count):
            yield {k: v[j] for k, v in out.items()}

    def _progress_bar(self, split: str, total: int, unit: str):
        bar = tqdm.tqdm(
            total=total,
            desc=f"{self.name}/{self.builder_config.name} {split}",
            unit=unit,
            disable=not self.progress,
        )
        # The first batch waits for XLA to compile the samplers and the renderer.
        bar.set_postfix_str("compiling")
        return bar

    def _framing_arrays(self):
        frame = scenes.framing(self.model)
        return jnp.asarray(frame.anchor, jnp.float32), jnp.asarray(frame.extent, jnp.float32)


def padded_batches(items: list, batch_size: int):
    """Yields ``(chunk, columns)``: consecutive chunks of ``items`` (tuples of ints) and their
    columns as ``[batch_size]`` int32 arrays, the last chunk padded by repeating its last item
    (every compiled call keeps one shape)."""
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        padded = chunk + [chunk[-1]] * (batch_size - len(chunk))
        yield chunk, [jnp.asarray(c, jnp.int32) for c in zip(*padded, strict=True)]


def derived_config(builder_cls, base: str, *, seed: int | None = None, model: str | None = None):
    """One of ``builder_cls``'s configs, with another seed or model.

    tfds keeps a dataset under its config's name, so a config that differs from a named one
    needs its own name: ``<base>_seed<seed>`` and/or ``_model<8 hex digits of the model's
    fingerprint>``. With neither change the named config itself is returned.

    Args:
      builder_cls: ``SyntheticFaces`` or ``SyntheticClips``.
      base: ``"tiny"``, ``"small"`` or ``"full"``.
      seed: a seed other than the config's, or ``None``.
      model: a model (``facejax.load_model`` source) other than the config's, or ``None``.

    Raises:
      ValueError: for an unknown ``base``.
    """
    configs = {c.name: c for c in builder_cls.BUILDER_CONFIGS}
    if base not in configs:
        raise ValueError(f"{builder_cls.name}: unknown config {base!r}; known: {sorted(configs)}")
    config = configs[base]
    changes, name = {}, base
    if seed is not None and seed != config.seed:
        changes["seed"] = seed
        name += f"_seed{seed}"
    if model is not None and model != config.model:
        from facejax.formats import load_model
        from facejax.morphable import fingerprint

        changes["model"] = model
        name += f"_model{fingerprint(load_model(model))[:8]}"
    if not changes:
        return config
    return dataclasses.replace(config, name=name, description=f"{base} with {changes}", **changes)
