"""The morphable model pytree: a linear shape and albedo space over a fixed triangle mesh.

Every model format facejax reads becomes a :class:`MorphableModel`; every function of
``facejax.morphable`` takes one. Arrays are pytree leaves (so a model can be passed through
``jax.jit`` without being hashed, and moved to a device once); names and units are static.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

Array = Any  # jax.Array or np.ndarray

NUM_IBUG_LANDMARKS = 68


@struct.dataclass
class Skinning:
    """Linear blend skinning data of an articulated model (FLAME's neck, jaw and eyes).

    Attributes:
      joint_regressor: ``[J, V]`` joint positions as a linear function of the shaped vertices.
      weights: ``[V, J]`` skinning weights, rows summing to 1.
      pose_correctives: ``[V, 3, P]`` pose-dependent offsets, driven by the ``P = 9 * (J - 1)``
        entries of ``(R_j - I)`` of the non-root joints (FLAME's ``posedirs``).
      parents: ``[J]`` int32 parent of each joint, ``-1`` for the root; parents come before
        their children.
      joint_names: names of the J joints (static).
    """

    joint_regressor: Array
    weights: Array
    pose_correctives: Array
    parents: Array
    joint_names: tuple[str, ...] = struct.field(pytree_node=False, default=())

    @property
    def num_joints(self) -> int:
        return self.weights.shape[-1]


@struct.dataclass
class MorphableModel:
    """A 3D morphable model (3DMM).

    A face is ``mean_shape + identity_basis @ (alpha * identity_std)
    + expression_basis @ (beta * expression_std)`` with coefficients ``alpha``, ``beta`` in units
    of standard deviation; its colour is ``albedo_mean + albedo_basis @ (gamma * albedo_std)``.
    A format whose basis already includes the standard deviations stores ``*_std = 1``.

    Attributes:
      mean_shape: ``[V, 3]`` mean face, in ``units`` (millimetres after loading), model frame of
        docs/conventions.md (x left-of-subject, y up, z out of the face).
      identity_basis: ``[V, 3, Ki]`` identity (shape) components.
      identity_std: ``[Ki]`` standard deviation of each identity component.
      expression_basis: ``[V, 3, Ke]`` expression components (``Ke`` may be 0).
      expression_std: ``[Ke]``.
      albedo_mean: ``[V, 3]`` mean RGB albedo in ``[0, 1]``.
      albedo_basis: ``[V, 3, Ka]`` albedo components (``Ka`` may be 0).
      albedo_std: ``[Ka]``.
      triangles: ``[F, 3]`` int32, 0-based, counter-clockwise seen from outside.
      landmark_triangles: ``[L]`` int32 triangle of each landmark (68 iBUG points, or ``L = 0``
        when the model file defines none).
      landmark_barycentric: ``[L, 3]`` barycentric weights of each landmark in its triangle. A
        landmark on a vertex is the special case of one weight 1 (see
        :func:`landmarks_from_vertices`).
      face_mask: optional ``[V]`` float, 1 on the face region (for photometric losses).
      skin_mask: optional ``[V]`` float, 1 on skin (no eyes, brows, lips).
      skinning: optional :class:`Skinning` for articulated models (FLAME).
      name: human-readable model name (static).
      units: unit of lengths, ``"mm"`` after loading (static).
      expression_names: optional names of the leading expression components (static), e.g.
        ``("jaw_open", "smile", ...)``.
    """

    mean_shape: Array
    identity_basis: Array
    identity_std: Array
    expression_basis: Array
    expression_std: Array
    albedo_mean: Array
    albedo_basis: Array
    albedo_std: Array
    triangles: Array
    landmark_triangles: Array
    landmark_barycentric: Array
    face_mask: Array | None = None
    skin_mask: Array | None = None
    skinning: Skinning | None = None
    name: str = struct.field(pytree_node=False, default="model")
    units: str = struct.field(pytree_node=False, default="mm")
    expression_names: tuple[str, ...] = struct.field(pytree_node=False, default=())

    @property
    def num_vertices(self) -> int:
        return self.mean_shape.shape[0]

    @property
    def num_triangles(self) -> int:
        return self.triangles.shape[0]

    @property
    def num_identity(self) -> int:
        return self.identity_basis.shape[-1]

    @property
    def num_expression(self) -> int:
        return self.expression_basis.shape[-1]

    @property
    def num_albedo(self) -> int:
        return self.albedo_basis.shape[-1]

    @property
    def num_landmarks(self) -> int:
        return self.landmark_triangles.shape[0]

    @property
    def dtype(self):
        return self.mean_shape.dtype


def landmarks_from_vertices(
    triangles: Array, vertex_indices: Array
) -> tuple[np.ndarray, np.ndarray]:
    """Landmark definition (triangle, barycentric) for landmarks that sit on mesh vertices.

    Args:
      triangles: ``[F, 3]`` int triangles (numpy; this runs once at load time).
      vertex_indices: ``[L]`` 0-based vertex index of each landmark.

    Returns:
      ``(landmark_triangles [L] int32, landmark_barycentric [L, 3])``: for each landmark, the
      first triangle that uses its vertex, with weight 1 on that corner.

    Raises:
      ValueError: if an index is out of range or its vertex belongs to no triangle.
    """
    triangles = np.asarray(triangles)
    vertex_indices = np.asarray(vertex_indices).astype(np.int64).reshape(-1)
    num_vertices = int(triangles.max()) + 1 if triangles.size else 0
    bad = (vertex_indices < 0) | (vertex_indices >= max(num_vertices, 1))
    if bad.any():
        raise ValueError(
            f"landmark vertex indices out of range [0, {num_vertices}): "
            f"{vertex_indices[bad][:5].tolist()}"
        )
    flat = triangles.reshape(-1)
    # First occurrence of each vertex in the flattened triangle list.
    first = np.full(num_vertices, -1, dtype=np.int64)
    order = np.arange(flat.size)[::-1]
    first[flat[order]] = order
    hits = first[vertex_indices]
    if (hits < 0).any():
        raise ValueError(
            f"landmark vertices {vertex_indices[hits < 0][:5].tolist()} belong to no triangle"
        )
    tri = (hits // 3).astype(np.int32)
    bary = np.zeros((vertex_indices.size, 3), dtype=np.float32)
    bary[np.arange(vertex_indices.size), hits % 3] = 1.0
    return tri, bary


def create_model(
    mean_shape,
    triangles,
    *,
    identity_basis=None,
    identity_std=None,
    expression_basis=None,
    expression_std=None,
    albedo_mean=None,
    albedo_basis=None,
    albedo_std=None,
    landmark_triangles=None,
    landmark_barycentric=None,
    landmark_vertices=None,
    face_mask=None,
    skin_mask=None,
    skinning: Skinning | None = None,
    name: str = "model",
    units: str = "mm",
    expression_names: tuple[str, ...] = (),
    dtype=np.float32,
    source: str = "<arrays>",
) -> MorphableModel:
    """Builds a :class:`MorphableModel` from arrays, checking every shape.

    Missing parts get neutral defaults: no expression or albedo components, a uniform grey
    albedo (0.6), unit standard deviations, and no landmarks. Landmarks are given either as
    ``landmark_triangles`` + ``landmark_barycentric`` or as ``landmark_vertices``.

    Args:
      mean_shape: ``[V, 3]`` (or flat ``[3V]``, xyz interleaved).
      triangles: ``[F, 3]`` 0-based vertex indices.
      identity_basis, expression_basis, albedo_basis: ``[V, 3, K]`` or ``[3V, K]``.
      identity_std, expression_std, albedo_std: ``[K]``.
      albedo_mean: ``[V, 3]`` or ``[3V]`` in ``[0, 1]``.
      source: file name used in error messages, so a loader's errors name the file.

    Returns:
      The model, with numpy arrays of ``dtype`` (int32 for indices).

    Raises:
      ValueError: naming ``source`` and the field, for any inconsistent shape, a non-finite
      value, or an index out of range.
    """

    def fail(field: str, problem: str):
        raise ValueError(f"{source}: field '{field}' {problem}")

    def vertices_array(field, value, num_vertices=None):
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 1 and arr.size % 3 == 0:
            arr = arr.reshape(-1, 3)
        if arr.ndim != 2 or arr.shape[1] != 3:
            fail(field, f"must have shape [V, 3] (or [3V]), got {np.shape(value)}")
        if num_vertices is not None and arr.shape[0] != num_vertices:
            fail(field, f"has {arr.shape[0]} vertices, the mean shape has {num_vertices}")
        if not np.all(np.isfinite(arr)):
            fail(field, "contains NaN or infinite values")
        return arr.astype(dtype)

    def basis_array(field, value, num_vertices):
        if value is None:
            return np.zeros((num_vertices, 3, 0), dtype=dtype)
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 2:
            if arr.shape[0] != 3 * num_vertices:
                fail(field, f"must have shape [3V={3 * num_vertices}, K], got {arr.shape}")
            arr = arr.reshape(num_vertices, 3, arr.shape[1])
        if arr.ndim != 3 or arr.shape[:2] != (num_vertices, 3):
            fail(field, f"must have shape [V={num_vertices}, 3, K], got {np.shape(value)}")
        if not np.all(np.isfinite(arr)):
            fail(field, "contains NaN or infinite values")
        return arr.astype(dtype)

    def std_array(field, value, num_components):
        if value is None:
            return np.ones((num_components,), dtype=dtype)
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
        if arr.shape != (num_components,):
            fail(field, f"must have {num_components} entries (one per component), got {arr.size}")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            fail(field, "must be finite and non-negative")
        return arr.astype(dtype)

    mean = vertices_array("mean_shape", mean_shape)
    num_vertices = mean.shape[0]

    tris = np.asarray(triangles)
    if tris.ndim != 2 or tris.shape[1] != 3:
        fail("triangles", f"must have shape [F, 3], got {tris.shape}")
    if not np.issubdtype(tris.dtype, np.integer) and not np.all(np.equal(np.mod(tris, 1), 0)):
        fail("triangles", "must hold integer vertex indices")
    tris = tris.astype(np.int64)
    if tris.size and (tris.min() < 0 or tris.max() >= num_vertices):
        fail(
            "triangles",
            f"indices must lie in [0, {num_vertices}), got [{tris.min()}, {tris.max()}] "
            "(1-based indices must be converted by the loader)",
        )
    tris = tris.astype(np.int32)

    id_basis = basis_array("identity_basis", identity_basis, num_vertices)
    ex_basis = basis_array("expression_basis", expression_basis, num_vertices)
    al_basis = basis_array("albedo_basis", albedo_basis, num_vertices)
    if albedo_mean is None:
        al_mean = np.full((num_vertices, 3), 0.6, dtype=dtype)
    else:
        al_mean = vertices_array("albedo_mean", albedo_mean, num_vertices)

    if landmark_vertices is not None:
        if landmark_triangles is not None or landmark_barycentric is not None:
            fail("landmark_vertices", "given together with landmark_triangles/barycentric")
        try:
            lmk_tri, lmk_bary = landmarks_from_vertices(tris, landmark_vertices)
        except ValueError as err:
            fail("landmark_vertices", str(err))
    elif landmark_triangles is not None:
        lmk_tri = np.asarray(landmark_triangles).astype(np.int64).reshape(-1)
        lmk_bary = np.asarray(landmark_barycentric, dtype=np.float64)
        if lmk_bary.shape != (lmk_tri.size, 3):
            fail(
                "landmark_barycentric", f"must have shape [{lmk_tri.size}, 3], got {lmk_bary.shape}"
            )
        if lmk_tri.size and (lmk_tri.min() < 0 or lmk_tri.max() >= tris.shape[0]):
            fail("landmark_triangles", f"indices must lie in [0, {tris.shape[0]})")
        if not np.allclose(lmk_bary.sum(-1), 1.0, atol=1e-4):
            fail("landmark_barycentric", "rows must sum to 1")
        lmk_tri = lmk_tri.astype(np.int32)
    else:
        lmk_tri = np.zeros((0,), dtype=np.int32)
        lmk_bary = np.zeros((0, 3))

    def mask_array(field, value):
        if value is None:
            return None
        arr = np.asarray(value, dtype=np.float64).reshape(-1)
        if arr.shape != (num_vertices,):
            fail(field, f"must have {num_vertices} entries, got {arr.size}")
        return arr.astype(dtype)

    return MorphableModel(
        mean_shape=mean,
        identity_basis=id_basis,
        identity_std=std_array("identity_std", identity_std, id_basis.shape[-1]),
        expression_basis=ex_basis,
        expression_std=std_array("expression_std", expression_std, ex_basis.shape[-1]),
        albedo_mean=al_mean,
        albedo_basis=al_basis,
        albedo_std=std_array("albedo_std", albedo_std, al_basis.shape[-1]),
        triangles=tris,
        landmark_triangles=lmk_tri,
        landmark_barycentric=np.asarray(lmk_bary, dtype=dtype),
        face_mask=mask_array("face_mask", face_mask),
        skin_mask=mask_array("skin_mask", skin_mask),
        skinning=skinning,
        name=name,
        units=units,
        expression_names=tuple(expression_names),
    )


def truncate(
    model: MorphableModel,
    identity: int | None = None,
    expression: int | None = None,
    albedo: int | None = None,
) -> MorphableModel:
    """The model restricted to its first ``k`` components of each basis (``None`` keeps all).

    Raises:
      ValueError: if a ``k`` exceeds the number of components the model has.
    """

    def cut(basis, std, k, what):
        if k is None:
            return basis, std
        if not 0 <= k <= basis.shape[-1]:
            raise ValueError(f"cannot keep {k} {what} components: the model has {basis.shape[-1]}")
        return basis[..., :k], std[:k]

    id_basis, id_std = cut(model.identity_basis, model.identity_std, identity, "identity")
    ex_basis, ex_std = cut(model.expression_basis, model.expression_std, expression, "expression")
    al_basis, al_std = cut(model.albedo_basis, model.albedo_std, albedo, "albedo")
    names = model.expression_names[: ex_basis.shape[-1]]
    return model.replace(
        identity_basis=id_basis,
        identity_std=id_std,
        expression_basis=ex_basis,
        expression_std=ex_std,
        albedo_basis=al_basis,
        albedo_std=al_std,
        expression_names=names,
    )


def to_device(model: MorphableModel, dtype=None) -> MorphableModel:
    """The model with every float leaf as a ``jnp`` array of ``dtype`` (default: as stored).

    Index leaves stay int32. Use it once before a loop so arrays are not re-sent each call.
    """

    def convert(leaf):
        leaf = jnp.asarray(leaf)
        if dtype is not None and jnp.issubdtype(leaf.dtype, jnp.floating):
            leaf = leaf.astype(dtype)
        return leaf

    return jax.tree_util.tree_map(convert, model)


def fingerprint(model: MorphableModel) -> str:
    """A short hex digest of everything that determines the decoded faces.

    Datasets store it beside their ground-truth coefficients, so that a reader can check it
    decodes them with the same model (same arrays, same order, same units) they were made with.
    """
    import hashlib

    digest = hashlib.sha256()
    digest.update(f"{model.units}|{model.num_vertices}|{model.num_triangles}".encode())
    for leaf in jax.tree_util.tree_leaves(model):
        arr = np.ascontiguousarray(np.asarray(leaf))
        digest.update(f"{arr.dtype.str}{arr.shape}".encode())
        digest.update(arr.tobytes())
    return digest.hexdigest()[:16]
