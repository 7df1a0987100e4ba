"""Basel Face Model 2017 (``model2017-1_bfm_nomouth.h5``, ``model2017-1_face12_nomouth.h5``).

Gerig et al., "Morphable Face Models - An Open Framework", FG 2018. The file is HDF5 in the
statismo layout (scalismo), read with h5py as stored (row-major, no transposition):

- ``/shape/model/mean`` ``[3V]`` mean shape in **millimetres** (BFM 2009 is in micrometres,
  2017 and 2019 in millimetres: unibas-gravis/basel-face-model-viewer issue #20), xyz interleaved;
  ``/shape/model/pcaBasis`` ``[3V, K]`` **orthonormal** components (unit-norm columns);
  ``/shape/model/pcaVariance`` ``[K]`` their **variances** (std = sqrt);
  ``/shape/model/noiseVariance`` (scalar, the model's isotropic noise: not read).
- ``/shape/representer/points`` ``[3, V]`` reference mesh, ``/shape/representer/cells``
  ``[3, F]`` 0-based triangles, counter-clockwise seen from outside (eos uses them unchanged;
  the loader checks the winding anyway).
- ``/expression/model/{mean,pcaBasis,pcaVariance}``: expression model on the same vertices; its
  mean (the average expression offset) is added to the mean shape, as eos does.
- ``/color/model/{mean,pcaBasis,pcaVariance}``: RGB albedo already in ``[0, 1]``.
- ``/metadata/landmarks/json``: named anatomical points (``center.nose.tip``, ...) as 3D
  coordinates, not the iBUG 68; not read. Pass ``landmarks=`` (a file of 68 vertex indices)
  for landmarks.
"""

from __future__ import annotations

import os

import numpy as np

from facejax.formats.load import create_file_model
from facejax.formats.mesh_files import orient_outward
from facejax.morphable import MorphableModel


def _dataset(path, f, key, required=True):
    if key not in f:
        if required:
            raise ValueError(f"{path}: field '/{key}' missing: not a BFM 2017 (statismo) file")
        return None
    return np.asarray(f[key][()])


def _pca(path, f, group, num_vertices):
    """``(mean [3V], basis [3V, K], std [K])`` of one statismo PCA model, or None."""
    if f"{group}/model/mean" not in f:
        return None
    mean = _dataset(path, f, f"{group}/model/mean").astype(np.float64).reshape(-1)
    basis = _dataset(path, f, f"{group}/model/pcaBasis")
    variance = _dataset(path, f, f"{group}/model/pcaVariance").astype(np.float64).reshape(-1)
    if mean.size != 3 * num_vertices:
        raise ValueError(
            f"{path}: field '/{group}/model/mean' has {mean.size} values, expected "
            f"{3 * num_vertices} (3 per vertex)"
        )
    if basis.ndim != 2 or basis.shape != (3 * num_vertices, variance.size):
        raise ValueError(
            f"{path}: field '/{group}/model/pcaBasis' must be [{3 * num_vertices}, "
            f"{variance.size}], got {basis.shape}"
        )
    if np.any(variance < 0):
        raise ValueError(f"{path}: field '/{group}/model/pcaVariance' has negative variances")
    return mean, basis, np.sqrt(variance)


def load_bfm2017(
    path, *, landmarks=None, landmarks_one_based: bool = False, dtype=np.float32
) -> MorphableModel:
    """Reads a Basel Face Model 2017 ``.h5`` file (already in millimetres).

    Args:
      path: the ``.h5`` file.
      landmarks: optional ``.npy``/``.txt`` file of the 68 iBUG landmark vertex indices.
      landmarks_one_based: whether that file counts vertices from 1.
      dtype: float dtype of the model arrays.

    Returns:
      The model: ``mean = shape mean + expression mean``, orthonormal bases, ``std =
      sqrt(pcaVariance)`` for shape, expression and colour.

    Raises:
      ValueError: naming the file and dataset for a missing or misshapen one.
    """
    import h5py

    path = os.fspath(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not an HDF5 file ({err})") from err
    with f:
        cells = _dataset(path, f, "shape/representer/cells")
        if cells.ndim != 2 or 3 not in cells.shape:
            raise ValueError(f"{path}: field '/shape/representer/cells' must be [3, F]")
        triangles = cells.T if cells.shape[0] == 3 else cells
        shape_mean = _dataset(path, f, "shape/model/mean").reshape(-1)
        num_vertices = shape_mean.size // 3
        mean, shape_basis, shape_std = _pca(path, f, "shape", num_vertices)
        expression = _pca(path, f, "expression", num_vertices)
        color = _pca(path, f, "color", num_vertices)

    exp_basis = exp_std = None
    if expression is not None:
        exp_mean, exp_basis, exp_std = expression
        mean = mean + exp_mean
    triangles, _ = orient_outward(mean.reshape(-1, 3), triangles.astype(np.int64))
    albedo_mean, albedo_basis, albedo_std = color if color is not None else (None, None, None)
    return create_file_model(
        path,
        "bfm2017",
        mean,
        triangles,
        landmarks=landmarks,
        landmarks_one_based=landmarks_one_based,
        dtype=dtype,
        identity_basis=shape_basis,
        identity_std=shape_std,
        expression_basis=exp_basis,
        expression_std=exp_std,
        albedo_mean=albedo_mean,
        albedo_basis=albedo_basis,
        albedo_std=albedo_std,
    )
