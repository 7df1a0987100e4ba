"""Basel Face Model 2009 (``PublicMM1/01_MorphableModel.mat``).

Paysan, Knothe, Amberg, Romdhani, Vetter, "A 3D Face Model for Pose and Illumination Invariant
Face Recognition", AVSS 2009. The file (MATLAB v5, or v7.3 if re-saved) holds:

- ``shapeMU`` ``[3V, 1]`` mean shape, xyz interleaved, in **micrometres** (as the BFM
  maintainers confirm in unibas-gravis/basel-face-model-viewer issue #20); ``shapePC``
  ``[3V, 199]`` orthonormal principal components; ``shapeEV`` ``[199, 1]`` their **standard
  deviations** (not variances, despite the name), also in micrometres.
- ``texMU`` ``[3V, 1]``, ``texPC`` ``[3V, 199]``, ``texEV`` ``[199, 1]``: RGB albedo in the
  0..255 scale, orthonormal components and standard deviations.
- ``tl`` ``[F, 3]`` 1-based triangles, wound clockwise seen from outside (eos's converter swaps
  two columns for the same reason); ``segbin``, ``segMM``, ``segMB``: segments (not read).

Loading divides lengths by 1000 (micrometres to millimetres) and colours by 255, keeps the
orthonormal basis and uses the standard deviations as ``*_std``. The model frame is already
y up, z out of the face. BFM 2009 has no expression model and no 68-point landmarks:
``expression=`` adds one from a ``.mat`` file with ``expMU``/``expPC``/``expEV`` or
``mu_exp``/``w_exp``/``sigma_exp`` (same vertices, micrometres, standard deviations), and
``landmarks=`` names a file of 68 vertex indices. The face3d/3DDFA layout (a struct ``model``
with the same keys plus ``expMU``/``expPC``/``expEV``, ``tri`` and 1-based ``kpt_ind``) is read
too.
"""

from __future__ import annotations

import os

import numpy as np

from facejax.formats.load import create_file_model
from facejax.formats.matlab import load_mat, mat_keys, require_array
from facejax.formats.mesh_files import orient_outward
from facejax.morphable import MorphableModel

MICROMETRES_TO_MM = 1e-3
COLOUR_SCALE = 1.0 / 255.0

_KEYS = ("shapeMU", "shapePC", "shapeEV", "texMU", "texPC", "texEV", "tl", "tri", "kpt_ind")
_EXPRESSION_KEYS = (("expMU", "expPC", "expEV"), ("mu_exp", "w_exp", "sigma_exp"))


def _read_bfm_variables(path: str) -> dict:
    keys = mat_keys(path)
    if "shapeMU" in keys:
        return load_mat(path, [k for k in _KEYS + sum(_EXPRESSION_KEYS, ()) if k in keys])
    if "model" in keys:
        # face3d's BFM.mat: every variable inside one struct.
        model = load_mat(path, ["model"])["model"]
        if isinstance(model, dict) and "shapeMU" in model:
            return model
    raise ValueError(f"{path}: no 'shapeMU' variable: not a BFM 2009 file (variables: {keys})")


def _expression(path, data, num_vertices):
    for mean_key, basis_key, std_key in _EXPRESSION_KEYS:
        if basis_key in data:
            mean = require_array(path, data, mean_key).reshape(-1).astype(np.float64)
            basis = require_array(path, data, basis_key).astype(np.float64)
            std = require_array(path, data, std_key).reshape(-1).astype(np.float64)
            if mean.size != 3 * num_vertices or basis.shape[0] != 3 * num_vertices:
                raise ValueError(
                    f"{path}: field '{basis_key}' covers {basis.shape[0] // 3} vertices, the "
                    f"shape model has {num_vertices}"
                )
            return mean, basis, std
    return None


def load_bfm2009(
    path,
    *,
    landmarks=None,
    landmarks_one_based: bool = False,
    expression=None,
    dtype=np.float32,
) -> MorphableModel:
    """Reads a Basel Face Model 2009 ``.mat`` file into millimetres.

    Args:
      path: ``01_MorphableModel.mat`` (v5 or v7.3) or a face3d-style ``BFM.mat``.
      landmarks: optional ``.npy``/``.txt`` file of the 68 iBUG landmark vertex indices.
      landmarks_one_based: whether that file counts vertices from 1 (MATLAB).
      expression: optional ``.mat`` file with an expression model on the same vertices.
      dtype: float dtype of the model arrays.

    Returns:
      The model: ``mean = shapeMU / 1000`` (+ the expression mean), ``identity_basis =
      shapePC``, ``identity_std = shapeEV / 1000``, albedo divided by 255.

    Raises:
      ValueError: naming the file and field for a missing or misshapen variable.
    """
    path = os.fspath(path)
    data = _read_bfm_variables(path)
    mean = require_array(path, data, "shapeMU").reshape(-1).astype(np.float64)
    num_vertices = mean.size // 3
    shape_basis = require_array(path, data, "shapePC")
    shape_std = require_array(path, data, "shapeEV").reshape(-1).astype(np.float64)

    tri_key = "tl" if "tl" in data else "tri"
    triangles = require_array(path, data, tri_key)
    if triangles.ndim == 2 and triangles.shape[1] != 3 and triangles.shape[0] == 3:
        triangles = triangles.T  # face3d stores [3, F]
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ValueError(f"{path}: field '{tri_key}' must be [F, 3], got {triangles.shape}")
    triangles = triangles.astype(np.int64) - 1  # MATLAB indices start at 1

    exp_basis = exp_std = None
    exp_data = data
    if expression is not None:
        expression = os.fspath(expression)
        if not os.path.exists(expression):
            raise FileNotFoundError(f"expression model file not found: {expression}")
        exp_data = load_mat(expression)
    found = _expression(expression or path, exp_data, num_vertices)
    if found is None and expression is not None:
        expected = " or ".join("/".join(keys) for keys in _EXPRESSION_KEYS)
        raise ValueError(f"{expression}: no expression model ({expected})")
    if found is not None:
        exp_mean, exp_basis, exp_std = found
        mean = mean + exp_mean
        exp_std = exp_std * MICROMETRES_TO_MM

    mean_mm = mean * MICROMETRES_TO_MM
    triangles, _ = orient_outward(mean_mm.reshape(-1, 3), triangles)

    landmark_vertices = None
    if landmarks is None and "kpt_ind" in data:
        landmark_vertices = require_array(path, data, "kpt_ind").reshape(-1).astype(np.int64) - 1

    albedo_mean = albedo_basis = albedo_std = None
    if "texMU" in data:
        albedo_mean = (
            require_array(path, data, "texMU").reshape(-1).astype(np.float64) * COLOUR_SCALE
        )
        albedo_basis = require_array(path, data, "texPC")
        albedo_std = (
            require_array(path, data, "texEV").reshape(-1).astype(np.float64) * COLOUR_SCALE
        )

    return create_file_model(
        path,
        "bfm2009",
        mean_mm,
        triangles,
        landmarks=landmarks,
        landmarks_one_based=landmarks_one_based,
        landmark_vertices=landmark_vertices,
        dtype=dtype,
        identity_basis=shape_basis,
        identity_std=shape_std * MICROMETRES_TO_MM,
        expression_basis=exp_basis,
        expression_std=exp_std,
        albedo_mean=albedo_mean,
        albedo_basis=albedo_basis,
        albedo_std=albedo_std,
    )
