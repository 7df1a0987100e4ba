"""300W-LP (Zhu et al., "Face Alignment Across Large Poses: A 3D Solution", CVPR 2016), read from
a local copy.

Sources for the layout: the 3DDFA project page
(http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/main.htm) and the file names and
``.mat`` keys used by tensorflow-datasets' own ``the300w_lp`` builder (images ``<subset>/<name>
.jpg`` + ``<name>.mat``; ``landmarks/<subset>/<name>_pts.mat`` with ``pts_2d``/``pts_3d``, for the
non-flipped subsets only). The ``.mat`` variables and the pose convention: see
``facejax.data.builders.fitted_3dmm``.

**Identity.** 300W-LP synthesises many poses (``_0``, ``_1``, ...) of every face of 300-W and
mirrors them (``*_Flip`` folders). The identity of an image is its name without the last
``_<n>``: ``AFW_134212_1_0`` and ``AFW_Flip/AFW_134212_1_0`` are both ``AFW_134212_1`` (face 1
of AFW image 134212). Different source images of one person get different identities, since
300-W does not say who is who; labels are the index of the name in the sorted list of all
identities (``info.metadata["identity_names"]``, all in ``split_identities["train"]``).

**Flips.** A ``*_Flip`` image is the mirrored image with its *own* ``.mat``: pose, landmarks and
parameters were fitted to the mirrored face (yaw and roll change sign, and the pitch of a flip
differs from the original's, so its parameters are a fit of their own, not the original's
mirrored), and facejax reads them as they are, like any other image. Its identity is the
original's, so a recipe's positives are the ``_<n>`` views of one source face (profiles
synthesised from one fitted 3D face) and their flips. facejax does not assume that their stored
coefficients are equal: they are each file's own.

**Coefficients for a recipe.** With ``config.model`` (:meth:`config_for`) every example also
carries the fit as that model's coefficients (``identity_coeffs``, ``expression_coeffs``),
``landmark_visibility`` (all True: ``pt2d`` gives all 68 points) and
``decoded_landmark_error``: see ``facejax.data.builders.threeddfa_targets``.
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data import features
from facejax.data.builders import fitted_3dmm
from facejax.data.builders.fitted_3dmm import FittedCropConfig
from facejax.data.builders.threeddfa_targets import ThreeDDFABuilder
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    check_layout,
    dataset_root,
    read_face_landmarks,
)

SUBSETS = ("AFW", "AFW_Flip", "HELEN", "HELEN_Flip", "IBUG", "IBUG_Flip", "LFPW", "LFPW_Flip")
_POSE_INDEX = re.compile(r"^(?P<identity>.+)_(?P<index>\d+)$")

_INSTRUCTIONS = """\
Download 300W-LP (300W_LP.zip) from the 3DDFA project page
(http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/main.htm) and extract it so that
manual_dir is the `300W_LP` folder (or contains it):

    300W_LP/
      AFW/        AFW_134212_1_0.jpg  AFW_134212_1_0.mat  ...
      AFW_Flip/   AFW_134212_1_0.jpg  AFW_134212_1_0.mat  ...
      HELEN/  HELEN_Flip/  IBUG/  IBUG_Flip/  LFPW/  LFPW_Flip/   (the same)
      landmarks/
        AFW/      AFW_134212_1_0_pts.mat  ...   (pts_2d, pts_3d [68, 2]; no *_Flip folders)
        HELEN/  IBUG/  LFPW/

Each <name>.mat holds Pose_Para [1,7], Shape_Para [199,1], Exp_Para [29,1], Tex_Para [199,1],
pt2d [2,68] (1-based pixel coordinates), Illum_Para, Color_Para, roi.
"""


def identity_of(name: str) -> str:
    """The identity of a 300W-LP image name: the name without its last ``_<n>``."""
    match = _POSE_INDEX.match(name)
    return match.group("identity") if match else name


@dataclasses.dataclass(eq=False)
class W300LPConfig(FittedCropConfig):
    """300W-LP options (crop and model options: :class:`FittedCropConfig`).

    Attributes:
      subsets: the image folders to read.
      require_landmarks_folder: fail when ``landmarks/`` is missing (otherwise
        ``has_landmarks_3d`` is False everywhere).
    """

    alignment: str = "box"
    subsets: tuple[str, ...] = SUBSETS
    require_landmarks_folder: bool = True


class W300LP(ThreeDDFABuilder):
    """300W-LP face crops with 3DDFA fits, pose in the crop and identity labels (train split)."""

    name = "facejax_300w_lp"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = fitted_3dmm.fitted_configs(W300LPConfig)
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    HOMEPAGE = fitted_3dmm.HOMEPAGE

    def _features(self):
        return {
            **fitted_3dmm.fitted_features(self.builder_config),
            "landmarks_3d": tfds.features.Tensor(shape=(68, 2), dtype=np.float32),
            "has_landmarks_3d": tfds.features.Tensor(shape=(), dtype=np.bool_),
            **self._target_features(),
        }

    def _split_generators(self, dl_manager):
        config = self.builder_config
        root = dataset_root(self._manual_dir(dl_manager), "300W_LP")
        folders = list(config.subsets)
        if config.require_landmarks_folder:
            folders.append("landmarks")
        check_layout(self.name, root, folders=folders, instructions=_INSTRUCTIONS)
        items = []
        for subset in config.subsets:
            names = os.listdir(os.path.join(root, subset))
            stems = sorted(n[:-4] for n in names if n.lower().endswith(".jpg"))
            items += [(subset, stem) for stem in stems]
        identities = sorted({identity_of(stem) for _, stem in items})
        self.info.metadata.update(
            {
                "identity_names": identities,
                "num_identities": len(identities),
                "split_identities": {"train": identities},
                "pose_convention": fitted_3dmm.POSE_CONVENTION,
                "landmark_source": "pt2d of <name>.mat; landmarks_3d: pts_3d of landmarks/",
                "crop": config.crop_metadata(),
                **(self.targets.metadata() if self.targets is not None else {}),
            }
        )
        labels = {name: i for i, name in enumerate(identities)}
        return {"train": self._generate_examples(root, items, labels)}

    def _generate_examples(self, root, items, labels):
        config = self.builder_config
        skips = SkipLog(self.name, "train")
        without_3d = 0
        for subset, stem in items:
            image_path = os.path.join(root, subset, stem + ".jpg")
            mat_path = os.path.join(root, subset, stem + ".mat")
            try:
                example, _ = fitted_3dmm.read_fitted_example(
                    image_path, mat_path, config, landmark_field="pt2d"
                )
                landmarks_3d = self._landmarks_3d(root, subset, stem)
            except BadExampleError as err:
                skips.add(image_path, err)
                continue
            has_3d = landmarks_3d is not None
            without_3d += not has_3d
            identity = identity_of(stem)
            targets = self.targets.example(example) if self.targets is not None else {}
            yield (
                f"{subset}/{stem}",
                {
                    **example,
                    "identity": labels[identity],
                    "identity_name": identity,
                    "image_path": f"{subset}/{stem}.jpg",
                    "landmarks_3d": (
                        crops.apply_transform(example["crop_transform"], landmarks_3d).astype(
                            np.float32
                        )
                        if has_3d
                        else features.empty_landmarks()
                    ),
                    "has_landmarks_3d": np.bool_(has_3d),
                    **targets,
                },
            )
        skips.finish(self.info.metadata)
        if self.targets is not None:
            self.targets.finish(self.info.metadata)
        self.info.metadata["without_landmarks_3d"] = without_3d

    def _landmarks_3d(self, root, subset, stem):
        """``pts_3d`` of ``landmarks/<subset>/<stem>_pts.mat``, or None (flipped subsets have
        none). A file that exists but is broken skips the example."""
        path = os.path.join(root, "landmarks", subset, stem + "_pts.mat")
        if subset.endswith("_Flip") or not os.path.isfile(path):
            return None
        return read_face_landmarks(path, (68,), field="pts_3d")
