"""3DDFA / 3DDFA_V2 morphable model (``configs/bfm_noneck_v3.pkl`` of cleardusk/3DDFA_V2).

Guo et al., "Towards Fast, Accurate and Stable 3D Dense Face Alignment", ECCV 2020; the model is
the Basel Face Model 2009 (shape, ``Paysan et al., AVSS 2009``) plus Zhu et al.'s FaceWarehouse
expression basis, cropped to the face (38,365 vertices, no neck) and cut to 40 shape and 10
expression components. The user gets it from the 3DDFA_V2 repository's ``configs/`` folder
(academic use, see the repository's ``bfm/readme.md``); facejax never downloads it.

The pickle (Python 3, a dict) holds, as 3DDFA_V2's ``bfm/bfm.py`` reads it:

- ``u`` ``[3V, 1]`` float mean shape (BFM mean + expression mean), xyz interleaved per vertex
  (3DDFA reshapes ``u + w_shp @ alpha + w_exp @ beta`` with ``reshape(3, -1, order='F')``);
- ``w_shp`` ``[3V, 40]``: BFM 2009's orthonormal shape components (unit columns before the
  neck was cut), so shape coefficients ``alpha`` carry the length unit;
- ``w_exp`` ``[3V, 10]``: expression components with their scale built in (``beta`` ~ 1);
- ``keypoints`` ``[204]`` int: the 68 iBUG landmarks as indices into the flattened ``u``, three
  per landmark (x, y, z): landmark ``k`` is vertex ``keypoints[3k] // 3``.
- Older files (``bfm_noneck.pkl``) also hold ``tri``; 3DDFA v1 stored ``u_shp`` + ``u_exp``
  instead of ``u`` (both read).

Lengths are BFM 2009 **micrometres** (300W-LP's ``Pose_Para`` scale and 3DDFA's pose ``R`` carry
~1e-3 to bring them to pixels); loading divides by 1000. The frame is BFM's: y up, z out of the
face.

Triangles live in a separate file: 3DDFA_V2's ``configs/tri.pkl``, a ``[3, F]`` array of
**0-based** indices (3DDFA_V2 transposes it and passes it straight to its C renderer; its OBJ
writer adds 1), or 3DDFA v1's ``visualize/tri.mat`` (variable ``tri``, ``[3, F]``, **1-based**).
The index base is taken from the data when it is unambiguous (an index ``0`` or ``V`` occurs),
else from the file type; the winding is made counter-clockwise from outside with
:func:`~facejax.formats.mesh_files.orient_outward` (3DDFA's own OBJ writer reverses it).

Coefficient scale: the pickle has no standard deviations. 3DDFA_V2 ships them, as the empirical
standard deviations of its training parameters (300W-LP fits), in
``configs/param_mean_std_62d_120x120.pkl`` (``{'mean': [62], 'std': [62]}``: 12 pose numbers,
then 40 shape, then 10 expression). ``load_3ddfa`` reads that file (given, or found next to the
model) and uses ``std[12:52]`` and ``std[52:62]`` (divided by 1000, in mm) as ``identity_std``
and ``expression_std``, so a facejax coefficient of 1 is one training-set standard deviation and
3DDFA's ``alpha = coefficient * std``. Without it the standard deviations are ``1e-3`` (the
millimetre conversion alone), a coefficient is then 3DDFA's raw ``alpha``/``beta``, and a
warning says so. The mean parameters of that file (``mean[12:]``, not zero) are not used: the
model's mean face is ``u``.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from facejax.formats.landmark_files import read_vertex_indices
from facejax.formats.mesh_files import orient_outward
from facejax.formats.restricted_pickle import load_pickle, to_numpy
from facejax.morphable import MorphableModel, create_model

MICROMETRES_TO_MM = 1e-3
NUM_POSE_PARAMS = 12  # 3DDFA's flattened 3x4 [R | t] pose
PARAM_STATS_FILE = "param_mean_std_62d_120x120.pkl"
TRIANGLE_FILES = ("tri.pkl", "tri.mat")
# 3DDFA_V2's _parse_param: parameter count -> (shape, expression) components.
_PARAM_LAYOUTS = {62: (40, 10), 72: (40, 20), 141: (100, 29)}


def _field(path, data: dict, key: str) -> np.ndarray:
    if key not in data:
        raise ValueError(f"{path}: field '{key}' missing (keys: {sorted(data)})")
    value = to_numpy(data[key], source=path)
    if not np.issubdtype(value.dtype, np.number):
        raise ValueError(f"{path}: field '{key}' is not a numeric array")
    return value


def _read_triangle_file(path) -> tuple[np.ndarray, int]:
    """(raw triangles, index base the file type implies) from ``tri.pkl`` or ``tri.mat``."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"3DDFA triangle file not found: {path}")
    if path.lower().endswith(".mat"):
        from facejax.formats.matlab import load_mat, require_array

        return require_array(path, load_mat(path, ["tri"]), "tri"), 1
    value = load_pickle(path)
    if isinstance(value, dict):
        value = _field(path, value, "tri")
    return to_numpy(value, source=path), 0


def _triangles(tri_path, model_path, data, num_vertices) -> np.ndarray:
    """``[F, 3]`` 0-based triangles from a tri file or the model's own ``tri``."""
    if tri_path is None and "tri" in data:
        raw, default_base, source = _field(model_path, data, "tri"), 0, model_path
    else:
        if tri_path is None:
            folder = os.path.dirname(model_path)
            found = [os.path.join(folder, n) for n in TRIANGLE_FILES]
            found = [p for p in found if os.path.exists(p)]
            if not found:
                raise ValueError(
                    f"{model_path}: no triangles: the pickle has no 'tri' and there is no "
                    f"{' or '.join(TRIANGLE_FILES)} beside it; pass triangles_path= "
                    "(3DDFA_V2's configs/tri.pkl)"
                )
            tri_path = found[0]
        source = os.fspath(tri_path)
        raw, default_base = _read_triangle_file(source)
    raw = np.asarray(raw)
    if raw.ndim == 2 and raw.shape[0] == 3 and raw.shape[1] != 3:
        raw = raw.T  # 3DDFA stores [3, F]
    if raw.ndim != 2 or raw.shape[1] != 3:
        raise ValueError(f"{source}: triangles must be [3, F] or [F, 3], got {raw.shape}")
    if not np.all(np.equal(np.mod(raw, 1), 0)):
        raise ValueError(f"{source}: triangles must hold integer vertex indices")
    tris = raw.astype(np.int64)
    lo, hi = int(tris.min()), int(tris.max())
    if lo == 0:
        base = 0
    elif hi == num_vertices:
        base = 1
    else:
        base = default_base
    tris = tris - base
    if tris.min() < 0 or tris.max() >= num_vertices:
        raise ValueError(
            f"{source}: triangle indices [{lo}, {hi}] do not fit the model's {num_vertices} "
            "vertices (is this the triangle file of another model?)"
        )
    return tris


def _landmark_vertices(path, data, num_vertices) -> np.ndarray | None:
    if "keypoints" not in data:
        return None
    flat = _field(path, data, "keypoints").reshape(-1)
    if not np.all(np.equal(np.mod(flat, 1), 0)):
        raise ValueError(f"{path}: field 'keypoints' must hold integer indices")
    flat = flat.astype(np.int64)
    x = flat[0::3]
    ok = (
        flat.size % 3 == 0
        and np.all(x % 3 == 0)
        and np.array_equal(flat[1::3], x + 1)
        and np.array_equal(flat[2::3], x + 2)
    )
    if not ok:
        raise ValueError(
            f"{path}: field 'keypoints' must be x, y, z indices into the flattened mean shape "
            f"(3 per landmark, 3k, 3k+1, 3k+2), got {flat[:6].tolist()}..."
        )
    if x.size and x.max() // 3 >= num_vertices:
        raise ValueError(f"{path}: field 'keypoints' points past the {num_vertices} vertices")
    return x // 3


def _param_std(path, model_path, num_shape, num_expression):
    """(shape std, expression std, components kept) from 3DDFA's parameter statistics."""
    if path is None:
        candidate = os.path.join(os.path.dirname(os.fspath(model_path)), PARAM_STATS_FILE)
        if not os.path.exists(candidate):
            return None
        path = candidate
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"3DDFA parameter statistics file not found: {path}")
    stats = load_pickle(path)
    if not isinstance(stats, dict):
        raise ValueError(f"{path}: expected a dict with 'mean' and 'std'")
    std = _field(path, stats, "std").reshape(-1).astype(np.float64)
    count = std.size
    if count - NUM_POSE_PARAMS == num_shape + num_expression:
        kept = (num_shape, num_expression)
    elif count in _PARAM_LAYOUTS:
        kept = _PARAM_LAYOUTS[count]
    else:
        raise ValueError(
            f"{path}: {count} parameter statistics do not match 12 pose + {num_shape} shape + "
            f"{num_expression} expression parameters"
        )
    if kept[0] > num_shape or kept[1] > num_expression:
        raise ValueError(
            f"{path}: statistics for {kept[0]} shape / {kept[1]} expression components, the model "
            f"has {num_shape} / {num_expression}"
        )
    shape_std = std[NUM_POSE_PARAMS : NUM_POSE_PARAMS + kept[0]]
    exp_std = std[NUM_POSE_PARAMS + kept[0] : NUM_POSE_PARAMS + kept[0] + kept[1]]
    return shape_std, exp_std, kept


def load_3ddfa(
    path,
    triangles_path=None,
    *,
    param_stats_path=None,
    landmarks=None,
    landmarks_one_based: bool = False,
    dtype=np.float32,
) -> MorphableModel:
    """Reads 3DDFA_V2's ``bfm_noneck_v3.pkl`` (or 3DDFA's older pickles) into millimetres.

    Args:
      path: the model pickle.
      triangles_path: ``tri.pkl`` (0-based ``[3, F]``) or ``tri.mat`` (1-based); default: the
        pickle's own ``tri``, else ``tri.pkl``/``tri.mat`` beside the model.
      param_stats_path: 3DDFA_V2's ``param_mean_std_62d_120x120.pkl``; default: that file beside
        the model, if present (see the module docstring for what it changes).
      landmarks: optional ``.npy``/``.txt`` file of 68 vertex indices replacing the pickle's
        ``keypoints``; ``False`` for no landmarks.
      landmarks_one_based: whether that file counts vertices from 1.
      dtype: float dtype of the model arrays.

    Returns:
      The model: ``mean = u / 1000``, ``identity_basis = w_shp``, ``expression_basis = w_exp``,
      ``*_std = parameter std / 1000`` (or ``1e-3``), neutral albedo, the 68 keypoints.

    Raises:
      FileNotFoundError: for a missing triangle or statistics file that was named.
      ValueError: naming the file and field for a missing or misshapen field.
    """
    path = os.fspath(path)
    data = load_pickle(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a dict (3DDFA model pickle), got {type(data).__name__}")
    if "u" in data:
        mean = _field(path, data, "u").reshape(-1).astype(np.float64)
    elif "u_shp" in data and "u_exp" in data:
        mean = (_field(path, data, "u_shp") + _field(path, data, "u_exp")).reshape(-1)
        mean = mean.astype(np.float64)
    else:
        raise ValueError(f"{path}: field 'u' missing (keys: {sorted(data)})")
    if mean.size % 3:
        raise ValueError(f"{path}: field 'u' must have 3V entries, got {mean.size}")
    num_vertices = mean.size // 3
    shape_basis = _field(path, data, "w_shp").astype(np.float64)
    exp_basis = _field(path, data, "w_exp").astype(np.float64)
    for key, basis in (("w_shp", shape_basis), ("w_exp", exp_basis)):
        if basis.ndim != 2 or basis.shape[0] != mean.size:
            raise ValueError(
                f"{path}: field '{key}' must be [3V={mean.size}, K], got {basis.shape}"
            )

    found = _param_std(param_stats_path, path, shape_basis.shape[1], exp_basis.shape[1])
    if found is None:
        warnings.warn(
            f"{path}: no {PARAM_STATS_FILE} beside the model (pass param_stats_path=): "
            "coefficients are 3DDFA's raw alpha/beta, not units of standard deviation",
            stacklevel=2,
        )
        shape_std = np.ones(shape_basis.shape[1])
        exp_std = np.ones(exp_basis.shape[1])
    else:
        shape_std, exp_std, (num_shape, num_exp) = found
        shape_basis, exp_basis = shape_basis[:, :num_shape], exp_basis[:, :num_exp]

    mean_mm = mean.reshape(-1, 3) * MICROMETRES_TO_MM
    triangles = _triangles(triangles_path, path, data, num_vertices)
    triangles, _ = orient_outward(mean_mm, triangles)

    if landmarks is False:
        landmark_vertices = None
    elif landmarks is not None:
        landmark_vertices = read_vertex_indices(landmarks, one_based=landmarks_one_based)
    else:
        landmark_vertices = _landmark_vertices(path, data, num_vertices)

    return create_model(
        mean_mm,
        triangles,
        identity_basis=shape_basis,
        identity_std=shape_std * MICROMETRES_TO_MM,
        expression_basis=exp_basis,
        expression_std=exp_std * MICROMETRES_TO_MM,
        landmark_vertices=landmark_vertices,
        name=f"3ddfa:{os.path.splitext(os.path.basename(path))[0]}",
        units="mm",
        dtype=dtype,
        source=path,
    )
