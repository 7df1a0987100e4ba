"""Labeled Faces in the Wild (Huang et al., 2007), read from a local copy: images with identity
labels, and the 10-fold verification pairs of ``pairs.txt``.

Sources for the layout: the LFW page (http://vis-www.cs.umass.edu/lfw/: ``lfw/<Name>/<Name>_
<nnnn>.jpg``, 250x250; ``pairs.txt`` whose first line is ``10 300``, then per fold 300 matched
lines ``name n1 n2`` and 300 mismatched lines ``name1 n1 name2 n2``, tab-separated) and
tensorflow-datasets' ``lfw`` builder. The deep-funneled (``lfw-deepfunneled``) and funneled
(``lfw_funneled``) releases have the same layout: pick the folder with ``images_folder``.

**Crops.** A landmark or box file beside an image (``facejax.data.manual_files.side_files``)
places its crop. Otherwise the crop is the square of side ``central_fraction * 250`` (default
1/2.2) centred in the image, enlarged by ``box_enlarge``: LFW images were made by expanding the
Viola-Jones detection box by about 2.2 in each dimension around the face and resizing to 250x250
(LFW technical report), so the face sits in that central region (funneled or not).

Configs: ``images`` (split ``test``: every image, ``identity`` = index of the person's folder in
sorted order) and ``pairs`` (split ``test``: one example per line of ``pairs.txt``, ``fold``
0-9). LFW is an evaluation set: use it for testing, not training.
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data import features
from facejax.data.builders.face_crops import FaceCropConfig, crop_with_side_files
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    check_layout,
    list_folders,
    list_images,
    read_rgb_image,
)

_INSTRUCTIONS = """\
Download LFW (lfw.tgz, or lfw-deepfunneled.tgz) and pairs.txt from
http://vis-www.cs.umass.edu/lfw/ and put them in manual_dir:

    manual_dir/
      lfw/                         (or lfw-deepfunneled/, lfw_funneled/: config images_folder)
        Aaron_Eckhart/
          Aaron_Eckhart_0001.jpg
        Abel_Pacheco/
          Abel_Pacheco_0001.jpg  ...  Abel_Pacheco_0004.jpg
        ...
      pairs.txt                    (only for the `pairs` config)

Optional, beside an image: landmarks <stem>.pts / .npy / .json (68 or 5 points) or a box
<stem>.box.txt / .box.json (x_min y_min x_max y_max) to place its crop.
"""
MODES = ("images", "pairs")


def image_name(person: str, number: int) -> str:
    """``Aaron_Eckhart``, 1 -> ``Aaron_Eckhart_0001.jpg``."""
    return f"{person}_{number:04d}.jpg"


def read_pairs(path) -> list[tuple[int, str, int, str, int, bool]]:
    """Reads LFW's ``pairs.txt``.

    Returns:
      ``(fold, person_a, number_a, person_b, number_b, same)`` per pair, folds counted from 0.

    Raises:
      ValueError: naming the file and line for a malformed header or pair line, or a count that
      disagrees with the header.
    """
    path = os.fspath(path)
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    try:
        folds, per_fold = (int(v) for v in lines[0])
    except (IndexError, ValueError) as err:
        raise ValueError(f"{path}, line 1: header must be '<folds> <pairs per fold>'") from err
    pairs = []
    for index, fields in enumerate(lines[1:]):
        fold, same = index // (2 * per_fold), index % (2 * per_fold) < per_fold
        try:
            if same and len(fields) == 3:
                pairs.append((fold, fields[0], int(fields[1]), fields[0], int(fields[2]), True))
            elif not same and len(fields) == 4:
                pairs.append((fold, fields[0], int(fields[1]), fields[2], int(fields[3]), False))
            else:
                raise ValueError(f"{len(fields)} fields")
        except ValueError as err:
            kind = "name n1 n2" if same else "name1 n1 name2 n2"
            raise ValueError(f"{path}, line {index + 2}: expected '{kind}' ({err})") from err
    if len(pairs) != folds * 2 * per_fold:
        raise ValueError(
            f"{path}: header announces {folds} x 2 x {per_fold} pairs, found {len(pairs)}"
        )
    return pairs


@dataclasses.dataclass(eq=False)
class LFWConfig(FaceCropConfig):
    """LFW options (crop options: :class:`FaceCropConfig`).

    Attributes:
      mode: ``"images"`` or ``"pairs"``.
      images_folder: the image folder inside manual_dir.
      central_fraction: side of the central face region / image side (without side files).
    """

    mode: str = "images"
    images_folder: str = "lfw"
    central_fraction: float = 1.0 / 2.2

    def __post_init__(self):
        super().__post_init__()
        if self.mode not in MODES:
            raise ValueError(f"{self.name}: mode must be one of {MODES}, got {self.mode!r}")


class LFW(ManualFaceBuilder):
    """LFW face crops with identity labels (``images``) or the 10-fold verification pairs."""

    name = "facejax_lfw"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [
        LFWConfig(name="images", description="Every image, 112x112, with identity labels."),
        LFWConfig(name="pairs", mode="pairs", description="pairs.txt: 6000 pairs, 10 folds."),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    HOMEPAGE = "http://vis-www.cs.umass.edu/lfw/"

    def _features(self):
        config = self.builder_config
        if config.mode == "pairs":
            return features.image_pair_features(config.crop_size)
        return features.face_image_features(config.crop_size)

    def _split_generators(self, dl_manager):
        config = self.builder_config
        root = self._manual_dir(dl_manager)
        files = ["pairs.txt"] if config.mode == "pairs" else []
        check_layout(
            self.name, root, folders=[config.images_folder], files=files, instructions=_INSTRUCTIONS
        )
        images = os.path.join(root, config.images_folder)
        people = list_folders(images)
        # Pairs revisit people: list each folder once (side files are looked up in the listing).
        listing = functools.lru_cache(maxsize=256)(lambda folder: frozenset(os.listdir(folder)))
        labels = {person: i for i, person in enumerate(people)}
        self.info.metadata.update(
            {
                "identity_names": people,
                "num_identities": len(people),
                "crop": {**config.crop_metadata(), "central_fraction": config.central_fraction},
            }
        )
        if config.mode == "images":
            items = [(p, name) for p in people for name in list_images(os.path.join(images, p))]
            return {"test": self._generate_images(images, items, labels, listing)}
        pairs = read_pairs(os.path.join(root, "pairs.txt"))
        missing = sorted(
            {
                os.path.join(images, person, image_name(person, number))
                for _, pa, na, pb, nb, _ in pairs
                for person, number in ((pa, na), (pb, nb))
                if not os.path.isfile(os.path.join(images, person, image_name(person, number)))
            }
        )
        check_layout(self.name, root, instructions=_INSTRUCTIONS, extra_missing=missing)
        return {"test": self._generate_pairs(images, pairs, labels, listing)}

    def _crop(self, images, person, name, listing):
        folder = os.path.join(images, person)
        image = read_rgb_image(os.path.join(folder, name))
        config = self.builder_config
        fallback = crops.central_box(image.width, image.height, config.central_fraction)
        return crop_with_side_files(
            image, config, folder, name, listing(folder), fallback_box=fallback
        )

    def _generate_images(self, images, items, labels, listing):
        skips = SkipLog(self.name, "test")
        for person, name in items:
            try:
                example = self._crop(images, person, name, listing)
            except BadExampleError as err:
                skips.add(os.path.join(images, person, name), err)
                continue
            path = f"{person}/{name}"
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

    def _generate_pairs(self, images, pairs, labels, listing):
        skips = SkipLog(self.name, "test")
        for index, (fold, person_a, number_a, person_b, number_b, same) in enumerate(pairs):
            example = {"same": np.bool_(same), "fold": fold}
            try:
                for side, person, number in (("a", person_a, number_a), ("b", person_b, number_b)):
                    name = image_name(person, number)
                    example[f"image_{side}"] = self._crop(images, person, name, listing)["image"]
                    example[f"identity_{side}"] = labels.get(person, -1)
                    example[f"identity_name_{side}"] = person
                    example[f"image_path_{side}"] = f"{person}/{name}"
            except BadExampleError as err:
                skips.add(f"pairs.txt pair {index}", err)
                continue
            yield f"{index:05d}", example
        skips.finish(self.info.metadata)
