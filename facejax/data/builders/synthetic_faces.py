"""``facejax_synthetic_faces``: face images rendered from a morphable model, with exact ground
truth, split by identity, with verification pairs and an identification split for the test set.

N identities x M images. Each identity has its own identity and albedo coefficients; each image
its own expression, pose (yaw over the full +-90 degrees), SH lighting, camera distance,
textured background, blur and noise (facejax.data.synthetic_scenes). Nothing is downloaded and
TensorFlow is not needed: build with ``file_format="array_record"``, read with
``builder.as_data_source(split)``. docs/synthetic_datasets.md has the features, protocols and
speeds.

Every example is a function of the seed and its ``(identity, image)`` numbers only (keys made by
``jax.random.fold_in``), rendered in batches by one jit-compiled ``vmap`` per config.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from facejax.data import features, protocols
from facejax.data import synthetic_scenes as scenes
from facejax.data.builders.synthetic_builder import (
    SyntheticBuilder,
    SyntheticConfig,
    ground_truth_features,
    padded_batches,
)
from facejax.data.synthetic_backgrounds import random_background
from facejax.data.synthetic_render import Scene


@dataclasses.dataclass(eq=False)
class SyntheticFacesConfig(SyntheticConfig):
    """Options of ``facejax_synthetic_faces`` (shared ones: :class:`SyntheticConfig`).

    Attributes:
      images_per_identity: images ``M`` of each person (at least 2, for matched pairs).
      num_folds: verification folds of the test split.
      pairs_per_fold: matched pairs per fold, and as many mismatched ones.
      gallery_per_identity: gallery images per test person; the rest are probes.
    """

    images_per_identity: int = 10
    num_folds: int = 10
    pairs_per_fold: int = 300
    gallery_per_identity: int = 1

    def __post_init__(self):
        super().__post_init__()
        if self.images_per_identity < 2:
            raise ValueError(
                f"{self.name}: images_per_identity must be >= 2 (matched pairs), got "
                f"{self.images_per_identity}"
            )
        if self.gallery_per_identity >= self.images_per_identity:
            raise ValueError(
                f"{self.name}: gallery_per_identity ({self.gallery_per_identity}) leaves no "
                f"probe of {self.images_per_identity} images"
            )


def image_scene(model, seed, identity, image, anchor, extent, *, scene, size, stream):
    """The :class:`~facejax.data.synthetic_render.Scene` of image ``image`` of ``identity``.

    Args:
      model: the morphable model.
      seed: ``[]`` int32 dataset seed.
      identity, image: ``[]`` int32 numbers.
      anchor, extent: the model's framing (:func:`facejax.data.synthetic_scenes.framing`).
      scene: the :class:`~facejax.data.synthetic_scenes.SceneConfig`.
      size: image side.
      stream: the random stream of the dataset's identities (faces and clips differ).
    """
    identity_coeffs, albedo = scenes.sample_identity(
        model, scenes.stream_key(seed, stream, identity), scene
    )
    key = scenes.stream_key(seed, scenes.IMAGE_STREAM, identity, image)
    k_expr, k_rot, k_light, k_place, k_bg, k_deg, k_noise = jax.random.split(key, 7)
    rotation = scenes.sample_rotation(k_rot, scene)
    fill, offset = scenes.sample_placement(k_place, scene)
    params = scenes.face_params(
        model,
        identity_coeffs,
        albedo,
        scenes.sample_expression(model, k_expr, scene),
        rotation,
        jnp.zeros((3,), jnp.float32),
        scenes.sample_lighting(k_light, scene),
        size,
    )
    translation = scenes.place_face(rotation, fill, offset, params.camera, anchor, extent, size)
    blur, noise_std = scenes.sample_degradation(k_deg, scene, size)
    return Scene(
        params=params.replace(translation=translation),
        background=random_background(k_bg, size),
        blur_sigma=blur,
        noise=scenes.pixel_noise(k_noise, noise_std, size),
    )


@functools.partial(jax.jit, static_argnames=("scene", "size"))
def sample_faces(model, seed, identities, images, anchor, extent, *, scene, size) -> Scene:
    """The scenes of a batch of ``(identity, image)`` examples of ``facejax_synthetic_faces``.

    Args:
      model: the morphable model (on device).
      seed: ``[]`` int32 dataset seed.
      identities, images: ``[B]`` int32 identity labels and image numbers.
      anchor, extent: the model's framing (:func:`facejax.data.synthetic_scenes.framing`).
      scene: the :class:`~facejax.data.synthetic_scenes.SceneConfig` (static).
      size: image side (static).

    Returns:
      A batch of :class:`~facejax.data.synthetic_render.Scene` (leading axis ``B``).
    """

    def one(identity, image):
        return image_scene(
            model,
            seed,
            identity,
            image,
            anchor,
            extent,
            scene=scene,
            size=size,
            stream=scenes.IDENTITY_STREAM,
        )

    return jax.vmap(one)(identities, images)


class SyntheticFaces(SyntheticBuilder):
    """Synthetic face images with exact 3DMM ground truth, split by identity."""

    name = "facejax_synthetic_faces"
    VERSION = tfds.core.Version("1.1.0")
    RELEASE_NOTES = {
        "1.0.0": "First facejax release.",
        "1.1.0": "small: 1,500 train + 200 test people x 4 images (was 300 + 100 x 10).",
    }
    BUILDER_CONFIGS = [
        SyntheticFacesConfig(
            name="tiny",
            description="Tests: 32x32, synthetic:small, 10 train + 20 test people x 3 images.",
            image_size=32,
            num_train_identities=10,
            num_test_identities=20,
            images_per_identity=3,
            model="synthetic:small",
            pairs_per_fold=3,
            batch_size=32,
        ),
        SyntheticFacesConfig(
            name="tiny_people",
            description=(
                "Tests that a recipe learns: 32x32, synthetic:small, 400 train + 40 test people "
                "x 2 images."
            ),
            image_size=32,
            num_train_identities=400,
            num_test_identities=40,
            images_per_identity=2,
            model="synthetic:small",
            pairs_per_fold=2,
            batch_size=128,
        ),
        # Many people, few images each: with 300 people x 10 images a network learned the
        # training people (by colour) instead of reading shape (experiments/disentangle).
        SyntheticFacesConfig(
            name="small",
            description="CPU runs: 64x64, 1,500 train + 200 test people x 4 images.",
            num_train_identities=1500,
            num_test_identities=200,
            images_per_identity=4,
            pairs_per_fold=100,
        ),
        # The same people with the head turned at most 45 degrees: the turned half of `small`
        # holds most of a network's identity error (experiments/disentangle/error_by_yaw.py).
        SyntheticFacesConfig(
            name="small_frontal",
            description=(
                "CPU runs: small's people and sizes, |yaw| <= 45 degrees (faces that show "
                "their shape)."
            ),
            num_train_identities=1500,
            num_test_identities=200,
            images_per_identity=4,
            pairs_per_fold=100,
            scene=scenes.SceneConfig(yaw_deg=45.0),
        ),
        # More people for the disentangled recipe's larger CPU configuration: on `small` the
        # spatial CNN underfits and the landmark oracle's bound falls with the people count.
        SyntheticFacesConfig(
            name="medium_frontal",
            description=(
                "Longer CPU runs: 64x64, 4,000 train + 200 test people x 4 images, |yaw| <= 45 "
                "degrees."
            ),
            num_train_identities=4000,
            num_test_identities=200,
            images_per_identity=4,
            pairs_per_fold=100,
            scene=scenes.SceneConfig(yaw_deg=45.0),
        ),
        SyntheticFacesConfig(
            name="full",
            description="GPUs: 112x112, 4,000 train + 1,000 test people x 20 images.",
            image_size=112,
            num_train_identities=4000,
            num_test_identities=1000,
            images_per_identity=20,
            batch_size=128,
        ),
    ]

    def _features(self) -> dict:
        config = self.builder_config
        size = config.image_size
        return {
            **features.face_image_features(size),
            "image_index": tfds.features.Tensor(shape=(), dtype=np.int64),
            "mask": tfds.features.Tensor(shape=(size, size), dtype=np.bool_),
            **ground_truth_features(self.model),
            "model_fingerprint": tfds.features.Text(),
        }

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        config = self.builder_config
        metadata = self._common_metadata()
        names = metadata["identity_names"]
        splits = metadata["split_identities"]
        labels = {name: i for i, name in enumerate(names)}
        # The protocols index the test examples in their key order (person, then image).
        test_items = [
            (labels[n], m) for n in splits["test"] for m in range(config.images_per_identity)
        ]
        keys = [self.example_key(names[i], m) for i, m in test_items]
        test_labels = np.asarray([i for i, _ in test_items], np.int64)
        metadata.update(
            protocols.protocol_metadata(
                test_labels,
                keys,
                num_folds=config.num_folds,
                pairs_per_fold=config.pairs_per_fold,
                gallery_per_identity=config.gallery_per_identity,
                seed=config.seed,
            )
        )
        metadata["images_per_identity"] = config.images_per_identity
        self.info.metadata.update(metadata)
        return {
            split: self._generate_split(
                split,
                [(labels[n], m) for n in people for m in range(config.images_per_identity)],
                names,
            )
            for split, people in splits.items()
        }

    @staticmethod
    def example_key(identity_name: str, image: int) -> str:
        """The ``image_path`` (and tfds key) of an example: ``synthetic_00012/003``."""
        return f"{identity_name}/{image:03d}"

    def _generate_split(self, split, items, names):
        config = self.builder_config
        bar = self._progress_bar(split, len(items), " images")
        anchor, extent = self._framing_arrays()
        seed = jnp.asarray(config.seed, jnp.int32)
        crop = np.eye(2, 3, dtype=np.float32)  # the image is the source: identity transform
        for chunk, (identities, images) in padded_batches(items, config.batch_size):
            scene_batch = sample_faces(
                self.model,
                seed,
                identities,
                images,
                anchor,
                extent,
                scene=config.scene,
                size=config.image_size,
            )
            for (identity, image), arrays in zip(
                chunk, self._render(scene_batch, len(chunk)), strict=True
            ):
                key = self.example_key(names[identity], image)
                yield (
                    key,
                    {
                        **arrays,
                        "identity": identity,
                        "identity_name": names[identity],
                        "image_path": key,
                        "image_index": image,
                        "crop_transform": crop,
                        "has_landmarks": True,
                        "model_fingerprint": self.fingerprint,
                    },
                )
            bar.set_postfix_str("", refresh=False)
            bar.update(len(chunk))
        bar.close()
