"""Per-vertex attributes blended over rasterized pixels: colours, normals, UVs, positions."""

import math

import jax
import jax.numpy as jnp

from facejax.render.rasterize import Fragments

# Up to this many attribute channels (colours, normals, UVs) the backward sums over them as
# written-out adds; XLA on CPU runs a reduction over such a tiny trailing axis 4-11x slower
# (benchmarks/xla_cpu_small_axis.py).
_WRITTEN_OUT_CHANNELS = 4


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
    blended = _blend(covered, bary, flat_attributes, vertex_ids)
    return blended.reshape(batch_shape + (height, width, -1))


@jax.custom_jvp
def _blend(covered, barycentric, attributes, vertex_ids):
    """``[R, W, C]``: each pixel's three corner rows of ``attributes [V', C]`` (``vertex_ids
    [R, W, 3]``) weighted by ``barycentric [R, W, 3]``; zero where not ``covered [R, W]``.

    The tangent is written out (``_blend_jvp``), so that its transpose, the backward, is cheap
    on a CPU (docs/performance.md, issue 16). Autodiff of the forward below computed the
    image's cotangent again in each of its consumers (three corner updates and three
    reductions over the trailing colour axis, which XLA on CPU runs several times slower than
    the same sums written out), and added the three corners' scatter-adds in a separate pass.
    Forward and reverse mode, ``jax.vmap`` and higher orders all go through the same rule.
    """
    return _weighted(covered, barycentric, _corner_rows(attributes, vertex_ids))


def _corner_rows(attributes, vertex_ids):
    """The three corners' rows of ``attributes``: three ``[R, W, C]`` arrays."""
    return [attributes[vertex_ids[..., k]] for k in range(3)]


def _weighted(covered, barycentric, rows):
    # Three terms, not a sum over a trailing axis of 3, which XLA on CPU does slowly.
    blended = sum(barycentric[..., k, None] * r for k, r in enumerate(rows))
    return jnp.where(covered[..., None], blended, jnp.zeros_like(blended))


def _blend_jvp(primals, tangents):
    covered, barycentric, attributes, vertex_ids = primals
    _, d_barycentric, d_attributes, _ = tangents
    rows = _corner_rows(attributes, vertex_ids)
    out = _weighted(covered, barycentric, rows)
    terms = []
    if not _is_zero(d_attributes):
        # The three corners' rows in one gather: its transpose is one scatter-add of
        # [R, W, 3, C] updates computed in one pass, not three and their sum.
        d_rows = d_attributes[vertex_ids]  # [R, W, 3, C]
        terms.append(jnp.sum(barycentric[..., None] * d_rows, axis=-2))
    if not _is_zero(d_barycentric):
        # jax.lax.split's transpose is one concatenate, where slicing's is a pad per slice.
        planes = [p[..., 0] for p in jax.lax.split(d_barycentric, (1, 1, 1), axis=-1)]
        num_channels = attributes.shape[-1]
        if num_channels <= _WRITTEN_OUT_CHANNELS:
            # Channel by channel, so the transpose sums over the few channels as written-out
            # adds, not as a reduction over a tiny trailing axis.
            channels = [
                sum(p * r[..., c] for p, r in zip(planes, rows, strict=True))
                for c in range(num_channels)
            ]
            terms.append(jnp.stack(channels, axis=-1))
        else:  # many channels (features): a reduction over them is no longer slow
            terms.append(sum(p[..., None] * r for p, r in zip(planes, rows, strict=True)))
    if not terms:
        return out, jnp.zeros_like(out)
    tangent = sum(terms)
    return out, jnp.where(covered[..., None], tangent, jnp.zeros_like(tangent))


def _is_zero(tangent) -> bool:
    return isinstance(tangent, jax.custom_derivatives.SymbolicZero)


_blend.defjvp(_blend_jvp, symbolic_zeros=True)
