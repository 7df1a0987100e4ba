"""AFLW2000-3D (Zhu et al., CVPR 2016: 3DDFA fits of the first 2000 AFLW images), read from a
local copy. Test split only: the usual benchmark for 68-landmark alignment and head pose of
methods trained on 300W-LP.

Sources for the layout: the 3DDFA project page
(http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/main.htm) and tensorflow-datasets'
``aflw2k3d`` builder (``AFLW2000/image0*.jpg`` with ``.mat`` beside each; ``pt3d_68 [3, 68]``).
``pt3d_68`` rows 0-1 are 1-based image x and y (rows grow downwards), row 2 the depth of the
fitted model's landmarks in the same pixel units; the 21-point AFLW annotation ``pt2d [2, 21]``
(with -1 for missing points) is not stored. AFLW gives no identities: ``identity`` is -1.

**Benchmark protocol** (3DDFA's, ``facejax.evaluation.nme_by_yaw``): every one of the 2000
images is kept; the yaw bins ``|yaw| <= 30``, ``30 < |yaw| <= 60``, ``|yaw| > 60`` degrees are
taken on the file's yaw, ``degrees(abs(pose_params[1]))`` (``Pose_Para``; equal to ``pose[1]`` in
the default box crops, which do not rotate), and the few faces beyond 90 degrees count in the
last bin. The head-pose protocol of Hopenet / FSA-Net, which drops images with an angle outside
[-99, 99] degrees, is not applied here (see docs/evaluation.md).

With ``config.model`` (:meth:`config_for`) the examples also carry the fits as that model's
coefficients (``facejax.data.builders.threeddfa_targets``), e.g. to measure a reconstruction
against AFLW2000-3D's fitted shapes.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data import crop as crops
from facejax.data.builders import fitted_3dmm
from facejax.data.builders.fitted_3dmm import FittedCropConfig
from facejax.data.builders.threeddfa_targets import ThreeDDFABuilder
from facejax.data.manual_files import (
    BadExampleError,
    SkipLog,
    check_layout,
    dataset_root,
)

_INSTRUCTIONS = """\
Download AFLW2000-3D (AFLW2000-3D.zip) from the 3DDFA project page
(http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/main.htm) and extract it so that
manual_dir is the `AFLW2000` folder (or contains it):

    AFLW2000/
      image00002.jpg  image00002.mat
      image00004.jpg  image00004.mat
      ...             (2000 pairs, 450x450 images)

Each .mat holds pt3d_68 [3,68] (1-based x, y and depth), Pose_Para [1,7], Shape_Para [199,1],
Exp_Para [29,1], Tex_Para [199,1], Illum_Para, Color_Para, roi, pt2d [2,21].
"""


_YAW_BINS = (
    "degrees(abs(pose_params[1])): <= 30, (30, 60], > 60 (facejax.evaluation.nme_by_yaw); all "
    "images kept, |yaw| > 90 in the last bin"
)


@dataclasses.dataclass(eq=False)
class AFLW2000Config(FittedCropConfig):
    """AFLW2000-3D options: the crop and model options of :class:`FittedCropConfig` (default:
    box crops, which keep the file's pose angles)."""

    alignment: str = "box"


class AFLW2000(ThreeDDFABuilder):
    """AFLW2000-3D face crops with 68 landmarks (and depth), 3DDFA fits and pose in the crop."""

    name = "facejax_aflw2000_3d"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = fitted_3dmm.fitted_configs(AFLW2000Config)
    MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
    HOMEPAGE = fitted_3dmm.HOMEPAGE

    def _features(self):
        return {
            **fitted_3dmm.fitted_features(self.builder_config),
            "landmarks_depth": tfds.features.Tensor(shape=(68,), dtype=np.float32),
            **self._target_features(),
        }

    def _split_generators(self, dl_manager):
        root = dataset_root(self._manual_dir(dl_manager), "AFLW2000")
        stems = sorted(
            n[:-4] for n in os.listdir(root) if n.startswith("image") and n.endswith(".jpg")
        )
        check_layout(
            self.name,
            root,
            instructions=_INSTRUCTIONS,
            extra_missing=[] if stems else [os.path.join(root, "image*.jpg") + " (and .mat)"],
        )
        self.info.metadata.update(
            {
                "identity_names": [],
                "num_identities": 0,
                "pose_convention": fitted_3dmm.POSE_CONVENTION,
                "landmark_source": "pt3d_68 (x, y; depth in landmarks_depth)",
                "crop": self.builder_config.crop_metadata(),
                "yaw_bins": _YAW_BINS,
                **(self.targets.metadata() if self.targets is not None else {}),
            }
        )
        return {"test": self._generate_examples(root, stems)}

    def _generate_examples(self, root, stems):
        skips = SkipLog(self.name, "test")
        for stem in stems:
            image_path = os.path.join(root, stem + ".jpg")
            mat_path = os.path.join(root, stem + ".mat")
            try:
                example, points = fitted_3dmm.read_fitted_example(
                    image_path, mat_path, self.builder_config, landmark_field="pt3d_68", depth=True
                )
            except BadExampleError as err:
                skips.add(image_path, err)
                continue
            scale, _ = crops.transform_scale_angle(example["crop_transform"])
            targets = self.targets.example(example) if self.targets is not None else {}
            yield (
                stem,
                {
                    **example,
                    "identity": -1,
                    "identity_name": "",
                    "image_path": stem + ".jpg",
                    # Depth is in source pixels: the crop scales it like x and y.
                    "landmarks_depth": (scale * points[:, 2]).astype(np.float32),
                    **targets,
                },
            )
        skips.finish(self.info.metadata)
        if self.targets is not None:
            self.targets.finish(self.info.metadata)
