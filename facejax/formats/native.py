"""The native facejax model file: one ``.npz`` of plain arrays, readable without pickle.

Every array field of :class:`~facejax.morphable.MorphableModel` is stored under its own name
(``mean_shape``, ``identity_basis``, ...; ``face_mask``/``skin_mask`` only when present; the
skinning arrays as ``skinning_joint_regressor``, ``skinning_weights``,
``skinning_pose_correctives``, ``skinning_parents``). The static fields and a format version go
in ``metadata``: a UTF-8 JSON document stored as a uint8 array. Arrays are saved in the model's
units and dtype, so a model converted once (``facejax convert``) loads without any conversion.

Beside the model, ``landmark_defined`` (``[L]`` bool, only when some landmark is not defined)
keeps which landmarks the model's definition gives a place: an eos mapping leaves some of the
68 out, the model still has a stand-in vertex for them, and a fit must weigh them 0
(:func:`read_landmark_defined`, ``facejax.fitting.landmark_definition``).
"""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np

from facejax.formats.atomic_files import atomic_write
from facejax.morphable import MorphableModel, Skinning, create_model

FORMAT_NAME = "facejax.MorphableModel"
FORMAT_VERSION = 1

_ARRAY_FIELDS = (
    "mean_shape",
    "identity_basis",
    "identity_std",
    "expression_basis",
    "expression_std",
    "albedo_mean",
    "albedo_basis",
    "albedo_std",
    "triangles",
    "landmark_triangles",
    "landmark_barycentric",
)
_OPTIONAL_FIELDS = ("face_mask", "skin_mask")
LANDMARK_DEFINED = "landmark_defined"
_SKINNING_FIELDS = ("joint_regressor", "weights", "pose_correctives", "parents")


def save_model(model: MorphableModel, path, *, landmark_defined=None) -> None:
    """Writes ``model`` to ``path`` as a native facejax ``.npz`` (no pickled objects).

    Args:
      model: any :class:`MorphableModel` (numpy or jax leaves).
      path: output file; written as given (no ``.npz`` is appended).
      landmark_defined: ``[L]`` bool, the landmarks the model defines (an eos mapping's
        ``defined``); stored when some is ``False`` (module docstring). ``None``: all defined.

    Raises:
      ValueError: for a ``landmark_defined`` of another length than the model's landmarks.
    """
    arrays = {name: np.asarray(getattr(model, name)) for name in _ARRAY_FIELDS}
    if landmark_defined is not None:
        defined = np.asarray(landmark_defined, bool)
        if defined.shape != (model.num_landmarks,):
            raise ValueError(
                f"{path}: landmark_defined must be [{model.num_landmarks}] (the model's "
                f"landmarks), got shape {defined.shape}"
            )
        if not defined.all():
            arrays[LANDMARK_DEFINED] = defined
    for name in _OPTIONAL_FIELDS:
        if getattr(model, name) is not None:
            arrays[name] = np.asarray(getattr(model, name))
    skinning = None
    if model.skinning is not None:
        for name in _SKINNING_FIELDS:
            arrays[f"skinning_{name}"] = np.asarray(getattr(model.skinning, name))
        skinning = {"joint_names": list(model.skinning.joint_names)}
    metadata = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "name": model.name,
        "units": model.units,
        "expression_names": list(model.expression_names),
        "skinning": skinning,
    }
    arrays["metadata"] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    # A file handle keeps numpy from appending ".npz" to a path that lacks it.
    # Whole or not at all: a failed --force overwrite keeps the previous model.
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        # An empty file is an EOFError ("No data left in file").
        raise ValueError(f"{path}: not a facejax .npz model file ({err})") from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: not a facejax .npz model file (a single .npy array)")
    arrays = {}
    with npz:
        for key in npz.files:
            try:
                arrays[key] = npz[key]
            except ValueError as err:
                # numpy refuses object arrays without allow_pickle; so do we: unpickling a
                # downloaded file can run arbitrary code.
                raise ValueError(
                    f"{path}: field '{key}' is a pickled object array; facejax model files "
                    "hold plain numeric arrays only, and pickles are not loaded"
                ) from err
    return arrays


def read_landmark_defined(path) -> np.ndarray:
    """``[L]`` bool: the landmarks the native model file at ``path`` defines (all of them unless
    :func:`save_model` stored ``landmark_defined``). Reads only the two small arrays it needs.

    Raises:
      ValueError: naming the file, when it is not a native model or the mask does not match the
        model's landmarks.
    """
    path = os.fspath(path)
    try:
        npz = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise ValueError(f"{path}: not a facejax .npz model file ({err})") from err
    if not isinstance(npz, np.lib.npyio.NpzFile) or "landmark_triangles" not in npz.files:
        raise ValueError(f"{path}: not a facejax .npz model file (no 'landmark_triangles')")
    with npz:
        num_landmarks = npz["landmark_triangles"].shape[0]
        if LANDMARK_DEFINED not in npz.files:
            return np.ones(num_landmarks, bool)
        defined = npz[LANDMARK_DEFINED]
    if defined.dtype != bool or defined.shape != (num_landmarks,):
        raise ValueError(
            f"{path}: field '{LANDMARK_DEFINED}' must be [{num_landmarks}] bool, got "
            f"{defined.dtype} {defined.shape}"
        )
    return defined


def _read_metadata(path: str, arrays) -> dict:
    if "metadata" not in arrays:
        raise ValueError(f"{path}: no 'metadata' field: not a facejax model file")
    try:
        metadata = json.loads(arrays["metadata"].astype(np.uint8).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: field 'metadata' is not UTF-8 JSON ({err})") from err
    if metadata.get("format") != FORMAT_NAME:
        raise ValueError(f"{path}: metadata format is {metadata.get('format')!r}, not a model")
    if metadata.get("version", 0) > FORMAT_VERSION:
        raise ValueError(
            f"{path}: written by a newer facejax (format version {metadata['version']}, "
            f"this one reads up to {FORMAT_VERSION})"
        )
    return metadata


def _read_skinning(path: str, arrays, metadata, num_vertices: int, dtype) -> Skinning | None:
    if metadata.get("skinning") is None:
        return None

    def field(name):
        key = f"skinning_{name}"
        if key not in arrays:
            raise ValueError(f"{path}: field '{key}' is missing")
        return arrays[key]

    parents = field("parents")
    num_joints = parents.shape[0] if parents.ndim == 1 else -1
    expected = {
        "joint_regressor": (num_joints, num_vertices),
        "weights": (num_vertices, num_joints),
        "pose_correctives": (num_vertices, 3, 9 * (num_joints - 1)),
        "parents": (num_joints,),
    }
    for name, shape in expected.items():
        if field(name).shape != shape:
            raise ValueError(
                f"{path}: field 'skinning_{name}' must have shape {shape}, got {field(name).shape}"
            )
    if not np.issubdtype(parents.dtype, np.integer):
        raise ValueError(f"{path}: field 'skinning_parents' must hold integers")
    joint_names = tuple(metadata["skinning"].get("joint_names", ()))
    if joint_names and len(joint_names) != num_joints:
        raise ValueError(f"{path}: {len(joint_names)} joint names for {num_joints} joints")
    return Skinning(
        joint_regressor=field("joint_regressor").astype(dtype),
        weights=field("weights").astype(dtype),
        pose_correctives=field("pose_correctives").astype(dtype),
        parents=parents.astype(np.int32),
        joint_names=joint_names,
    )


def load_native(path, dtype=None) -> MorphableModel:
    """Reads a model written by :func:`save_model`.

    Args:
      path: the ``.npz`` file.
      dtype: float dtype of the returned arrays (default: as stored).

    Returns:
      The model, with numpy leaves.

    Raises:
      FileNotFoundError: if the file does not exist.
      ValueError: naming the file and the field, for a missing or misshapen field, a pickled
      object array, or a file from a newer format version.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"model file not found: {path}")
    arrays = _read_arrays(path)
    metadata = _read_metadata(path, arrays)
    missing = [name for name in _ARRAY_FIELDS if name not in arrays]
    if missing:
        raise ValueError(f"{path}: field(s) {missing} missing")
    dtype = arrays["mean_shape"].dtype if dtype is None else np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"{path}: field 'mean_shape' must be floating point, got {dtype}")
    for name in ("identity", "expression", "albedo"):
        basis = arrays[f"{name}_basis"]
        if basis.ndim != 3:
            raise ValueError(f"{path}: field '{name}_basis' must be [V, 3, K], got {basis.shape}")
    model = create_model(
        arrays["mean_shape"],
        arrays["triangles"],
        identity_basis=arrays["identity_basis"],
        identity_std=arrays["identity_std"],
        expression_basis=arrays["expression_basis"],
        expression_std=arrays["expression_std"],
        albedo_mean=arrays["albedo_mean"],
        albedo_basis=arrays["albedo_basis"],
        albedo_std=arrays["albedo_std"],
        landmark_triangles=arrays["landmark_triangles"],
        landmark_barycentric=arrays["landmark_barycentric"],
        face_mask=arrays.get("face_mask"),
        skin_mask=arrays.get("skin_mask"),
        name=str(metadata.get("name", "model")),
        units=str(metadata.get("units", "mm")),
        expression_names=tuple(metadata.get("expression_names", ())),
        dtype=dtype,
        source=path,
    )
    skinning = _read_skinning(path, arrays, metadata, model.num_vertices, dtype)
    return model.replace(skinning=skinning)
