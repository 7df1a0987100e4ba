"""eos morphable models (``.bin``: cereal binary archives of ``eos::morphablemodel``).

Huber et al., "A Multiresolution 3D Morphable Face Model and Fitting Framework", VISAPP 2016;
https://github.com/patrikhuber/eos. A cereal archive has no self-describing layout, so it is
read through eos's own Python bindings (``pip install eos-py``, the ``facejax[eos]`` extra).

What a model holds, through the bindings:

- shape ``PcaModel``: ``get_mean()`` ``[3V]``, ``get_orthonormal_pca_basis()`` ``[3V, K]``,
  ``get_eigenvalues()`` ``[K]`` (**variances**: std = sqrt), ``get_triangle_list()`` 0-based,
  counter-clockwise (OpenGL);
- colour ``PcaModel`` (optional) in ``[0, 1]``, same conventions;
- expression: a ``PcaModel`` (BFM 2017 conversions; its mean is added to the shape mean, as
  ``MorphableModel.get_mean()`` does) or a list of ``Blendshape`` (name, deformation ``[3V]``),
  linear with coefficients as given (``std = 1``, names kept as ``expression_names``).
  Blendshapes shipped in a separate file (``expression_blendshapes_3448.bin``) are added with
  ``blendshapes=``;
- ``get_landmark_definitions()``: named vertices (not the iBUG 68; iBUG mappings live in
  separate ``ibug_to_*.txt`` files and cover only part of the 68 points): pass
  ``landmarks=`` with that eos mapping (TOML, :mod:`facejax.formats.eos_landmarks`; the points
  it leaves out get stand-in vertices and are fitted at weight 0) or a file of 68 vertex
  indices. The jaw points slide along eos's ``*_model_contours.json`` in a fit
  (``facejax.fitting.landmark_definition``, ``facejax fit --contour``).

Units: eos does not record them. The Surrey Face Model and converted BFM 2017 are in
millimetres; ``convert-bfm2009-to-eos.py`` keeps BFM 2009's micrometres. ``scale=None`` infers
the unit from the size of the mean face (see :func:`infer_length_scale`).
"""

from __future__ import annotations

import os

import numpy as np

from facejax.formats.load import create_file_model
from facejax.formats.mesh_files import orient_outward
from facejax.morphable import MorphableModel

_INSTALL_HINT = (
    "reading eos .bin models needs eos's Python bindings: pip install 'facejax[eos]' "
    "(or pip install eos-py)"
)

# (smallest, largest) plausible width of a face or head in each unit, and the factor to mm.
_UNIT_RANGES = (
    ("mm", 50.0, 1000.0, 1.0),
    ("micrometres", 5.0e4, 1.0e6, 1.0e-3),
    ("metres", 0.05, 1.0, 1.0e3),
)


def _import_eos():
    try:
        import eos
    except ImportError as err:
        raise ImportError(_INSTALL_HINT) from err
    return eos


def infer_length_scale(mean_shape, source: str = "<model>") -> float:
    """The factor that brings a mean face to millimetres, judged from its size.

    A face or head is 50..1000 wide in millimetres, 5e4..1e6 in micrometres and 0.05..1 in
    metres (width = the largest extent along x, y or z).

    Raises:
      ValueError: naming ``source`` when the size fits none of these; pass ``scale=``.
    """
    extent = float(np.ptp(np.asarray(mean_shape).reshape(-1, 3), axis=0).max())
    for _, low, high, factor in _UNIT_RANGES:
        if low <= extent <= high:
            return factor
    raise ValueError(
        f"{source}: cannot tell the length unit of a mean face {extent:g} wide; pass scale= "
        "(the factor to millimetres, e.g. 1e-3 for micrometres)"
    )


def _pca(model):
    mean = np.asarray(model.get_mean(), dtype=np.float64).reshape(-1)
    basis = np.asarray(model.get_orthonormal_pca_basis(), dtype=np.float64)
    variance = np.asarray(model.get_eigenvalues(), dtype=np.float64).reshape(-1)
    return mean, basis.reshape(mean.size, -1), np.sqrt(np.maximum(variance, 0.0))


def _blendshapes(blendshapes, num_values, source):
    names = tuple(b.name for b in blendshapes)
    deformations = [np.asarray(b.deformation, dtype=np.float64).reshape(-1) for b in blendshapes]
    for name, d in zip(names, deformations, strict=True):
        if d.size != num_values:
            raise ValueError(
                f"{source}: blendshape '{name}' has {d.size} values, the shape has {num_values}"
            )
    return np.stack(deformations, axis=-1), names


def load_eos(
    path,
    *,
    blendshapes=None,
    landmarks=None,
    landmarks_one_based: bool = False,
    scale: float | None = None,
    dtype=np.float32,
) -> MorphableModel:
    """Reads an eos ``.bin`` morphable model.

    Args:
      path: the model file (``sfm_shape_3448.bin``, ``bfm2017-1_bfm_nomouth.bin``, ...).
      blendshapes: optional eos blendshapes file; replaces the model's own expression part.
      landmarks: optional eos landmark mapping (``ibug_to_sfm.txt``) or ``.npy``/``.txt`` file
        of the 68 iBUG landmark vertex indices.
      landmarks_one_based: whether that file counts vertices from 1.
      scale: factor from the file's length unit to millimetres (default: inferred).
      dtype: float dtype of the model arrays.

    Returns:
      The model: orthonormal bases with ``std = sqrt(eigenvalue)`` (blendshapes: ``std = 1``).

    Raises:
      ImportError: if eos-py is not installed (with the command that installs it).
      ValueError: naming the file for an unreadable or inconsistent model.
    """
    path = os.fspath(path)
    eos = _import_eos()
    try:
        eos_model = eos.morphablemodel.load_model(path)
    except Exception as err:  # cereal errors surface as RuntimeError or worse
        raise ValueError(f"{path}: not a readable eos model ({err})") from err

    mean, shape_basis, shape_std = _pca(eos_model.get_shape_model())
    triangles = np.asarray(eos_model.get_shape_model().get_triangle_list(), dtype=np.int64)

    if scale is None:
        scale = infer_length_scale(mean, path)

    exp_basis = exp_std = None
    expression_names: tuple[str, ...] = ()
    if blendshapes is not None:
        blendshapes = os.fspath(blendshapes)
        if not os.path.exists(blendshapes):
            raise FileNotFoundError(f"blendshapes file not found: {blendshapes}")
        try:
            shapes = eos.morphablemodel.load_blendshapes(blendshapes)
        except Exception as err:
            raise ValueError(f"{blendshapes}: not a readable eos blendshapes file ({err})") from err
        exp_basis, expression_names = _blendshapes(shapes, mean.size, blendshapes)
        exp_basis = exp_basis * scale
    elif eos_model.has_separate_expression_model():
        expression = eos_model.get_expression_model()
        if isinstance(expression, list):
            exp_basis, expression_names = _blendshapes(expression, mean.size, path)
            # Blendshape weights are unitless: the lengths are in the deformations.
            exp_basis = exp_basis * scale
        else:
            exp_mean, exp_basis, exp_std = _pca(expression)
            mean = mean + exp_mean
            exp_std = exp_std * scale

    triangles, _ = orient_outward(mean.reshape(-1, 3), triangles)

    albedo_mean = albedo_basis = albedo_std = None
    if eos_model.has_color_model():
        albedo_mean, albedo_basis, albedo_std = _pca(eos_model.get_color_model())
        if albedo_basis.shape[1] == 0 and albedo_mean.size == 0:
            albedo_mean = albedo_basis = albedo_std = None

    return create_file_model(
        path,
        "eos",
        mean * scale,
        triangles,
        landmarks=landmarks,
        landmarks_one_based=landmarks_one_based,
        dtype=dtype,
        identity_basis=shape_basis,
        identity_std=shape_std * scale,
        expression_basis=exp_basis,
        expression_std=exp_std,
        albedo_mean=albedo_mean,
        albedo_basis=albedo_basis,
        albedo_std=albedo_std,
        expression_names=expression_names,
    )
