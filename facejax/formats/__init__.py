"""Readers and writers: morphable-model files, meshes (OBJ, PLY), landmark and image files.

:func:`load_model` reads any supported model file (native ``.npz``, BFM 2009/2017,
Deep3DFaceRecon, 3DDFA, FLAME, eos) into a :class:`~facejax.morphable.MorphableModel` in the
units and frame of docs/conventions.md; :func:`save_model` writes the native file. See
docs/formats.md for what each reader takes from which file.
"""

from facejax.formats.image_files import (
    ImageFileError,
    open_rgb_image,
    read_image,
    read_image_size,
    write_png,
)
from facejax.formats.landmark_files import read_landmarks, read_vertex_indices, write_pts
from facejax.formats.load import FORMATS, UnknownFormatError, detect_format, load_model
from facejax.formats.mesh_files import orient_outward, read_obj, read_ply, write_obj, write_ply
from facejax.formats.native import load_native, save_model
from facejax.formats.restricted_pickle import RefusedClassError, load_numpy_object, load_pickle
from facejax.formats.threeddfa_params import check_3ddfa_model, coefficients_from_3ddfa

__all__ = [
    "FORMATS",
    "ImageFileError",
    "RefusedClassError",
    "UnknownFormatError",
    "check_3ddfa_model",
    "coefficients_from_3ddfa",
    "detect_format",
    "load_model",
    "load_native",
    "load_numpy_object",
    "load_pickle",
    "open_rgb_image",
    "orient_outward",
    "read_image",
    "read_image_size",
    "read_landmarks",
    "read_obj",
    "read_ply",
    "read_vertex_indices",
    "save_model",
    "write_obj",
    "write_ply",
    "write_png",
    "write_pts",
]
