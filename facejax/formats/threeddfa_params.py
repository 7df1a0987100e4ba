"""3DDFA's fitted 3DMM parameters (300W-LP, AFLW2000-3D) as coefficients of a loaded model.

Every image of 300W-LP and AFLW2000-3D (Zhu et al., CVPR 2016) has a ``.mat`` file with the
parameters of the BFM face 3DDFA's face profiling fitted to it: ``Shape_Para [199, 1]`` and
``Exp_Para [29, 1]``. They are *raw* coefficients of the bases of 3DDFA's BFM, in BFM 2009's
micrometres (face3d's ``generate_vertices`` and 3DDFA's MATLAB code; facts, not code)::

    X_um = mu_shape + mu_exp + w @ Shape_Para + w_exp @ Exp_Para

with ``mu_shape``, ``w`` BFM 2009's ``shapeMU`` and orthonormal ``shapePC`` (3DDFA's
``Model_Shape.mat``, 53,215 vertices: BFM without the inner mouth) and ``mu_exp``, ``w_exp`` the
29 expression components of 3DDFA's ``Model_Expression.mat``. facejax reads a model in
millimetres with coefficients in standard deviations, ``X_mm = mean + basis @ (c * std_mm)``,
so a 3DDFA parameter ``p`` is the facejax coefficient ``c = p * 1e-3 / std_mm`` (= ``p /
std_um``) on the same basis column. Two files a user holds give that basis:

- **3DDFA_V2** (``load_3ddfa``, format ``"3ddfa"``): ``configs/bfm_noneck_v3.pkl`` with
  ``configs/tri.pkl`` and ``configs/param_mean_std_62d_120x120.pkl`` beside it. Its ``w_shp``
  and ``w_exp`` are the *first 40* columns of ``w`` and the *first 10* of ``w_exp`` (its author,
  cleardusk/3DDFA issue #83, for the shape: "the original shape is 159645x199 but I remove the
  last 159 dimensions"; the expression cut is taken to be the same truncation, which the
  landmark check would expose if not), on the 38,365 vertices without the neck; its std are the
  training-set spread of exactly these raw parameters (3DDFA_V2 trains on 300W-LP's fits). The
  remaining 159 shape and 19 expression parameters are dropped: the decoded face is 3DDFA_V2's
  own target, not the exact fitted one (``check_decoded_landmarks`` measures the difference).
- **face3d's ``BFM.mat``** (``load_bfm2009``, format ``"bfm2009"``), made by face3d's
  ``examples/Data/BFM/generate.m`` from BFM 2009's ``01_MorphableModel.mat``, 3DDFA's
  ``Model_Expression.mat`` and ``model_info.mat`` (``trimIndex``, ``kpt_ind``): all 199 shape and
  29 expression components with BFM's ``shapeEV`` and 3DDFA's ``sigma_exp`` as std: the exact
  fit. (``01_MorphableModel.mat`` alone has no expression basis and 53,490 vertices, so it
  cannot hold these parameters.)

A model with more components than the file has (199 / 29), none of one kind, another format or
other units is refused, naming the model: its coefficients would not mean what 3DDFA's do.
"""

from __future__ import annotations

import numpy as np

from facejax.morphable import MorphableModel

MICROMETRES_TO_MM = 1e-3
NUM_SHAPE_PARAMS = 199  # Shape_Para
NUM_EXPRESSION_PARAMS = 29  # Exp_Para
# Formats whose bases are 3DDFA's (the model name is "<format>:<file stem>").
THREEDDFA_FORMATS = ("3ddfa", "bfm2009")
_FILES_HINT = (
    "load 3DDFA_V2's configs/bfm_noneck_v3.pkl (with tri.pkl and "
    "param_mean_std_62d_120x120.pkl beside it) or face3d's BFM.mat (BFM 2009 + 3DDFA's "
    "Model_Expression.mat); see docs/datasets.md"
)


def check_3ddfa_model(model: MorphableModel) -> None:
    """Raises a ValueError naming ``model`` unless it can decode 3DDFA's parameters.

    The model must have been read from 3DDFA's BFM files (format ``"3ddfa"`` or ``"bfm2009"``),
    in millimetres, with ``1..199`` identity and ``1..29`` expression components, all with a
    positive standard deviation.
    """
    fmt = model.name.partition(":")[0]
    problem = None
    if fmt not in THREEDDFA_FORMATS:
        problem = (
            "is not a BFM 2009 / 3DDFA model (not read by load_3ddfa or load_bfm2009; 300W-LP's "
            "Shape_Para / Exp_Para are coefficients of 3DDFA's BFM bases)"
        )
    elif model.units != "mm":
        problem = f"is in {model.units!r}, not millimetres"
    elif not 0 < model.num_identity <= NUM_SHAPE_PARAMS:
        problem = (
            f"has {model.num_identity} identity components; Shape_Para's basis has "
            f"{NUM_SHAPE_PARAMS} (a model may keep its first 1..{NUM_SHAPE_PARAMS})"
        )
    elif not 0 < model.num_expression <= NUM_EXPRESSION_PARAMS:
        problem = (
            f"has {model.num_expression} expression components; Exp_Para's basis has "
            f"{NUM_EXPRESSION_PARAMS} (a model may keep its first 1..{NUM_EXPRESSION_PARAMS})"
        )
    elif not (
        np.all(np.asarray(model.identity_std) > 0) and np.all(np.asarray(model.expression_std) > 0)
    ):
        problem = "has a zero standard deviation"
    if problem is not None:
        raise ValueError(f"model '{model.name}' {problem}: {_FILES_HINT}")


def coefficients_from_3ddfa(
    model: MorphableModel, shape_params, expression_params
) -> tuple[np.ndarray, np.ndarray]:
    """3DDFA's raw ``Shape_Para`` / ``Exp_Para`` as ``model``'s coefficients.

    Args:
      model: a model read from 3DDFA's BFM files (see the module docstring;
        :func:`check_3ddfa_model`).
      shape_params: ``[199]`` (or ``[199, 1]``) ``Shape_Para``, raw, BFM micrometres.
      expression_params: ``[29]`` (or ``[29, 1]``) ``Exp_Para``, raw.

    Returns:
      ``(identity [Ki], expression [Ke])`` float32 in units of ``model``'s standard deviations:
      ``Shape_Para[:Ki] * 1e-3 / identity_std`` and ``Exp_Para[:Ke] * 1e-3 / expression_std``
      (parameters past the model's components are dropped).

    Raises:
      ValueError: naming the model it refuses, or for parameters of the wrong size.
    """
    check_3ddfa_model(model)
    shape = np.asarray(shape_params, dtype=np.float64).reshape(-1)
    expression = np.asarray(expression_params, dtype=np.float64).reshape(-1)
    if shape.size != NUM_SHAPE_PARAMS or expression.size != NUM_EXPRESSION_PARAMS:
        raise ValueError(
            f"3DDFA parameters must be Shape_Para [{NUM_SHAPE_PARAMS}] and Exp_Para "
            f"[{NUM_EXPRESSION_PARAMS}], got [{shape.size}] and [{expression.size}]"
        )
    identity_std = np.asarray(model.identity_std, dtype=np.float64)
    expression_std = np.asarray(model.expression_std, dtype=np.float64)
    identity = shape[: model.num_identity] * MICROMETRES_TO_MM / identity_std
    expression = expression[: model.num_expression] * MICROMETRES_TO_MM / expression_std
    return identity.astype(np.float32), expression.astype(np.float32)
