"""tensorflow-datasets builders: real face datasets read from a user's local copy, and the
synthetic faces and clips rendered from a morphable model.

Importing this package registers the builders with tfds under names prefixed ``facejax_`` (tfds
has its own ``the300w_lp``, ``aflw2k3d``, ``lfw``). Build with ``file_format="array_record"``
and read with ``builder.as_data_source(split)``; TensorFlow is not needed. docs/datasets.md
gives each dataset's layout and features; ``facejax.data.features`` the shared feature spec.
"""

from facejax.data.builders.aflw2000 import AFLW2000, AFLW2000Config
from facejax.data.builders.face_crops import FaceCropConfig
from facejax.data.builders.fitted_targets import FittedTargets, FittedTargetsConfig
from facejax.data.builders.identity_clips import IdentityClips, IdentityClipsConfig
from facejax.data.builders.identity_folders import IdentityFolders, IdentityFoldersConfig
from facejax.data.builders.lfw import LFW, LFWConfig
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.builders.micc_florence import MICCFlorence, MICCFlorenceConfig
from facejax.data.builders.now import NoW, NoWConfig
from facejax.data.builders.synthetic_builder import SyntheticConfig, derived_config
from facejax.data.builders.synthetic_clips import (
    PER_FRAME_FEATURES,
    SyntheticClips,
    SyntheticClipsConfig,
)
from facejax.data.builders.synthetic_faces import SyntheticFaces, SyntheticFacesConfig
from facejax.data.builders.threeddfa_targets import check_decoded_landmarks
from facejax.data.builders.w300lp import W300LP, W300LPConfig
from facejax.data.builders.youtube_faces import YouTubeFaces, YouTubeFacesConfig

__all__ = [
    "AFLW2000",
    "AFLW2000Config",
    "FaceCropConfig",
    "FittedTargets",
    "FittedTargetsConfig",
    "IdentityClips",
    "IdentityClipsConfig",
    "IdentityFolders",
    "IdentityFoldersConfig",
    "LFW",
    "LFWConfig",
    "MICCFlorence",
    "MICCFlorenceConfig",
    "ManualFaceBuilder",
    "NoW",
    "NoWConfig",
    "PER_FRAME_FEATURES",
    "SyntheticClips",
    "SyntheticClipsConfig",
    "SyntheticFaces",
    "SyntheticFacesConfig",
    "SyntheticConfig",
    "W300LP",
    "check_decoded_landmarks",
    "derived_config",
    "W300LPConfig",
    "YouTubeFaces",
    "YouTubeFacesConfig",
]
