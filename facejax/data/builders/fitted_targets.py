"""3DMM targets fitted to an identity-folders dataset: one identity per person, jointly.

The disentangling method (Liu et al., CVPR 2018) trains on 3DMM parameters fitted to several
images of each subject at once. This builder makes those targets from the layout of
:class:`~facejax.data.builders.IdentityFolders` (one folder per person, a landmark file beside
each image): for each person, the images with a landmark file are fitted jointly
(``facejax.fitting.fit_person``, as ``facejax fit`` does: one identity, a pose and expression
per image, in each image's own pixels with the camera of ``facejax.fitting.image_camera``), and
one example is written per image. Examples are keyed, labelled and split exactly like
``IdentityFolders`` (same ``image_path``, labels, ``test_fraction`` / ``seed`` split), so a
training recipe joins them with the image dataset by ``image_path``.

Layout (manual_dir)::

    <person>/<image>.jpg  <image>.pts        (or .npy / .json: the model's landmarks, e.g. 68)

Images without a landmark file, with an unreadable header, or with a landmark file of the wrong
count or with NaN points are skipped and reported (``metadata["skipped"]``); so are persons left
with fewer than ``min_images`` images. Only the image header is read (its size): pixels are not
needed by a landmark fit.

Persons are fitted in batches (``jax.vmap``): ``persons_per_batch`` persons, each padded with
weight-0 images to the next power of two images, so that a few compiled shapes serve any
dataset.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data.builders.identity_folders import identity_layout
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    list_images,
    read_face_landmarks,
    side_files,
)

_INSTRUCTIONS = """\
One folder per person, the person's images inside, a landmark file beside each image to fit
(<stem>.pts / .npy / .json with the model's landmarks, e.g. the 68 iBUG points):

    manual_dir/
      Aaron_Eckhart/
        0001.jpg  0001.pts
        0002.jpg  0002.pts
      ...
"""


@dataclasses.dataclass(eq=False)
class FittedTargetsConfig(tfds.core.BuilderConfig):
    """Options.

    Attributes:
      model: the morphable model to fit (``facejax.load_model`` source: a file or
        ``"synthetic"``).
      model_format: its format when the file does not tell.
      optimizer: ``"lbfgs"`` or ``"adam"``.
      steps: optimizer iterations.
      camera: ``"perspective"`` (known focal) or ``"weak_perspective"``.
      focal: focal length in pixels for every image (``None``: 1015/224 x the longer side).
      identity_prior, expression_prior: prior weights (``facejax.fitting.FitConfig``).
      min_images: persons with fewer usable images are skipped.
      max_images: fit at most this many images per person (the first in natural order).
      persons_per_batch: persons fitted together.
      test_fraction, validation_fraction, seed: the identity split, as IdentityFolders'.
    """

    model: str = "synthetic"
    model_format: str | None = None
    optimizer: str = "lbfgs"
    steps: int = 100
    camera: str = "perspective"
    focal: float | None = None
    identity_prior: float | None = None
    expression_prior: float | None = None
    min_images: int = 1
    max_images: int | None = 64
    persons_per_batch: int = 16
    test_fraction: float = 0.1
    validation_fraction: float = 0.0
    seed: int = 0

    def fit_config(self):
        from facejax.fitting import FitConfig

        options = {"optimizer": self.optimizer, "steps": self.steps, "camera": self.camera}
        for name in ("identity_prior", "expression_prior"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        return FitConfig(**options)


def _padded_count(count: int) -> int:
    return 1 << max(0, (count - 1).bit_length())


def image_size(path) -> tuple[int, int]:
    """``(height, width)`` from the image header; BadExampleError naming the file otherwise."""
    from facejax.formats import ImageFileError, read_image_size

    try:
        return read_image_size(path)
    except (OSError, ImageFileError) as err:
        raise BadExampleError(str(err)) from err


class FittedTargets(ManualFaceBuilder):
    """3DMM parameters fitted jointly to each person's images (identity shared per person)."""

    name = "facejax_fitted_targets"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [
        FittedTargetsConfig(name="default", description="Synthetic model; 10% people held out."),
        FittedTargetsConfig(
            name="all_train", test_fraction=0.0, description="Synthetic model; all in train."
        ),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    @functools.cached_property
    def model(self):
        from facejax.formats import load_model
        from facejax.morphable import to_device

        config = self.builder_config
        return to_device(load_model(config.model, format=config.model_format))

    def _features(self):
        model = self.model
        config = self.builder_config

        def vector(*shape, dtype=np.float32):
            return tfds.features.Tensor(shape=shape, dtype=dtype)

        if config.camera == "perspective":
            camera = {"camera_focal": vector(2), "camera_principal_point": vector(2)}
        else:
            camera = {"camera_scale": vector(), "camera_translation": vector(2)}
        return {
            "identity": vector(dtype=np.int64),
            "identity_name": tfds.features.Text(),
            "image_path": tfds.features.Text(),
            "image_index": vector(dtype=np.int64),
            "num_images": vector(dtype=np.int64),
            "image_size": vector(2, dtype=np.int64),
            "identity_coeffs": vector(model.num_identity),
            "expression_coeffs": vector(model.num_expression),
            "pose": vector(3),
            "translation": vector(3),
            **camera,
            "landmarks": vector(model.num_landmarks, 2),
            "fitted_landmarks": vector(model.num_landmarks, 2),
            "landmark_error": vector(),
            "model_fingerprint": tfds.features.Text(),
        }

    def _split_generators(self, dl_manager):
        from facejax.fitting import ROTATION_CONVENTION
        from facejax.morphable import fingerprint

        config = self.builder_config
        root = self._manual_dir(dl_manager)
        people, labels, splits = identity_layout(self.name, root, config, _INSTRUCTIONS)
        fit = config.fit_config()
        self.info.metadata.update(
            {
                "identity_names": people,
                "num_identities": len(people),
                "split_identities": splits,
                "split": {
                    "test_fraction": config.test_fraction,
                    "validation_fraction": config.validation_fraction,
                    "seed": config.seed,
                },
                "model": config.model,
                "model_name": self.model.name,
                "model_fingerprint": fingerprint(self.model),
                "units": "mm",
                "pose_convention": ROTATION_CONVENTION,
                "fit": dataclasses.asdict(fit),
            }
        )
        return {
            split: self._generate_examples(split, root, names, labels)
            for split, names in splits.items()
        }

    def _person_inputs(self, root, person, skips):
        """The usable images of one person: ``[(path, (h, w), landmarks [L, 2]), ...]``."""
        config = self.builder_config
        folder = os.path.join(root, person)
        names = set(os.listdir(folder))
        items = []
        for image_name in list_images(folder):
            path = os.path.join(folder, image_name)
            landmark_name, _ = side_files(image_name, names)
            if landmark_name is None:
                skips.add(path, "no landmark file")
                continue
            try:
                points = read_face_landmarks(
                    os.path.join(folder, landmark_name), (self.model.num_landmarks,)
                )
                size = image_size(path)
            except BadExampleError as err:
                skips.add(path, err)
                continue
            items.append((f"{person}/{image_name}", size, points))
        if config.max_images is not None:
            items = items[: config.max_images]
        if items and len(items) < config.min_images:
            for key, _, _ in items:
                skips.add(os.path.join(root, key), f"person has < {config.min_images} images")
            items = []
        return items

    def _fit_batch(self, batch, count: int):
        """Fits ``batch`` = ``[(person, items)]`` padded to ``count`` images and the batch size."""
        import jax

        from facejax import fitting

        config = self.builder_config
        num_points = self.model.num_landmarks
        persons = config.persons_per_batch
        landmarks = np.zeros((persons, count, num_points, 2), np.float32)
        weights = np.zeros((persons, count, num_points), np.float32)
        sizes = np.ones((persons, count, 2), np.float32)
        for p, (_, items) in enumerate(batch):
            for n, (_, size, points) in enumerate(items):
                landmarks[p, n], weights[p, n], sizes[p, n] = points, 1.0, size
        result = fitting.fit_person(
            self.model,
            landmarks,
            sizes,
            weights=weights,
            focal=config.focal,
            config=config.fit_config(),
        )
        return jax.tree_util.tree_map(np.asarray, result)

    def _generate_examples(self, split, root, people, labels):
        from facejax.morphable import fingerprint

        config = self.builder_config
        skips = SkipLog(self.name, split)
        model_fingerprint = fingerprint(self.model)
        buckets: dict[int, list] = {}
        for person in people:
            items = self._person_inputs(root, person, skips)
            if items:
                buckets.setdefault(_padded_count(len(items)), []).append((person, items))
        for count in sorted(buckets):
            persons = buckets[count]
            for start in range(0, len(persons), config.persons_per_batch):
                batch = persons[start : start + config.persons_per_batch]
                result = self._fit_batch(batch, count)
                for p, (person, items) in enumerate(batch):
                    for n, (key, size, points) in enumerate(items):
                        yield (
                            key,
                            self._example(
                                result,
                                p,
                                n,
                                person,
                                labels[person],
                                key,
                                size,
                                points,
                                len(items),
                                model_fingerprint,
                            ),
                        )
        skips.finish(self.info.metadata)

    def _example(self, result, p, n, person, label, key, size, points, count, model_fingerprint):
        params = result.params
        example = {
            "identity": label,
            "identity_name": person,
            "image_path": key,
            "image_index": n,
            "num_images": count,
            "image_size": np.asarray(size, np.int64),
            "identity_coeffs": params.identity[p, n],
            "expression_coeffs": params.expression[p, n],
            "pose": params.rotation[p, n],
            "translation": params.translation[p, n],
            "landmarks": np.asarray(points, np.float32),
            "fitted_landmarks": result.landmarks_2d[p, n],
            "landmark_error": np.float32(result.landmark_error[p, n]),
            "model_fingerprint": model_fingerprint,
        }
        if self.builder_config.camera == "perspective":
            example["camera_focal"] = params.camera.focal[p, n]
            example["camera_principal_point"] = params.camera.principal_point[p, n]
        else:
            example["camera_scale"] = np.float32(params.camera.scale[p, n])
            example["camera_translation"] = params.camera.translation[p, n]
        return example
