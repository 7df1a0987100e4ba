"""Deep3DFaceRecon's cropped BFM (``BFM/BFM_model_front.mat``).

Deng et al., "Accurate 3D Face Reconstruction with Weakly-Supervised Learning", CVPRW 2019;
the file is built by ``util/load_mats.py:transferBFM09`` of Deep3DFaceRecon_pytorch from BFM
2009 and the expression basis of Guo et al. (35,709 vertices). Its variables (MATLAB v5,
written by ``scipy.io.savemat``):

- ``meanshape`` ``[1, 3V]``: ``shapeMU / 1e5``, i.e. BFM micrometres divided by 1e5:
  **decimetres** (loading multiplies by 100 to reach millimetres).
- ``idBase`` ``[3V, 80]``: ``shapePC * shapeEV / 1e5``; ``exBase`` ``[3V, 64]``:
  ``expPC * expEV / 1e5``. Both bases are **already multiplied by the standard deviations**,
  so facejax stores them as they are (x100) with ``std = 1``: a Deep3DFaceRecon coefficient
  vector is a facejax coefficient vector.
- ``meantex`` ``[1, 3V]`` and ``texBase`` ``[3V, 80]`` (``texPC * texEV``) in the 0..255
  scale: divided by 255, ``std = 1``.
- ``tri`` ``[F, 3]`` 1-based triangles (their winding is not documented upstream; the loader
  orients them outward like every reader); ``point_buf`` ``[V, 8]`` 1-based vertex-to-triangle
  adjacency (not needed: facejax computes normals from the triangles); ``tri_mask2`` (not read).
- ``keypoints`` ``[1, 68]`` (or ``[68, 1]``) 1-based vertex index of each iBUG landmark.
- ``frontmask2_idx`` 1-based vertices of the photometric-loss region -> ``face_mask``;
  ``skinmask`` per-vertex skin indicator -> ``skin_mask``.

The frame is BFM's (y up, z out of the face); Deep3DFaceRecon re-centres the mean shape at
run time, facejax keeps the file's origin.
"""

from __future__ import annotations

import os

import numpy as np

from facejax.formats.matlab import load_mat, require_array
from facejax.formats.mesh_files import orient_outward
from facejax.morphable import MorphableModel, create_model

DECIMETRES_TO_MM = 100.0
COLOUR_SCALE = 1.0 / 255.0

_KEYS = (
    "meanshape",
    "idBase",
    "exBase",
    "meantex",
    "texBase",
    "tri",
    "keypoints",
    "frontmask2_idx",
    "skinmask",
)


def load_deep3d(path, *, dtype=np.float32) -> MorphableModel:
    """Reads Deep3DFaceRecon's ``BFM_model_front.mat`` into millimetres.

    Args:
      path: the ``.mat`` file.
      dtype: float dtype of the model arrays.

    Returns:
      The model with 80 identity, 64 expression and 80 albedo components (``std = 1``), the 68
      landmarks, ``face_mask`` from ``frontmask2_idx`` and ``skin_mask`` from ``skinmask``.

    Raises:
      ValueError: naming the file and field for a missing or misshapen variable.
    """
    path = os.fspath(path)
    data = load_mat(path, list(_KEYS))
    mean = require_array(path, data, "meanshape").reshape(-1).astype(np.float64) * DECIMETRES_TO_MM
    num_vertices = mean.size // 3
    triangles = require_array(path, data, "tri")
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ValueError(f"{path}: field 'tri' must be [F, 3], got {triangles.shape}")
    triangles, _ = orient_outward(mean.reshape(-1, 3), triangles.astype(np.int64) - 1)

    def scaled(key, scale):
        return require_array(path, data, key).astype(np.float64) * scale

    face_mask = None
    if "frontmask2_idx" in data:
        index = require_array(path, data, "frontmask2_idx").reshape(-1).astype(np.int64) - 1
        if index.size and (index.min() < 0 or index.max() >= num_vertices):
            raise ValueError(f"{path}: field 'frontmask2_idx' has indices outside [1, V]")
        face_mask = np.zeros(num_vertices)
        face_mask[index] = 1.0
    skin_mask = None
    if "skinmask" in data:
        skin_mask = require_array(path, data, "skinmask").reshape(-1)
    landmark_vertices = None
    if "keypoints" in data:
        landmark_vertices = require_array(path, data, "keypoints").reshape(-1).astype(np.int64) - 1

    return create_model(
        mean,
        triangles,
        identity_basis=scaled("idBase", DECIMETRES_TO_MM),
        expression_basis=scaled("exBase", DECIMETRES_TO_MM),
        albedo_mean=scaled("meantex", COLOUR_SCALE).reshape(-1),
        albedo_basis=scaled("texBase", COLOUR_SCALE),
        landmark_vertices=landmark_vertices,
        face_mask=face_mask,
        skin_mask=skin_mask,
        name=f"deep3d:{os.path.splitext(os.path.basename(path))[0]}",
        units="mm",
        dtype=dtype,
        source=path,
    )
