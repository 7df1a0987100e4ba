"""Per-vertex attributes blended over rasterized pixels: colours, normals, UVs, positions."""

import math

import jax
import jax.numpy as jnp

from facejax.render.rasterize import Fragments


def interpolate(fragments: Fragments, triangles: jax.Array, attributes: jax.Array) -> jax.Array:
    """Interpolates per-vertex attributes over the visible triangles.

    Args:
      fragments: from ``rasterize``, maps ``[..., H, W]``.
      triangles: ``[F, 3]`` int vertex indices, the ones rasterized (or any with the same
        triangle order, e.g. separate texture-coordinate indices).
      attributes: ``[V, C]`` shared by every image, or ``[..., V, C]`` with the fragments'
        batch dims: colours, normals, texture coordinates, positions, ...

    Returns:
      ``[..., H, W, C]`` barycentric blend of the visible triangle's vertex attributes; zero
      on background pixels. Differentiable with respect to ``attributes`` and to the
      barycentrics (hence the vertex positions).
    """
    attributes = jnp.asarray(attributes)
    batch_shape = fragments.triangle_id.shape[:-2]
    if attributes.ndim != 2 and attributes.shape[:-2] != batch_shape:
        raise ValueError(
            f"attributes must be [V, C] or [..., V, C] with the fragments' batch shape "
            f"{batch_shape}; got shape {attributes.shape}"
        )
    # Leading dims are merged into pixel rows [N * H, W]: XLA on CPU differentiates the same
    # code several times slower at rank 4 than at rank 3 (tiny trailing-axis reductions).
    height, width = fragments.triangle_id.shape[-2:]
    num_images = math.prod(batch_shape)
    triangle_id = fragments.triangle_id.reshape(num_images * height, width)
    covered = triangle_id >= 0
    vertex_ids = jnp.asarray(triangles, jnp.int32)[jnp.maximum(triangle_id, 0)]  # [N H, W, 3]
    if attributes.ndim == 2:
        flat_attributes = attributes
    else:
        num_vertices = attributes.shape[-2]
        flat_attributes = attributes.reshape((num_images * num_vertices, -1))
        first_vertex = jnp.arange(num_images, dtype=jnp.int32) * num_vertices
        vertex_ids = vertex_ids + jnp.repeat(first_vertex, height)[:, None, None]
    bary = fragments.barycentric.reshape(num_images * height, width, 3)
    # Three terms, not a sum over a trailing axis of 3, which XLA on CPU does slowly.
    blended = sum(bary[..., k, None] * flat_attributes[vertex_ids[..., k]] for k in range(3))
    blended = jnp.where(covered[..., None], blended, jnp.zeros_like(blended))
    return blended.reshape(batch_shape + (height, width, -1))
