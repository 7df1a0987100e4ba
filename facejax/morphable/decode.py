"""From coefficients to faces: shape, albedo, landmarks, pose, projection, normals, colour.

All functions take one unbatched model and one face's coefficients; batch them with
``jax.vmap`` over the coefficients (``in_axes=(None, 0)``), except ``decode_batch``, which takes
a batch of coefficients itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from facejax import geometry, lighting
from facejax.morphable.model import MorphableModel
from facejax.morphable.params import FaceParams
from facejax.morphable.skinning import articulate

Array = Any
Decoder = Callable[[Array], Array]  # latent [K] -> offset [V, 3]


def linear_offset(basis, std, coeffs):
    """``basis @ (coeffs * std)``: ``[V, 3, K]``, ``[K]``, ``[K]`` -> ``[V, 3]``."""
    # A product with the basis seen as a [3V, K] matrix, not an einsum over [V, 3, K]: under
    # jax.vmap, XLA's CPU dot of the three-axis basis gave a [V, 3, B] product transposed
    # inside its consumers and a coefficient gradient contracting two axes; as a matrix both
    # are plain matrix products (image formation forward + backward, 35,709 vertices x 32:
    # 240-247 -> 186-190 ms on the Intel VM, docs/performance.md).
    if jnp.ndim(basis) != 3 or jnp.shape(coeffs) != jnp.shape(basis)[-1:]:
        raise ValueError(
            f"linear_offset: basis must be [V, 3, K] and coeffs [K] (one face; batch several "
            f"with jax.vmap); got basis {jnp.shape(basis)}, coeffs {jnp.shape(coeffs)}"
        )
    num_vertices, num_coords, num_coeffs = jnp.shape(basis)
    flat = jnp.reshape(basis, (num_vertices * num_coords, num_coeffs)) @ (coeffs * std)
    return flat.reshape(num_vertices, num_coords)


def identity_offset(model: MorphableModel, identity) -> Array:
    """Displacement ``[V, 3]`` (mm) of the identity coefficients ``[Ki]`` from the mean."""
    return linear_offset(model.identity_basis, model.identity_std, identity)


def expression_offset(model: MorphableModel, expression) -> Array:
    """Displacement ``[V, 3]`` (mm) of the expression coefficients ``[Ke]``."""
    return linear_offset(model.expression_basis, model.expression_std, expression)


def shape(model: MorphableModel, identity, expression=None) -> Array:
    """Canonical (unposed) face ``[V, 3]`` in millimetres.

    ``mean_shape + identity_basis @ (identity * identity_std)
    + expression_basis @ (expression * expression_std)``.

    Args:
      model: the morphable model.
      identity: ``[Ki]`` coefficients in units of standard deviation (a format whose basis
        already includes the standard deviations has ``identity_std = 1`` and takes its own
        coefficients as they are).
      expression: ``[Ke]`` coefficients, or ``None`` for a neutral face.
    """
    vertices = model.mean_shape + identity_offset(model, identity)
    if expression is not None:
        vertices = vertices + expression_offset(model, expression)
    return vertices


def composite_shape(
    model: MorphableModel,
    identity_latent,
    residual_latent,
    identity_decoder: Decoder | None = None,
    residual_decoder: Decoder | None = None,
) -> tuple[Array, Array]:
    """The disentangled face of Liu et al. (CVPR 2018): mean + identity part + residual part.

    Either part can come from the model's linear basis (the default: the identity basis for the
    identity latent, the expression basis for the residual latent, latents in units of standard
    deviation) or from a decoder supplied by the caller (a linear layer, an MLP, ...).

    Args:
      model: gives the mean shape, and the bases when a decoder is not given.
      identity_latent: ``[Di]`` identity latent.
      residual_latent: ``[Dr]`` residual (non-identity: expression, ...) latent.
      identity_decoder: optional ``latent -> [V, 3]`` offset.
      residual_decoder: optional ``latent -> [V, 3]`` offset.

    Returns:
      ``(face [V, 3], identity_face [V, 3])``: the full face and the identity-only (neutral)
      face ``mean + identity part``, both in millimetres.
    """
    id_part = (identity_decoder or (lambda z: identity_offset(model, z)))(identity_latent)
    res_part = (residual_decoder or (lambda z: expression_offset(model, z)))(residual_latent)
    identity_face = model.mean_shape + id_part
    return identity_face + res_part, identity_face


def albedo(model: MorphableModel, coeffs) -> Array:
    """Per-vertex RGB albedo ``[V, 3]`` from coefficients ``[Ka]`` (not clamped to [0, 1])."""
    return model.albedo_mean + linear_offset(model.albedo_basis, model.albedo_std, coeffs)


def landmarks(model: MorphableModel, vertices) -> Array:
    """The model's landmarks ``[L, C]`` (68 iBUG points) on a mesh ``vertices [V, C]``.

    Works in any frame and for any per-vertex array (canonical, posed, projected), since
    landmarks are barycentric combinations of their triangle's corners.

    Raises:
      ValueError: if the model defines no landmarks.
    """
    if model.num_landmarks == 0:
        raise ValueError(
            f"model '{model.name}' defines no landmarks; load it with a landmark definition "
            "(see docs/formats.md)"
        )
    corners = model.triangles[model.landmark_triangles]  # [L, 3]
    return jnp.einsum("lk,lkc->lc", model.landmark_barycentric, vertices[corners])


def rotation_matrix(params: FaceParams) -> Array:
    """The ``[3, 3]`` rotation of the face's pose."""
    return geometry.rotation_from_euler(params.rotation, params.rotation_convention)


def pose(params: FaceParams, points) -> Array:
    """Points ``[..., 3]`` from the model frame to the camera frame: ``R @ x + t``."""
    return geometry.rigid_transform(points, rotation_matrix(params), params.translation)


def project(params: FaceParams, camera_points) -> Array:
    """Camera-frame points ``[..., 3]`` to image ``(x, y, depth)`` ``[..., 3]``."""
    return geometry.project(params.camera, camera_points)


def normals(model: MorphableModel, vertices) -> Array:
    """Unit vertex normals ``[V, 3]`` of the model's mesh on ``vertices [V, 3]``."""
    return geometry.vertex_normals(vertices, model.triangles)


@struct.dataclass
class Face:
    """A decoded face (every array per vertex unless said otherwise).

    Attributes:
      vertices: ``[V, 3]`` canonical shape, mm.
      camera_vertices: ``[V, 3]`` posed, camera frame, mm.
      screen_vertices: ``[V, 3]`` projected ``(x, y, depth)``.
      normals: ``[V, 3]`` unit normals in the camera frame.
      albedo: ``[V, 3]`` RGB albedo.
      colors: ``[V, 3]`` albedo shaded by the SH lighting.
      landmarks_3d: ``[L, 3]`` camera frame, mm (empty when the model has no landmarks).
      landmarks_2d: ``[L, 3]`` projected ``(x, y, depth)``.
    """

    vertices: Array
    camera_vertices: Array
    screen_vertices: Array
    normals: Array
    albedo: Array
    colors: Array
    landmarks_3d: Array
    landmarks_2d: Array


def decode(model: MorphableModel, params: FaceParams) -> Face:
    """Decodes, articulates (if the model is articulated), poses, projects and shades a face."""
    vertices = _canonical_vertices(model, params)
    return _posed_face(model, params, vertices, normals(model, vertices))


def decode_batch(model: MorphableModel, params: FaceParams) -> Face:
    """``decode`` of a batch of faces: ``params`` with a leading batch dim ``[B]``.

    The same as ``jax.vmap(decode, in_axes=(None, 0))(model, params)``, but the vertex normals
    of the whole batch are computed in one call with the batch inside each gathered value
    (``geometry.vertex_normals``). Whether the whole decode is faster depends on the CPU: for a
    Basel-sized batch of 32 it was faster forward + backward on one 2-core machine and slower
    on another (docs/performance.md); time both on yours.
    Every field of the result has the leading ``[B]``.
    """
    vertices = jax.vmap(_canonical_vertices, in_axes=(None, 0))(model, params)
    canonical_normals = geometry.vertex_normals(vertices, model.triangles)
    return jax.vmap(_posed_face, in_axes=(None, 0, 0, 0))(
        model, params, vertices, canonical_normals
    )


def _canonical_vertices(model: MorphableModel, params: FaceParams) -> Array:
    """The unposed face ``[V, 3]``: shape, articulated if the model and parameters say so."""
    vertices = shape(model, params.identity, params.expression)
    if model.skinning is not None and params.articulation is not None:
        vertices = articulate(model, vertices, params.articulation)
    return vertices


def _posed_face(model: MorphableModel, params: FaceParams, vertices, canonical_normals) -> Face:
    """Poses, projects and shades the canonical ``vertices`` with their unit normals."""
    rotation = rotation_matrix(params)
    camera_vertices = geometry.rigid_transform(vertices, rotation, params.translation)
    screen_vertices = geometry.project(params.camera, camera_vertices)
    # Rotating canonical normals is cheaper than recomputing them from posed vertices.
    vertex_normals = geometry.rotate_points(canonical_normals, rotation)
    vertex_albedo = albedo(model, params.albedo)
    colors = lighting.shade(vertex_albedo, vertex_normals, params.sh_coeffs)
    if model.num_landmarks:
        lmk3 = landmarks(model, camera_vertices)
        lmk2 = landmarks(model, screen_vertices)
    else:
        lmk3 = lmk2 = jnp.zeros((0, 3), camera_vertices.dtype)
    return Face(
        vertices=vertices,
        camera_vertices=camera_vertices,
        screen_vertices=screen_vertices,
        normals=vertex_normals,
        albedo=vertex_albedo,
        colors=colors,
        landmarks_3d=lmk3,
        landmarks_2d=lmk2,
    )
