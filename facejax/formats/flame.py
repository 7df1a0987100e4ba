"""FLAME head model (``generic_model.pkl`` of FLAME 2017/2019/2020, ``flame2023.pkl``).

Li, Bolkart, Black, Li, Romero, "Learning a model of facial shape and expression from 4D scans",
SIGGRAPH Asia 2017. The user downloads the model after registering at https://flame.is.tue.mpg.de
(its licence forbids redistribution); facejax never downloads it.

The file is a Python 2 pickle of a dict, written with chumpy and scipy. It is read through
:mod:`facejax.formats.restricted_pickle`, so neither chumpy nor any code from the file runs:

- ``v_template`` ``[5023, 3]`` float64 template (mean) mesh, in **metres**;
- ``shapedirs`` ``[5023, 3, 400]`` (a ``chumpy.ch.Ch`` in the 2020 file): 300 identity
  components, then 100 expression components, **already multiplied by their standard
  deviations** (FLAME's authors: "the shape and expression basis are multiplied by the standard
  deviation", so a coefficient of 1 is one standard deviation: ``*_std = 1``);
- ``posedirs`` ``[5023, 3, 36]`` pose correctives, driven by ``vec(R_j - I)`` of the 4 non-root
  joints (see :mod:`facejax.morphable.skinning`);
- ``J_regressor`` ``[5, 5023]`` ``scipy.sparse.csc_matrix``: joints from the shaped vertices;
- ``weights`` ``[5023, 5]`` skinning weights; ``kintree_table`` ``[2, 5]``: row 0 the parent of
  each joint (the root's is ``2**32 - 1``), row 1 the joint ids. Joints: global, neck, jaw, left
  eye, right eye (FLAME's 15-number pose is these five axis-angle rotations in this order);
- ``f`` ``[9976, 3]`` uint triangles, 0-based, counter-clockwise seen from outside (checked with
  :func:`~facejax.formats.mesh_files.orient_outward` and flipped if a file disagrees);
- ``J``, ``weights_prior``, ``bs_style``, ``bs_type``, ... are not used.

Loading multiplies every length (``v_template``, ``shapedirs``, ``posedirs``) by 1000 (metres to
millimetres; linear blend skinning is scale-equivariant, so posing in millimetres is posing in
metres times 1000). The frame is FLAME's: y up, z out of the face. There is no albedo in the file:
the model gets facejax's neutral grey albedo (FLAME's texture space is a separate download).

Landmarks (optional, ``landmarks_path``):

- DECA's ``landmark_embedding.npy`` (a pickled dict; read with torch objects made inert):
  ``full_lmk_faces_idx`` ``[1, 68]`` triangle indices and ``full_lmk_bary_coords``
  ``[1, 68, 3]`` give the 68 iBUG landmarks. Without the ``full_*`` keys, its
  ``static_lmk_faces_idx`` ``[51]`` / ``static_lmk_bary_coords`` ``[51, 3]`` are used.
- FLAME's ``flame_static_embedding.pkl``: ``lmk_face_idx`` ``[51]`` and ``lmk_b_coords``
  ``[51, 3]``.

The 51-point embeddings are iBUG points 18-68 (0-based 17..67: brows, nose, eyes, mouth; no jaw
contour, which FLAME defines per pose with a separate dynamic embedding). The model then records
exactly those 51 landmarks (``num_landmarks == 51``), in that order; it does not invent the jaw.
"""

from __future__ import annotations

import os

import numpy as np

from facejax.formats.mesh_files import orient_outward
from facejax.formats.restricted_pickle import load_numpy_object, load_pickle, to_numpy
from facejax.morphable import MorphableModel, Skinning, create_model

METRES_TO_MM = 1e3
NUM_IDENTITY = 300
FLAME_JOINT_NAMES = ("global", "neck", "jaw", "left_eye", "right_eye")


def _field(path, data: dict, key: str, ndim: int | None = None) -> np.ndarray:
    if key not in data:
        raise ValueError(f"{path}: field '{key}' missing (keys: {sorted(data)})")
    value = to_numpy(data[key], source=path)
    if not np.issubdtype(value.dtype, np.number):
        raise ValueError(f"{path}: field '{key}' is not a numeric array")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{path}: field '{key}' must have {ndim} dimensions, got {value.shape}")
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{path}: field '{key}' contains NaN or infinite values")
    return value


def _parents(path, kintree: np.ndarray) -> np.ndarray:
    """``[J]`` parent indices (root -1) from SMPL/FLAME's ``kintree_table``."""
    if kintree.ndim != 2 or kintree.shape[0] != 2:
        raise ValueError(f"{path}: field 'kintree_table' must be [2, J], got {kintree.shape}")
    ids = kintree[1].astype(np.int64)
    column = {int(joint): i for i, joint in enumerate(ids)}
    parents = np.full(ids.size, -1, dtype=np.int64)
    for i in range(1, ids.size):
        parent = int(kintree[0, i])
        if parent not in column or column[parent] >= i:
            raise ValueError(
                f"{path}: field 'kintree_table': joint {int(ids[i])} has parent {parent}, which "
                "is not an earlier joint"
            )
        parents[i] = column[parent]
    return parents


def _read_landmarks(path) -> tuple[np.ndarray, np.ndarray]:
    """(triangle index [L], barycentric [L, 3]) from a DECA or FLAME landmark embedding."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"FLAME landmark embedding not found: {path}")
    if path.lower().endswith(".npy"):
        data = load_numpy_object(path, opaque_modules=("torch",))
    else:
        data = load_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict landmark embedding, got {type(data).__name__}")
    for faces_key, bary_key in (
        ("full_lmk_faces_idx", "full_lmk_bary_coords"),
        ("static_lmk_faces_idx", "static_lmk_bary_coords"),
        ("lmk_face_idx", "lmk_b_coords"),
    ):
        if faces_key in data and bary_key in data:
            faces = _field(path, data, faces_key).reshape(-1)
            bary = _field(path, data, bary_key).reshape(-1, 3)
            if faces.size != bary.shape[0]:
                raise ValueError(
                    f"{path}: {faces.size} landmark triangles but {bary.shape[0]} barycentric rows"
                )
            if not np.all(np.equal(np.mod(faces, 1), 0)):
                raise ValueError(f"{path}: field '{faces_key}' must hold integer triangle indices")
            return faces.astype(np.int64), bary.astype(np.float64)
    raise ValueError(
        f"{path}: no landmark embedding: expected DECA's full_lmk_faces_idx/full_lmk_bary_coords "
        f"or FLAME's lmk_face_idx/lmk_b_coords (keys: {sorted(data)})"
    )


def load_flame(
    path,
    landmarks_path=None,
    *,
    num_identity: int = NUM_IDENTITY,
    dtype=np.float32,
) -> MorphableModel:
    """Reads a FLAME ``generic_model.pkl`` into an articulated model in millimetres.

    Args:
      path: the FLAME pickle (chumpy objects and scipy sparse matrices are read without chumpy).
      landmarks_path: optional DECA ``landmark_embedding.npy`` (68 landmarks) or FLAME
        ``flame_static_embedding.pkl`` (51 landmarks, see the module docstring).
      num_identity: how many leading ``shapedirs`` components are identity (FLAME: 300); the
        rest are expression.
      dtype: float dtype of the model arrays.

    Returns:
      The model: ``mean = 1000 v_template``, identity and expression bases from ``shapedirs``
      (times 1000) with unit standard deviations, neutral albedo, and ``skinning`` (joint
      regressor, weights, pose correctives times 1000, parents) for
      :func:`facejax.morphable.skinning.articulate`.

    Raises:
      RefusedClassError: if the pickle names a class outside the allow-list.
      ValueError: naming the file and field for a missing or misshapen field.
    """
    path = os.fspath(path)
    data = load_pickle(path, allow_chumpy=True)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict (FLAME model pickle), got {type(data).__name__}")
    template = _field(path, data, "v_template", ndim=2).astype(np.float64)
    num_vertices = template.shape[0]
    shapedirs = _field(path, data, "shapedirs", ndim=3).astype(np.float64)
    posedirs = _field(path, data, "posedirs", ndim=3).astype(np.float64)
    regressor = _field(path, data, "J_regressor", ndim=2).astype(np.float64)
    weights = _field(path, data, "weights", ndim=2).astype(np.float64)
    parents = _parents(path, _field(path, data, "kintree_table"))
    num_joints = parents.size

    if shapedirs.shape[:2] != (num_vertices, 3):
        raise ValueError(f"{path}: field 'shapedirs' must be [V={num_vertices}, 3, K]")
    if not 0 < num_identity <= shapedirs.shape[2]:
        raise ValueError(
            f"{path}: field 'shapedirs' has {shapedirs.shape[2]} components, fewer than the "
            f"{num_identity} identity components asked for (num_identity=)"
        )
    expected = {
        "posedirs": (posedirs.shape, (num_vertices, 3, 9 * (num_joints - 1))),
        "J_regressor": (regressor.shape, (num_joints, num_vertices)),
        "weights": (weights.shape, (num_vertices, num_joints)),
    }
    for key, (got, want) in expected.items():
        if got != want:
            raise ValueError(f"{path}: field '{key}' must have shape {list(want)}, got {got}")
    if not np.allclose(weights.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(f"{path}: field 'weights': rows must sum to 1 (skinning weights)")

    mean = template * METRES_TO_MM
    triangles = _field(path, data, "f", ndim=2)
    triangles, flipped = orient_outward(mean, triangles.astype(np.int64))

    landmark_triangles = landmark_barycentric = None
    if landmarks_path is not None:
        landmark_triangles, landmark_barycentric = _read_landmarks(landmarks_path)
        if landmark_triangles.size and (
            landmark_triangles.min() < 0 or landmark_triangles.max() >= triangles.shape[0]
        ):
            raise ValueError(
                f"{os.fspath(landmarks_path)}: landmark triangle indices outside the "
                f"{triangles.shape[0]} triangles of {path} (an embedding for another mesh?)"
            )
        if flipped:  # the barycentric weights follow the swapped corners
            landmark_barycentric = landmark_barycentric[:, [0, 2, 1]]

    names = FLAME_JOINT_NAMES if num_joints == len(FLAME_JOINT_NAMES) else ()
    skinning = Skinning(
        joint_regressor=regressor.astype(dtype),
        weights=weights.astype(dtype),
        pose_correctives=(posedirs * METRES_TO_MM).astype(dtype),
        parents=parents.astype(np.int32),
        joint_names=names or tuple(f"joint_{i}" for i in range(num_joints)),
    )
    basis = shapedirs * METRES_TO_MM
    return create_model(
        mean,
        triangles,
        identity_basis=basis[:, :, :num_identity],
        expression_basis=basis[:, :, num_identity:],
        landmark_triangles=landmark_triangles,
        landmark_barycentric=landmark_barycentric,
        skinning=skinning,
        name=f"flame:{os.path.splitext(os.path.basename(path))[0]}",
        units="mm",
        dtype=dtype,
        source=path,
    )
