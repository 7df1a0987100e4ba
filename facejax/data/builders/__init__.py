"""tensorflow-datasets builders of real face datasets, read from a user's local copy.

Importing this package registers the builders with tfds under names prefixed ``facejax_`` (tfds
has its own ``the300w_lp``, ``aflw2k3d``, ``lfw``). Build with ``file_format="array_record"``
and read with ``builder.as_data_source(split)``; TensorFlow is not needed. docs/datasets.md
gives each dataset's layout and features.
"""

from facejax.data.builders.aflw2000 import AFLW2000, AFLW2000Config
from facejax.data.builders.face_crops import FaceCropConfig
from facejax.data.builders.lfw import LFW, LFWConfig
from facejax.data.builders.w300lp import W300LP, W300LPConfig
from facejax.data.builders.youtube_faces import YouTubeFaces, YouTubeFacesConfig

__all__ = [
    "AFLW2000",
    "AFLW2000Config",
    "FaceCropConfig",
    "LFW",
    "LFWConfig",
    "W300LP",
    "W300LPConfig",
    "YouTubeFaces",
    "YouTubeFacesConfig",
]
