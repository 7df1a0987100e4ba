"""MICC Florence 2D/3D Hybrid Face Dataset (Bagdanov, Del Bimbo, Masi, 2011), read from a local
copy: video frames of 53 subjects, each with the path of the subject's 3D scan.

Sources for the layout: the dataset page (https://www.micc.unifi.it/resources/datasets/
florence-3d-faces/) and public evaluation code that reads it: ``subject_XX/Model/frontal1/obj/
<timestamp>.obj`` (also ``frontal2``, ``sidel``, ``sider``; ``vrml/`` holds VRML copies) and
``subject_XX/Video/{Indoor-Cooperative,PTZ-Indoor,PTZ-Outdoor}.<mjpg|mjpeg|...>``.

Decoding MJPEG/MP4 would need an extra dependency, so this builder reads **extracted frames**:
a folder named like each video, beside it, holding JPEG/PNG frames, e.g.::

    ffmpeg -i subject_01/Video/Indoor-Cooperative.mjpg -q:v 2 \\
        subject_01/Video/Indoor-Cooperative/frame_%05d.jpg

A video without its frames folder is reported as missing (with the folder to create); a subject
without one of the videos simply has no frames for it (``info.metadata["absent_videos"]``).

Crops: a landmark or box file beside a frame (``facejax.data.manual_files.side_files``, e.g.
written by a face detector) places its crop; without one, the crop is the largest central square
of the frame (the subject is filmed roughly centred). ``scan_path`` names the subject's first
``Model/frontal1/obj/*.obj`` (else ``frontal2``), relative to manual_dir; read it with
``facejax.formats.read_obj``. The dataset is used for testing (split ``test``).
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data import features
from facejax.data.builders.face_crops import FaceCropConfig, crop_with_side_files, select_frames
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    check_layout,
    dataset_root,
    list_folders,
    list_images,
    read_rgb_image,
)

SETTINGS = ("Indoor-Cooperative", "PTZ-Indoor", "PTZ-Outdoor")
SCAN_FOLDERS = ("frontal1", "frontal2")

_INSTRUCTIONS = """\
Download the Florence 2D/3D Hybrid Face Dataset
(https://www.micc.unifi.it/resources/datasets/florence-3d-faces/), extract it so that manual_dir
is the folder of subject_XX folders (or contains it as `Florence/`), and extract the frames of
each video into a folder named like the video, beside it:

    subject_01/
      Model/frontal1/obj/110920150452.obj      (the 3D scan; frontal2/ is used if absent)
      Video/
        Indoor-Cooperative.mjpg
        Indoor-Cooperative/frame_00001.jpg ...   <- ffmpeg -i Indoor-Cooperative.mjpg \\
        PTZ-Indoor.mjpg                               -q:v 2 Indoor-Cooperative/frame_%05d.jpg
        PTZ-Indoor/frame_00001.jpg ...
        PTZ-Outdoor.mjpg
        PTZ-Outdoor/frame_00001.jpg ...
    subject_02/ ...

Optional, beside a frame: landmarks <stem>.pts / .npy / .json or a box <stem>.box.txt / .json.
"""


@dataclasses.dataclass(eq=False)
class MICCFlorenceConfig(FaceCropConfig):
    """MICC Florence options (crop options: :class:`FaceCropConfig`).

    Attributes:
      settings: the videos to read.
      max_frames: at most this many evenly spaced frames per video (``None``: all).
    """

    settings: tuple[str, ...] = SETTINGS
    max_frames: int | None = 100


class MICCFlorence(ManualFaceBuilder):
    """MICC Florence video frames with subject labels and the path of each subject's scan."""

    name = "facejax_micc_florence"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [
        MICCFlorenceConfig(name="default", description="<= 100 frames per video, 112x112."),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    HOMEPAGE = "https://www.micc.unifi.it/resources/datasets/florence-3d-faces/"

    def _features(self):
        return {
            **features.face_image_features(self.builder_config.crop_size),
            "video": tfds.features.Text(),
            "frame_index": tfds.features.Tensor(shape=(), dtype=np.int64),
            "scan_path": tfds.features.Text(),
            "has_scan": tfds.features.Tensor(shape=(), dtype=np.bool_),
        }

    def _split_generators(self, dl_manager):
        config = self.builder_config
        manual = self._manual_dir(dl_manager)
        root = dataset_root(manual, "Florence")
        subjects = [s for s in list_folders(root) if s.startswith("subject_")]
        missing = [] if subjects else [os.path.join(root, "subject_XX") + os.sep]
        videos, absent = [], []
        for subject in subjects:
            video_dir = os.path.join(root, subject, "Video")
            names = os.listdir(video_dir) if os.path.isdir(video_dir) else []
            if not names:
                missing.append(video_dir + os.sep)
                continue
            for setting in config.settings:
                if os.path.isdir(os.path.join(video_dir, setting)):
                    videos.append((subject, setting))
                elif any(os.path.splitext(n)[0] == setting for n in names):
                    missing.append(os.path.join(video_dir, setting) + os.sep + " (extract frames)")
                else:
                    absent.append(f"{subject}/{setting}")
        check_layout(self.name, root, instructions=_INSTRUCTIONS, extra_missing=missing)
        labels = {subject: i for i, subject in enumerate(subjects)}
        scans = {s: _scan_path(root, s) for s in subjects}
        self.info.metadata.update(
            {
                "identity_names": subjects,
                "num_identities": len(subjects),
                "absent_videos": absent,
                "without_scan": [s for s, path in scans.items() if path is None],
                "crop": {**config.crop_metadata(), "max_frames": config.max_frames},
            }
        )
        prefix = os.path.relpath(root, manual)
        return {"test": self._generate_examples(root, prefix, videos, labels, scans)}

    def _generate_examples(self, root, prefix, videos, labels, scans):
        config = self.builder_config
        skips = SkipLog(self.name, "test")
        for subject, setting in videos:
            folder = os.path.join(root, subject, "Video", setting)
            frames = list_images(folder)
            names = set(os.listdir(folder))
            scan = (
                ""
                if scans[subject] is None
                else os.path.normpath(os.path.join(prefix, scans[subject]))
            )
            for index in select_frames(len(frames), config.max_frames):
                frame = frames[index]
                try:
                    image = read_rgb_image(os.path.join(folder, frame))
                    box = crops.central_box(image.width, image.height, 1.0)
                    example = crop_with_side_files(
                        image, config, folder, frame, names, fallback_box=box, fallback_enlarge=1.0
                    )
                except BadExampleError as err:
                    skips.add(os.path.join(folder, frame), err)
                    continue
                path = os.path.normpath(os.path.join(prefix, subject, "Video", setting, frame))
                yield (
                    f"{subject}/{setting}/{frame}",
                    {
                        **example,
                        "identity": labels[subject],
                        "identity_name": subject,
                        "image_path": path,
                        "video": setting,
                        "frame_index": int(index),
                        "scan_path": scan,
                        "has_scan": np.bool_(bool(scan)),
                    },
                )
        skips.finish(self.info.metadata)


def _scan_path(root, subject) -> str | None:
    """``subject/Model/<frontal1|frontal2>/obj/<first>.obj`` relative to root, or None."""
    for folder in SCAN_FOLDERS:
        obj_dir = os.path.join(root, subject, "Model", folder, "obj")
        if os.path.isdir(obj_dir):
            objs = sorted(n for n in os.listdir(obj_dir) if n.lower().endswith(".obj"))
            if objs:
                return os.path.join(subject, "Model", folder, "obj", objs[0])
    return None
