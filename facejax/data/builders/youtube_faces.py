"""YouTube Faces (Wolf, Hassner, Maoz, CVPR 2011), read from a local copy: clips of face frames
with their boxes, and the 10 splits of video pairs.

Sources for the layout: the dataset's README (``frame_images_DB/<subject>/<video>/<video>.
<frame>.jpg``; ``frame_images_DB/<subject>.labeled_faces.txt`` with lines ``filename,[ignore],
x,y,width,height,[ignore],[ignore]`` where x, y are the *centre* of the face box, file names
written with backslashes, e.g. ``Richard_Gere\\3\\3.618.jpg,0,262,165,132,132,0.0,1``) and the
project page (http://www.cs.tau.ac.il/~wolf/ytfaces/: 3,425 videos of 1,595 people; 5,000 video
pairs in 10 splits, half of them same-person).

``splits.txt`` is read leniently: a first line that does not start with a number (the column
header) is skipped; every other line is comma-separated with the split number (1-10) first, the
two videos (``<subject>/<video>``) second and third, and ``is same`` (1/0) last; columns between
are ignored. (The errata file ``splits_corrected.txt`` has the same form: set ``splits_file``.)

Configs: ``clips`` (split ``test``: one example per video, at most ``max_frames`` frames evenly
spaced, each cropped around its labelled box) and ``pairs`` (split ``test``: the frames of both
videos of each pair, ``fold`` 0-9).
"""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import features
from facejax.data.builders.face_crops import (
    FaceCropConfig,
    crop_face,
    select_frames,
    stack_frames,
)
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    check_layout,
    dataset_root,
    list_folders,
    natural_key,
    read_rgb_image,
)

FRAMES_FOLDER = "frame_images_DB"
MODES = ("clips", "pairs")

_INSTRUCTIONS = """\
Download YouTubeFaces.tar.gz (http://www.cs.tau.ac.il/~wolf/ytfaces/) and extract it so that
manual_dir is the `YouTubeFaces` folder (or contains it):

    YouTubeFaces/
      frame_images_DB/
        Aaron_Eckhart/
          0/  0.555.jpg  0.556.jpg  ...
        Aaron_Eckhart.labeled_faces.txt     (Aaron_Eckhart\\0\\0.555.jpg,0,cx,cy,w,h,...)
        ...
      splits.txt                             (only for the `pairs` config)

aligned_images_DB/, descriptors_DB/, headpose_DB/ and meta_data/ are not read.
"""


def read_labeled_faces(path) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Reads ``<subject>.labeled_faces.txt``.

    Returns:
      ``{video: [(frame file name, box (x_min, y_min, x_max, y_max)), ...]}`` with frames in
      natural order.

    Raises:
      ValueError: naming the file and line for a malformed line.
    """
    path = os.fspath(path)
    videos: dict[str, list[tuple[str, np.ndarray]]] = {}
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            fields = [v.strip() for v in line.split(",")]
            try:
                parts = fields[0].replace("\\", "/").split("/")
                video, frame = parts[-2], parts[-1]
                cx, cy, width, height = (float(v) for v in fields[2:6])
            except (IndexError, ValueError) as err:
                raise ValueError(
                    f"{path}, line {number}: expected 'subject\\video\\file,_,x,y,w,h,...' ({err})"
                ) from err
            box = np.array([cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2])
            videos.setdefault(video, []).append((frame, box))
    return {v: sorted(rows, key=lambda r: natural_key(r[0])) for v, rows in videos.items()}


def read_splits(path) -> list[tuple[int, str, str, bool]]:
    """Reads ``splits.txt``: ``(fold from 0, "subject/video", "subject/video", same)``.

    Raises:
      ValueError: naming the file and line for a line that is not ``split, a, b, ..., same``.
    """
    path = os.fspath(path)
    pairs = []
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            fields = [v.strip() for v in line.split(",")]
            if not line.strip() or (number == 1 and not fields[0].isdigit()):
                continue
            try:
                if len(fields) < 4:
                    raise ValueError(f"{len(fields)} columns")
                fold = int(fields[0]) - 1
                clips = [f.replace("\\", "/").strip("/") for f in fields[1:3]]
                same = int(float(fields[-1])) != 0
                if fold < 0 or any(c.count("/") != 1 for c in clips):
                    raise ValueError("bad split number or video name")
            except ValueError as err:
                raise ValueError(
                    f"{path}, line {number}: expected 'split, subject/video, subject/video, ..., "
                    f"is_same' ({err})"
                ) from err
            pairs.append((fold, clips[0], clips[1], same))
    return pairs


@dataclasses.dataclass(eq=False)
class YouTubeFacesConfig(FaceCropConfig):
    """YouTube Faces options (crop options: :class:`FaceCropConfig`; boxes are enlarged by
    ``box_enlarge``).

    Attributes:
      mode: ``"clips"`` or ``"pairs"``.
      max_frames: at most this many evenly spaced frames per video (``None``: all).
      splits_file: the pairs file in manual_dir.
    """

    mode: str = "clips"
    max_frames: int | None = 32
    splits_file: str = "splits.txt"

    def __post_init__(self):
        super().__post_init__()
        if self.mode not in MODES:
            raise ValueError(f"{self.name}: mode must be one of {MODES}, got {self.mode!r}")
        if self.max_frames is not None and self.max_frames < 1:
            raise ValueError(f"{self.name}: max_frames must be >= 1 or None")


class YouTubeFaces(ManualFaceBuilder):
    """YouTube Faces clips (frames cropped around their labelled boxes) or video pairs."""

    name = "facejax_youtube_faces"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [
        YouTubeFacesConfig(name="clips", description="Videos, <= 32 frames each, 112x112."),
        YouTubeFacesConfig(
            name="pairs", mode="pairs", max_frames=8, description="splits.txt pairs, 8 frames."
        ),
    ]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    HOMEPAGE = "http://www.cs.tau.ac.il/~wolf/ytfaces/"

    def _features(self):
        config = self.builder_config
        if config.mode == "pairs":
            return features.clip_pair_features(config.crop_size)
        return features.face_clip_features(config.crop_size)

    def _split_generators(self, dl_manager):
        config = self.builder_config
        root = dataset_root(self._manual_dir(dl_manager), "YouTubeFaces")
        frames = os.path.join(root, FRAMES_FOLDER)
        files = [config.splits_file] if config.mode == "pairs" else []
        check_layout(
            self.name, root, folders=[FRAMES_FOLDER], files=files, instructions=_INSTRUCTIONS
        )
        people = list_folders(frames)
        labels = {person: i for i, person in enumerate(people)}
        if config.mode == "pairs":
            pairs = read_splits(os.path.join(root, config.splits_file))
            wanted = sorted({clip for _, a, b, _ in pairs for clip in (a, b)})
        else:
            pairs = None
            wanted = [f"{p}/{v}" for p in people for v in list_folders(os.path.join(frames, p))]
        subjects = sorted({clip.split("/")[0] for clip in wanted})
        missing = [os.path.join(frames, f"{s}.labeled_faces.txt") for s in subjects]
        missing = [path for path in missing if not os.path.isfile(path)]
        missing += [
            os.path.join(frames, c) + os.sep
            for c in wanted
            if not os.path.isdir(os.path.join(frames, c))
        ]
        check_layout(self.name, root, instructions=_INSTRUCTIONS, extra_missing=missing)
        self.info.metadata.update(
            {
                "identity_names": people,
                "num_identities": len(people),
                "crop": {**config.crop_metadata(), "max_frames": config.max_frames},
            }
        )
        boxes = functools.lru_cache(maxsize=64)(
            lambda subject: read_labeled_faces(os.path.join(frames, f"{subject}.labeled_faces.txt"))
        )
        if pairs is None:
            return {"test": self._generate_clips(frames, wanted, labels, boxes)}
        return {"test": self._generate_pairs(frames, pairs, labels, boxes)}

    def _clip(self, frames, clip, boxes, skips) -> dict:
        """The cropped frames of one video; unreadable frames are dropped and recorded."""
        subject, video = clip.split("/")
        rows = boxes(subject).get(video, [])
        crops_, names, numbers = [], [], []
        for index in select_frames(len(rows), self.builder_config.max_frames):
            name, box = rows[index]
            path = os.path.join(frames, subject, video, name)
            try:
                crops_.append(crop_face(read_rgb_image(path), self.builder_config, box=box))
            except BadExampleError as err:
                skips.add(path, err)
                continue
            names.append(f"{clip}/{name}")
            numbers.append(_frame_number(name, index))
        if not crops_:
            raise BadExampleError(f"{os.path.join(frames, clip)}: no labelled, readable frame")
        return {
            **stack_frames(crops_),
            "frame_paths": names,
            "frame_indices": np.asarray(numbers, dtype=np.int64),
        }

    def _generate_clips(self, frames, clips, labels, boxes):
        skips = SkipLog(self.name, "test")
        for clip in clips:
            subject = clip.split("/")[0]
            try:
                example = self._clip(frames, clip, boxes, skips)
            except BadExampleError as err:
                skips.add(os.path.join(frames, clip), err)
                continue
            yield (
                clip,
                {
                    **example,
                    "identity": labels[subject],
                    "identity_name": subject,
                    "clip_name": clip,
                },
            )
        skips.finish(self.info.metadata)

    def _generate_pairs(self, frames, pairs, labels, boxes):
        skips = SkipLog(self.name, "test")
        for index, (fold, clip_a, clip_b, same) in enumerate(pairs):
            example = {"same": np.bool_(same), "fold": fold}
            try:
                for side, clip in (("a", clip_a), ("b", clip_b)):
                    subject = clip.split("/")[0]
                    example[f"frames_{side}"] = self._clip(frames, clip, boxes, skips)["frames"]
                    example[f"identity_{side}"] = labels.get(subject, -1)
                    example[f"identity_name_{side}"] = subject
                    example[f"clip_name_{side}"] = clip
            except BadExampleError as err:
                skips.add(f"{self.builder_config.splits_file} pair {index}", err)
                continue
            yield f"{index:05d}", example
        skips.finish(self.info.metadata)


def _frame_number(name: str, default: int) -> int:
    """The frame number of ``<video>.<frame>.jpg`` (``default`` if the name has none)."""
    parts = name.split(".")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else int(default)
