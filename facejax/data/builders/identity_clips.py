"""The clip variant of the identity-folders builder: person / clip / frames, for video datasets
such as VoxCeleb frames (``<id10001>/<1zcIwhmdeo4>/<00001>/frame_0001.jpg`` flattened to person /
clip / frames) or a user's own face videos.

Layout (manual_dir)::

    <person>/
      <clip>/
        0001.jpg  0002.jpg ... 0010.jpg     frames, sorted naturally (2 before 10)
        0001.pts | 0001.box.txt ...          optional landmark or box file per frame

Each example is one clip: at most ``max_frames`` evenly spaced frames, each cropped from its own
landmarks or box (else the central square, as in ``identity_folders``). Splits are by identity
and labels are the sorted folder order, exactly as in ``facejax.data.builders.identity_folders``.
A clip with no readable frame is skipped and reported; an unreadable frame is dropped from its
clip and reported.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data import features
from facejax.data.builders.face_crops import crop_with_side_files, select_frames, stack_frames
from facejax.data.builders.identity_folders import (
    IdentityFoldersConfig,
    identity_split_generators,
)
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.builders.model_configs import config_for_model
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    list_folders,
    list_images,
    read_rgb_image,
)

_INSTRUCTIONS = """\
Put one folder per person in manual_dir, one folder per clip inside it, and the clip's frames
(optionally with landmark or box files, as for identity folders) in the clip folder:

    manual_dir/
      id10001/
        1zcIwhmdeo4_00001/  0001.jpg 0002.jpg ...
        7w0IBEWc9Qw_00004/  0001.jpg 0001.box.txt ...
      id10002/ ...
"""


@dataclasses.dataclass(eq=False)
class IdentityClipsConfig(IdentityFoldersConfig):
    """Options of :class:`IdentityFoldersConfig`, plus ``max_frames`` per clip (``None``: all)."""

    max_frames: int | None = 32


class IdentityClips(ManualFaceBuilder):
    """Face clips in person / clip / frame folders, split by identity."""

    name = "facejax_identity_clips"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [
        IdentityClipsConfig(name="default", description="<= 32 frames per clip, 112x112."),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS

    @classmethod
    def config_for(cls, base: str, *, model: str | None = None, image_size: int | None = None):
        """The config ``base`` cropping to ``image_size`` (the recipe's image side), named
        ``<base>_<S>px`` when it differs from ``base``'s. ``model`` is ignored: clips hold
        images and landmarks only, no model's coefficients.

        Raises:
          ValueError: for an unknown ``base``.
        """
        del model
        return config_for_model(cls.name, cls.BUILDER_CONFIGS, base, image_size=image_size)

    def _features(self):
        return features.face_clip_features(self.builder_config.crop_size)

    def _split_generators(self, dl_manager):
        config = self.builder_config
        crop = {
            **config.crop_metadata(),
            "central_fraction": config.central_fraction,
            "max_frames": config.max_frames,
        }
        return identity_split_generators(self, dl_manager, _INSTRUCTIONS, crop)

    def _frame(self, folder, frame, names):
        config = self.builder_config
        image = read_rgb_image(os.path.join(folder, frame))
        fallback = (
            None
            if config.require_side_files
            else crops.central_box(image.width, image.height, config.central_fraction)
        )
        return crop_with_side_files(
            image, config, folder, frame, names, fallback_box=fallback, fallback_enlarge=1.0
        )

    def _generate_examples(self, split, root, people, labels):
        config = self.builder_config
        skips = SkipLog(self.name, split)
        for person in people:
            for clip in list_folders(os.path.join(root, person)):
                folder = os.path.join(root, person, clip)
                frames, names = list_images(folder), set(os.listdir(folder))
                kept, paths, indices = [], [], []
                for index in select_frames(len(frames), config.max_frames):
                    try:
                        kept.append(self._frame(folder, frames[index], names))
                    except BadExampleError as err:
                        skips.add(os.path.join(folder, frames[index]), err)
                        continue
                    paths.append(f"{person}/{clip}/{frames[index]}")
                    indices.append(index)
                if not kept:
                    skips.add(folder, "no readable frame")
                    continue
                yield (
                    f"{person}/{clip}",
                    {
                        **stack_frames(kept),
                        "identity": labels[person],
                        "identity_name": person,
                        "clip_name": f"{person}/{clip}",
                        "frame_paths": paths,
                        "frame_indices": np.asarray(indices, dtype=np.int64),
                    },
                )
        skips.finish(self.info.metadata)
