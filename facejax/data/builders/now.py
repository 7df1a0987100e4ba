"""NoW benchmark (Sanyal, Bolkart, Feng, Black, "Learning to Regress 3D Face Shape and Expression
from an Image without 3D Supervision", CVPR 2019: RingNet), read from a local copy: iPhone photos
of 100 subjects with face boxes, and for the validation subjects the 3D scan and its 7 landmarks.

Sources for the layout: the NoW challenge page (https://now.is.tue.mpg.de) and the official
evaluation code (github.com/soubhiksanyal/now_evaluation, ``compute_error.py``): the image lists
``imagepathsvalidation.txt`` / ``imagepathstest.txt`` hold lines ``<subject>/<challenge>/
<IMG>.jpg`` (challenges ``multiview_neutral``, ``multiview_expressions``,
``multiview_occlusions``, ``selfie``); images are ``final_release_version/iphone_pictures/
<line>``; face boxes ``final_release_version/detected_face/<line with .npy>``, each a pickled dict
with ``left``, ``top``, ``right``, ``bottom`` (read with
``facejax.formats.load_numpy_object``, never ``np.load(allow_pickle=True)``); the scan is the
one ``scans/<subject>/*.obj`` (e.g. ``natural_head_rotation.000001.obj``) and its landmarks the
one ``scans_lmks_onlypp/<subject>/*.pp`` (MeshLab picked points: 7 ``<point x= y= z=>`` elements,
read in file order as the evaluation code does; public evaluation notes give that order as right
eye outer and inner corner, left eye inner and outer corner, subnasale, right and left mouth
corner: ``info.metadata["scan_landmark_order"]``).

Splits ``validation`` and ``test`` (whichever list file is present). The test scans are not
public: ``has_scan`` is False there. Images are used as stored (EXIF orientation ignored), like
the boxes and the reference code. Crops: the square around the detected box enlarged by
``box_enlarge``.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import features
from facejax.data.builders.face_crops import FaceCropConfig, crop_face
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    check_layout,
    read_rgb_image,
)
from facejax.formats import load_numpy_object, now_files
from facejax.formats.now_files import NOW_LANDMARK_NAMES, read_image_list

LIST_FILES = {"validation": "imagepathsvalidation.txt", "test": "imagepathstest.txt"}
NUM_SCAN_LANDMARKS = now_files.NUM_NOW_LANDMARKS

_INSTRUCTIONS = """\
Download the NoW dataset (https://now.is.tue.mpg.de, after registration) and extract it so that
manual_dir is `NoW_Dataset/final_release_version` (or contains `NoW_Dataset/` or
`final_release_version/`):

    final_release_version/
      iphone_pictures/FaMoS_180424_03335_TA/multiview_neutral/IMG_0101.jpg ...
      detected_face/FaMoS_180424_03335_TA/multiview_neutral/IMG_0101.npy ...
      scans/FaMoS_180424_03335_TA/natural_head_rotation.000001.obj      (validation subjects)
      scans_lmks_onlypp/FaMoS_180424_03335_TA/natural_head_rotation.000001_picked_points.pp
      imagepathsvalidation.txt    (here or in NoW_Dataset/)
      imagepathstest.txt
"""


def read_picked_points(path) -> np.ndarray:
    """:func:`facejax.formats.now_files.read_picked_points`, raising BadExampleError (a skip)."""
    try:
        return now_files.read_picked_points(path)
    except ValueError as err:
        raise BadExampleError(str(err)) from err


def read_face_box(path) -> np.ndarray:
    """``(left, top, right, bottom)`` of a NoW ``detected_face`` ``.npy`` (a pickled dict).

    Raises:
      BadExampleError: naming the file if it is unreadable or lacks a key.
    """
    try:
        data = load_numpy_object(path)
        box = np.array([float(data[k]) for k in ("left", "top", "right", "bottom")])
    except (ValueError, KeyError, TypeError, OSError) as err:
        raise BadExampleError(f"{path}: not a NoW face box ({err})") from err
    if not np.all(np.isfinite(box)) or box[2] <= box[0] or box[3] <= box[1]:
        raise BadExampleError(f"{path}: empty or invalid box {box.tolist()}")
    return box


@dataclasses.dataclass(eq=False)
class NoWConfig(FaceCropConfig):
    """NoW options (crop options: :class:`FaceCropConfig`).

    Attributes:
      require_scans: list a validation subject without scan or ``.pp`` file as missing.
    """

    require_scans: bool = True


class NoW(ManualFaceBuilder):
    """NoW photos cropped around their detected boxes, with scan paths and scan landmarks."""

    name = "facejax_now"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [NoWConfig(name="default", description="112x112 box crops.")]
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    HOMEPAGE = "https://now.is.tue.mpg.de"

    def _features(self):
        return {
            **features.face_image_features(self.builder_config.crop_size),
            "challenge": tfds.features.Text(),
            "face_box": tfds.features.Tensor(shape=(4,), dtype=np.float32),
            "scan_path": tfds.features.Text(),
            "scan_landmarks": tfds.features.Tensor(shape=(NUM_SCAN_LANDMARKS, 3), dtype=np.float32),
            "has_scan": tfds.features.Tensor(shape=(), dtype=np.bool_),
        }

    def _split_generators(self, dl_manager):
        manual = self._manual_dir(dl_manager)
        root = next(
            (
                p
                for p in (
                    os.path.join(manual, "NoW_Dataset", "final_release_version"),
                    os.path.join(manual, "final_release_version"),
                )
                if os.path.isdir(p)
            ),
            manual,
        )
        places = list(dict.fromkeys([root, os.path.dirname(root), manual]))
        lists = {}
        for split, name in LIST_FILES.items():
            found = [os.path.join(p, name) for p in places if os.path.isfile(os.path.join(p, name))]
            if found:
                lists[split] = read_image_list(found[0])
        missing = [] if lists else [os.path.join(root, n) for n in LIST_FILES.values()]
        for line in sorted({line for lines in lists.values() for line in lines}):
            for folder, path in (("iphone_pictures", line), ("detected_face", _npy(line))):
                if not os.path.isfile(os.path.join(root, folder, path)):
                    missing.append(os.path.join(root, folder, path))
        subjects = sorted({line.split("/")[0] for lines in lists.values() for line in lines})
        scans = {s: now_files.now_scan_files(root, s) for s in subjects}
        if self.builder_config.require_scans:
            for subject in sorted({line.split("/")[0] for line in lists.get("validation", [])}):
                mesh, points = scans[subject]
                if mesh is None:
                    missing.append(os.path.join(root, "scans", subject, "*.obj"))
                if points is None:
                    missing.append(os.path.join(root, "scans_lmks_onlypp", subject, "*.pp"))
        check_layout(
            self.name,
            root,
            folders=["iphone_pictures", "detected_face"],
            instructions=_INSTRUCTIONS,
            extra_missing=missing,
        )
        self.info.metadata.update(
            {
                "identity_names": subjects,
                "num_identities": len(subjects),
                "scan_landmark_order": list(NOW_LANDMARK_NAMES),
                "crop": self.builder_config.crop_metadata(),
            }
        )
        labels = {s: i for i, s in enumerate(subjects)}
        prefix = os.path.relpath(root, manual)
        return {
            split: self._generate_examples(split, root, prefix, lines, labels, scans)
            for split, lines in lists.items()
        }

    def _generate_examples(self, split, root, prefix, lines, labels, scans):
        skips = SkipLog(self.name, split)
        for line in lines:
            subject, challenge, _ = line.split("/")
            image_path = os.path.join(root, "iphone_pictures", line)
            mesh, points = scans[subject]
            try:
                box = read_face_box(os.path.join(root, "detected_face", _npy(line)))
                example = crop_face(read_rgb_image(image_path), self.builder_config, box=box)
                landmarks = np.zeros((NUM_SCAN_LANDMARKS, 3))
                if points is not None:
                    landmarks = read_picked_points(os.path.join(root, points))
                    if landmarks.shape[0] != NUM_SCAN_LANDMARKS:
                        raise BadExampleError(
                            f"{os.path.join(root, points)}: {landmarks.shape[0]} points, "
                            f"expected {NUM_SCAN_LANDMARKS}"
                        )
            except BadExampleError as err:
                skips.add(image_path, err)
                continue
            has_scan = mesh is not None and points is not None
            yield (
                line,
                {
                    **example,
                    "identity": labels[subject],
                    "identity_name": subject,
                    "image_path": os.path.normpath(os.path.join(prefix, "iphone_pictures", line)),
                    "challenge": challenge,
                    "face_box": box.astype(np.float32),
                    "scan_path": os.path.normpath(os.path.join(prefix, mesh)) if has_scan else "",
                    "scan_landmarks": landmarks.astype(np.float32),
                    "has_scan": np.bool_(has_scan),
                },
            )
        skips.finish(self.info.metadata)


def _npy(line: str) -> str:
    return os.path.splitext(line)[0] + ".npy"
