"""Training examples for the disentangling method from identity folders: face crops with 3DMM
targets fitted jointly to each person's photos.

The disentangling method (Liu et al., CVPR 2018) trains on photos of many people, each photo's
targets the 3DMM parameters fitted to all of that person's photos at once. This builder makes
those examples from the layout of :class:`~facejax.data.builders.IdentityFolders` (one folder per
person, a landmark file beside each photo): for each person, the photos are fitted jointly
(``facejax.fitting.fit_person``, as ``facejax fit`` does: one identity, a pose and expression
per photo, in each photo's own pixels with the camera of ``facejax.fitting.image_camera``), and
one example is written per photo: the face crop (placed by its landmarks, as
``IdentityFolders`` crops), the fitted coefficients, the landmarks moved into the crop and which
of them the fitted face shows (``facejax.fitting.fitted_landmark_visibility``). Examples are
keyed, labelled and split like ``IdentityFolders`` (``image_path``, labels, ``test_fraction`` /
``seed``); the test split carries verification pairs and a gallery / probe split
(``facejax.data.protocols``), so the disentangle recipe trains and evaluates on it as on the
synthetic faces.

Layout (manual_dir)::

    <person>/<image>.jpg  <image>.pts        (or .npy / .json: the model's landmarks, e.g. 68)

Skipped and reported (``metadata["skipped"]``), never kept: a photo without a landmark file, an
unreadable or corrupt photo, a landmark file of the wrong count or with missing or NaN points, a
failed fit (non-finite, or a mean landmark error above ``max_landmark_error`` face sizes; the
person is then fitted again without it), and persons left with fewer than ``min_images``.

Persons are fitted in batches (``jax.vmap``): ``persons_per_batch`` persons with the same
number of photos once padded with weight-0 photos to a power of two, so that a few compiled
shapes serve any dataset. A batch is fitted as soon as it is full, so only its crops are held.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
from typing import Any, NamedTuple

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data import features, protocols
from facejax.data.builders.face_crops import FaceCropConfig, crop_transform_for
from facejax.data.builders.identity_folders import identity_layout
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.builders.model_configs import config_for_model
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    list_images,
    read_face_landmarks,
    read_rgb_image,
    side_files,
)

_log = logging.getLogger(__name__)

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
class FittedTargetsConfig(FaceCropConfig):
    """Options (crop options: :class:`~facejax.data.builders.face_crops.FaceCropConfig`; the
    default template crop with ``margin=1.25`` is the crop of ``facejax reconstruct
    --detect``).

    Attributes:
      model: the morphable model to fit (``facejax.load_model`` source: a file or
        ``"synthetic"``); a recipe sets it to the model it trains with (:meth:`FittedTargets.
        config_for`).
      model_format: its format when the file does not tell.
      optimizer: ``"lbfgs"`` or ``"adam"``.
      steps: optimizer iterations.
      camera: ``"perspective"`` (known focal) or ``"weak_perspective"``.
      focal: focal length in pixels for every image (``None``: 1015/224 x the longer side).
      identity_prior, expression_prior: prior weights (``facejax.fitting.FitConfig``).
      min_images: persons with fewer usable images are skipped.
      max_images: fit at most this many images per person (the first in natural order).
      persons_per_batch: persons fitted together.
      max_landmark_error: a fit whose mean landmark error exceeds this many face sizes (the
        RMS distance of the photo's landmarks from their centroid) has failed.
      visibility_size: canvas side of the landmark visibility test, pixels.
      test_fraction, validation_fraction, seed: the identity split, as IdentityFolders'.
      num_folds, pairs_per_fold, gallery_per_identity: the test split's recognition protocols
        (``facejax.data.protocols``); a test split too small for them gets fewer folds (at
        most one per two people) and fewer pairs (halved until they exist), as recorded.
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
    max_landmark_error: float = 0.15
    visibility_size: int = 96
    test_fraction: float = 0.1
    validation_fraction: float = 0.0
    seed: int = 0
    num_folds: int = 10
    pairs_per_fold: int = 300
    gallery_per_identity: int = 1

    def fit_config(self):
        from facejax.fitting import FitConfig

        options = {"optimizer": self.optimizer, "steps": self.steps, "camera": self.camera}
        for name in ("identity_prior", "expression_prior"):
            if getattr(self, name) is not None:
                options[name] = getattr(self, name)
        return FitConfig(**options)


class _Photo(NamedTuple):
    """One usable photo: its key, ``(height, width)``, landmarks ``[L, 2]`` (photo pixels), the
    face crop ``[S, S, 3]`` and the crop transform ``[2, 3]``."""

    key: str
    size: tuple[int, int]
    points: np.ndarray
    crop: np.ndarray
    transform: np.ndarray


def _padded_count(count: int) -> int:
    return 1 << max(0, (count - 1).bit_length())


class FittedTargets(ManualFaceBuilder):
    """Face crops of identity folders with 3DMM targets fitted jointly per person."""

    name = "facejax_fitted_targets"
    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "First facejax release.",
        "2.0.0": "Face crops, landmarks in the crop with their visibility, failed fits skipped, "
        "recognition protocols of the test split.",
    }
    BUILDER_CONFIGS = [
        FittedTargetsConfig(name="default", description="Synthetic model; 10% people held out."),
        FittedTargetsConfig(
            name="all_train", test_fraction=0.0, description="Synthetic model; all in train."
        ),
        FittedTargetsConfig(
            name="half_test",
            test_fraction=0.5,
            description="Synthetic model; half the people held out (a handful of people).",
        ),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    @classmethod
    def config_for(cls, base: str, *, model: str | None = None, image_size: int | None = None):
        """The config ``base`` fitting ``model`` and cropping to ``image_size`` (what a recipe
        trains with), named ``<base>_<S>px_model<8 hex digits of the model's fingerprint>``
        when they differ from ``base``'s, so that tfds keeps each apart.

        Raises:
          ValueError: for an unknown ``base``.
        """
        return config_for_model(
            cls.name, cls.BUILDER_CONFIGS, base, model=model, image_size=image_size
        )

    @functools.cached_property
    def model(self):
        from facejax.formats import load_model
        from facejax.morphable import to_device

        config = self.builder_config
        return to_device(load_model(config.model, format=config.model_format))

    @functools.cached_property
    def model_fingerprint(self) -> str:
        from facejax.morphable import fingerprint

        return fingerprint(self.model)

    def _features(self):
        model = self.model
        config = self.builder_config
        num_points = model.num_landmarks

        def vector(*shape, dtype=np.float32):
            return tfds.features.Tensor(shape=shape, dtype=dtype)

        if config.camera == "perspective":
            camera = {"camera_focal": vector(2), "camera_principal_point": vector(2)}
        else:
            camera = {"camera_scale": vector(), "camera_translation": vector(2)}
        return {
            **features.face_image_features(config.crop_size),
            "landmarks": vector(num_points, 2),
            "landmark_visibility": vector(num_points, dtype=np.bool_),
            "image_index": vector(dtype=np.int64),
            "num_images": vector(dtype=np.int64),
            "image_size": vector(2, dtype=np.int64),
            "identity_coeffs": vector(model.num_identity),
            "expression_coeffs": vector(model.num_expression),
            "pose": vector(3),
            "translation": vector(3),
            **camera,
            "source_landmarks": vector(num_points, 2),
            "fitted_landmarks": vector(num_points, 2),
            "landmark_error": vector(),
            "model_fingerprint": tfds.features.Text(),
        }

    def _split_generators(self, dl_manager):
        from facejax.fitting import ROTATION_CONVENTION

        config = self.builder_config
        root = self._manual_dir(dl_manager)
        people, labels, splits = identity_layout(self.name, root, config, _INSTRUCTIONS)
        if "test" in splits and len(splits["test"]) < protocols.MIN_PROTOCOL_PEOPLE:
            raise ValueError(
                f"{self.name}/{config.name}: the test split holds {len(splits['test'])} of "
                f"{len(people)} people; verification needs at least "
                f"{protocols.MIN_PROTOCOL_PEOPLE} (two folds of two people: a config with a "
                "larger test_fraction, or all_train)"
            )
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
                "crop": config.crop_metadata(),
                "model": config.model,
                "model_name": self.model.name,
                "model_fingerprint": self.model_fingerprint,
                "units": "mm",
                "pose_convention": ROTATION_CONVENTION,
                "fit": dataclasses.asdict(fit),
                "max_landmark_error": config.max_landmark_error,
                "landmark_visibility": "not hidden by the fitted face itself, inside the photo",
            }
        )
        # The test split first: its protocols are the last thing a build can fail on.
        order = sorted(splits, key=lambda split: split != "test")
        return {
            split: self._generate_examples(split, root, splits[split], labels) for split in order
        }

    def _person_photos(self, root, person, skips) -> list[_Photo]:
        """The usable photos of one person, cropped around their landmarks."""
        config = self.builder_config
        folder = os.path.join(root, person)
        names = set(os.listdir(folder))
        photos = []
        for image_name in list_images(folder):
            if config.max_images is not None and len(photos) >= config.max_images:
                break
            path = os.path.join(folder, image_name)
            landmark_name, _ = side_files(image_name, names)
            if landmark_name is None:
                skips.add(path, "no landmark file")
                continue
            try:
                points = read_face_landmarks(
                    os.path.join(folder, landmark_name), (self.model.num_landmarks,)
                )
                image = read_rgb_image(path)
                transform = crop_transform_for(config, landmarks=points)
            except BadExampleError as err:
                skips.add(path, err)
                continue
            photos.append(
                _Photo(
                    key=f"{person}/{image_name}",
                    size=(image.height, image.width),
                    points=np.asarray(points, np.float32),
                    crop=crops.warp_image(image, transform, config.crop_size),
                    transform=transform,
                )
            )
        if photos and len(photos) < config.min_images:
            for photo in photos:
                skips.add(os.path.join(root, photo.key), f"person has < {config.min_images} images")
            photos = []
        return photos

    def _fit_batch(self, batch, count: int):
        """Fits ``batch`` = ``[(person, photos)]`` padded to ``count`` photos and the batch size.

        Returns:
          Per person, ``(person, photos, fits, failures)``: a dict of numpy arrays per photo and
          ``[(photo, reason)]`` for the photos whose fit failed.
        """
        import jax

        from facejax import fitting
        from facejax.data.fixed_batches import map_fixed_batches

        config = self.builder_config
        num_points = self.model.num_landmarks
        persons = config.persons_per_batch
        landmarks = np.zeros((persons, count, num_points, 2), np.float32)
        weights = np.zeros((persons, count, num_points), np.float32)
        sizes = np.ones((persons, count, 2), np.float32)
        for p, (_, photos) in enumerate(batch):
            for n, photo in enumerate(photos):
                landmarks[p, n], weights[p, n], sizes[p, n] = photo.points, 1.0, photo.size
        result = fitting.fit_person(
            self.model,
            landmarks,
            sizes,
            weights=weights,
            focal=config.focal,
            config=config.fit_config(),
        )
        result = jax.tree_util.tree_map(np.asarray, result)
        face_sizes = np.asarray(jax.vmap(jax.vmap(fitting.face_size))(landmarks, weights))
        # One compiled visibility test for every batch: fixed chunks of the real photos.
        where = [(p, n) for p, (_, photos) in enumerate(batch) for n in range(len(photos))]
        rows, cols = (np.asarray(c) for c in zip(*where, strict=True))

        def visibility(index):
            params = jax.tree_util.tree_map(lambda x: x[rows[index], cols[index]], result.params)
            return fitting.fitted_landmark_visibility(
                self.model, params, sizes[rows[index], cols[index]], size=config.visibility_size
            )

        visible = map_fixed_batches(visibility, np.arange(len(where)), 16)
        out, i = [], 0
        for p, (person, photos) in enumerate(batch):
            fits, failures = [], []
            for n, photo in enumerate(photos):
                fit = self._photo_fit(result, p, n)
                fit["landmark_visibility"] = visible[i]
                i += 1
                reason = self._failure(fit, face_sizes[p, n])
                if reason:
                    failures.append((photo, reason))
                fits.append(fit)
            out.append((person, photos, fits, failures))
        return out

    def _photo_fit(self, result, p: int, n: int) -> dict[str, Any]:
        params = result.params
        fit = {
            "identity_coeffs": params.identity[p, n],
            "expression_coeffs": params.expression[p, n],
            "pose": params.rotation[p, n],
            "translation": params.translation[p, n],
            "fitted_landmarks": result.landmarks_2d[p, n],
            "landmark_error": np.float32(result.landmark_error[p, n]),
        }
        if self.builder_config.camera == "perspective":
            fit["camera_focal"] = params.camera.focal[p, n]
            fit["camera_principal_point"] = params.camera.principal_point[p, n]
        else:
            fit["camera_scale"] = np.float32(params.camera.scale[p, n])
            fit["camera_translation"] = params.camera.translation[p, n]
        return fit

    def _failure(self, fit: dict, face_size: float) -> str | None:
        """Why a photo's fit failed, or ``None``."""
        if not all(np.all(np.isfinite(value)) for value in fit.values()):
            return "fit failed: non-finite parameters or landmarks"
        limit = self.builder_config.max_landmark_error
        error = float(fit["landmark_error"])
        if error > limit * face_size:
            return (
                f"fit failed: mean landmark error {error:.1f} px is {error / face_size:.2f} face "
                f"sizes (> max_landmark_error {limit})"
            )
        return None

    def _fitted_persons(self, persons, root, skips):
        """Yields ``(person, photos, fits)`` of each person whose fit succeeded.

        ``persons`` yields ``(person, photos)``; they are fitted in batches as buckets fill. A
        person with failed photos is skipped for those and fitted again without them.
        """
        config = self.builder_config
        buckets: dict[int, list] = {}

        def add(person, photos):
            if len(photos) >= max(1, config.min_images):
                buckets.setdefault(_padded_count(len(photos)), []).append((person, photos))
            else:
                for photo in photos:
                    skips.add(
                        os.path.join(root, photo.key),
                        f"person has < {config.min_images} images after failed fits",
                    )

        def fit_ready(flush: bool):
            while True:
                ready = [
                    c for c, b in buckets.items()
                    if len(b) >= config.persons_per_batch or (flush and b)
                ]  # fmt: skip
                if not ready:
                    return
                count = min(ready)
                batch = buckets[count][: config.persons_per_batch]
                buckets[count] = buckets[count][config.persons_per_batch :]
                for person, photos, fits, failures in self._fit_batch(batch, count):
                    if not failures:
                        yield person, photos, fits
                        continue
                    failed = set()
                    for photo, reason in failures:
                        skips.add(os.path.join(root, photo.key), reason)
                        failed.add(photo.key)
                    add(person, [photo for photo in photos if photo.key not in failed])

        for person, photos in persons:
            add(person, photos)
            yield from fit_ready(flush=False)
        yield from fit_ready(flush=True)

    def _generate_examples(self, split, root, people, labels):
        skips = SkipLog(self.name, split)
        persons = ((person, self._person_photos(root, person, skips)) for person in people)
        persons = ((person, photos) for person, photos in persons if photos)
        keys, key_labels = [], []
        for person, photos, fits in self._fitted_persons(persons, root, skips):
            for n, (photo, fit) in enumerate(zip(photos, fits, strict=True)):
                keys.append(photo.key)
                key_labels.append(labels[person])
                yield photo.key, self._example(person, labels[person], n, photo, fit, len(photos))
        skips.finish(self.info.metadata)
        if split == "test":
            self._add_protocols(np.asarray(key_labels, np.int64), keys)

    def _add_protocols(self, labels, keys) -> None:
        """Stores the test split's recognition protocols, warning when it is too small for the
        configured folds and pairs."""
        config = self.builder_config
        records = protocols.reduced_protocol_metadata(
            labels,
            keys,
            num_folds=config.num_folds,
            pairs_per_fold=config.pairs_per_fold,
            gallery_per_identity=config.gallery_per_identity,
            seed=config.seed,
        )
        pairs = records["verification_pairs"]
        if (pairs["num_folds"], pairs["pairs_per_fold"]) != (
            config.num_folds,
            config.pairs_per_fold,
        ):
            _log.warning(
                "%s/%s: %d test people give %d fold(s) of %d matched and %d mismatched pairs "
                "(configured: %d of %d)",
                self.name, config.name, len(np.unique(labels)), pairs["num_folds"],
                pairs["pairs_per_fold"], pairs["pairs_per_fold"], config.num_folds,
                config.pairs_per_fold,
            )  # fmt: skip
        self.info.metadata.update(records)

    def _example(self, person, label, n, photo: _Photo, fit: dict, count: int) -> dict:
        return {
            **fit,
            "image": photo.crop,
            "identity": label,
            "identity_name": person,
            "image_path": photo.key,
            "crop_transform": photo.transform.astype(np.float32),
            "landmarks": crops.apply_transform(photo.transform, photo.points).astype(np.float32),
            "has_landmarks": True,
            "image_index": n,
            "num_images": count,
            "image_size": np.asarray(photo.size, np.int64),
            "source_landmarks": photo.points,
            "fitted_landmarks": crops.apply_transform(
                photo.transform, fit["fitted_landmarks"]
            ).astype(np.float32),
            "model_fingerprint": self.model_fingerprint,
        }
