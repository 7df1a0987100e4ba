"""A generic builder for face images laid out as one folder per person, with an optional landmark
or box file beside each image: CASIA-WebFace, VGGFace2, VoxCeleb frames, or a user's own data.

Layout (manual_dir)::

    <person>/                  one folder per identity (its name is ``identity_name``)
      <image>.jpg              .jpg .jpeg .png .bmp
      <image>.pts              optional landmarks: .pts (1-based iBUG), .npy or .json
                               (facejax pixels), 68 iBUG points or 5 points (eye centres,
                               nose tip, mouth corners), read by facejax.formats.read_landmarks
      <image>.box.txt          optional box: "x_min y_min x_max y_max" (facejax pixels), or
      <image>.box.json         [x0, y0, x1, y1] / {"box": [...]}

CASIA-WebFace (``CASIA-WebFace/<0000045>/<001>.jpg``) and VGGFace2 (``train/<n000002>/<0001_01>
.jpg``) already have this shape: point manual_dir at the folder of person folders. VGGFace2's
boxes and 5 points come as CSV files (``bb_landmark/loose_bb_train.csv``,
``loose_landmark_train.csv``); write them beside the images as ``.box.txt`` / ``.npy`` files
to use them.

Crops: landmarks, else the box, else the central square of side ``central_fraction * min(W, H)``
(``require_side_files=True`` skips such images instead). Labels: the index of the person's
folder among all folders in sorted order, the same in every split. Splits are by identity
(``facejax.data.builders.identity_split``): the test (and validation) people never appear in
``train``; which people go where depends only on the folder names and ``seed``.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data import features
from facejax.data.builders.face_crops import FaceCropConfig, crop_with_side_files
from facejax.data.builders.identity_split import split_identities
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.manual_files import (
    BadExampleError,
    MissingFilesError,
    SkipLog,
    list_folders,
    list_images,
    read_rgb_image,
)

_INSTRUCTIONS = """\
Put one folder per person in manual_dir, the person's images inside, and optionally a landmark
file (<stem>.pts / .npy / .json: 68 or 5 points) or a box file (<stem>.box.txt / .box.json:
x_min y_min x_max y_max) beside each image:

    manual_dir/
      Aaron_Eckhart/
        0001.jpg  0001.pts
        0002.jpg  0002.box.txt
      Abel_Pacheco/
        0001.jpg
      ...
"""


@dataclasses.dataclass(eq=False)
class IdentityFoldersConfig(FaceCropConfig):
    """Options (crop options: :class:`FaceCropConfig`).

    Attributes:
      test_fraction: share of identities held out as the ``test`` split (0: none).
      validation_fraction: share held out as ``validation`` (0: none).
      seed: seed of the identity split.
      central_fraction: side of the fallback central square / the image's shorter side.
      require_side_files: skip (and report) images with neither landmark nor box file.
    """

    test_fraction: float = 0.1
    validation_fraction: float = 0.0
    seed: int = 0
    central_fraction: float = 1.0
    require_side_files: bool = False

    def split_metadata(self) -> dict:
        return {
            "test_fraction": self.test_fraction,
            "validation_fraction": self.validation_fraction,
            "seed": self.seed,
        }


def identity_layout(dataset: str, root, config: IdentityFoldersConfig, instructions: str):
    """Person folders of ``root``, their labels and their split, or a clear error.

    Returns:
      ``(people, labels, splits)``: sorted names, ``{name: label}``, ``{split: names}``.

    Raises:
      MissingFilesError: no person folder.
      ValueError: too few people for the requested held-out fractions.
    """
    people = list_folders(root)
    if not people:
        raise MissingFilesError(
            dataset, root, [os.path.join(root, "<person>") + os.sep], instructions
        )
    try:
        splits = split_identities(
            people,
            test_fraction=config.test_fraction,
            validation_fraction=config.validation_fraction,
            seed=config.seed,
        )
    except ValueError as err:
        raise ValueError(f"{dataset}: {err} (set test_fraction/validation_fraction)") from err
    return people, {name: i for i, name in enumerate(people)}, splits


def identity_split_generators(builder, dl_manager, instructions: str, crop: dict) -> dict:
    """The ``_split_generators`` of a builder that reads one folder per person.

    Args:
      builder: a :class:`ManualFaceBuilder` with an :class:`IdentityFoldersConfig` and a
        ``_generate_examples(split, root, people, labels)`` method.
      dl_manager: tfds' download manager (for the manual_dir).
      instructions: the builder's manual download instructions, for a missing layout.
      crop: the crop options recorded as ``info.metadata["crop"]``.

    Returns:
      ``{split: examples}``, after recording the people, their split and ``crop`` in
      ``builder.info.metadata``.
    """
    config = builder.builder_config
    root = builder._manual_dir(dl_manager)
    people, labels, splits = identity_layout(builder.name, root, config, instructions)
    builder.info.metadata.update(
        {
            "identity_names": people,
            "num_identities": len(people),
            "split_identities": splits,
            "split": config.split_metadata(),
            "crop": crop,
        }
    )
    return {
        split: builder._generate_examples(split, root, names, labels)
        for split, names in splits.items()
    }


class IdentityFolders(ManualFaceBuilder):
    """Face images in one folder per person, split by identity."""

    name = "facejax_identity_folders"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [
        IdentityFoldersConfig(name="default", description="112x112; 10% of people held out."),
        IdentityFoldersConfig(
            name="all_train", test_fraction=0.0, description="112x112; every person in train."
        ),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    def _features(self):
        return features.face_image_features(self.builder_config.crop_size)

    def _split_generators(self, dl_manager):
        config = self.builder_config
        crop = {**config.crop_metadata(), "central_fraction": config.central_fraction}
        return identity_split_generators(self, dl_manager, _INSTRUCTIONS, crop)

    def _generate_examples(self, split, root, people, labels):
        config = self.builder_config
        skips = SkipLog(self.name, split)
        for person in people:
            folder = os.path.join(root, person)
            names = set(os.listdir(folder))
            for image_name in list_images(folder):
                try:
                    image = read_rgb_image(os.path.join(folder, image_name))
                    fallback = (
                        None
                        if config.require_side_files
                        else crops.central_box(image.width, image.height, config.central_fraction)
                    )
                    example = crop_with_side_files(
                        image,
                        config,
                        folder,
                        image_name,
                        names,
                        fallback_box=fallback,
                        fallback_enlarge=1.0,
                    )
                except BadExampleError as err:
                    skips.add(os.path.join(folder, image_name), err)
                    continue
                path = f"{person}/{image_name}"
                yield (
                    path,
                    {
                        **example,
                        "identity": labels[person],
                        "identity_name": person,
                        "image_path": path,
                    },
                )
        skips.finish(self.info.metadata)
