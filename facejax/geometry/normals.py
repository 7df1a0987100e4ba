"""Triangle areas, face normals and vertex normals of a triangle mesh.

Unbatched: ``vertices [V, 3]`` and ``triangles [F, 3]`` (int32, counter-clockwise seen from
outside, so normals point outwards; ``docs/conventions.md``). Batch over shapes that share the
triangles with ``jax.vmap(fn, in_axes=(0, None))``; ``vertex_normals`` also takes leading batch
dims itself, faster than ``vmap``.

Degenerate (zero-area) triangles and vertices that no triangle uses get zero normals, and their
values and gradients stay finite (``safe_normalize``), so a collapsed triangle in a fitted mesh
cannot put NaN into a gradient.
"""

import jax
import jax.numpy as jnp

from facejax.geometry._validation import as_float, check_shape
from facejax.geometry.safe import safe_norm, safe_normalize


def _check_mesh(vertices, triangles, fn):
    vertices = as_float(vertices)
    triangles = jnp.asarray(triangles)
    check_shape(vertices, (None, 3), "vertices", fn)
    check_shape(triangles, (None, 3), "triangles", fn)
    if not jnp.issubdtype(triangles.dtype, jnp.integer):
        raise ValueError(f"{fn}: triangles must be integer indices, got dtype {triangles.dtype}")
    return vertices, triangles


def _cross(vertices: jax.Array, triangles: jax.Array) -> jax.Array:
    """``[F, 3]`` ``(v1 - v0) x (v2 - v0)``: outward normal with length twice the area."""
    corners = vertices[triangles]  # [F, 3 corners, 3]
    v0, v1, v2 = corners[:, 0], corners[:, 1], corners[:, 2]
    return jnp.cross(v1 - v0, v2 - v0)


def triangle_areas(vertices, triangles) -> jax.Array:
    """Area of every triangle.

    Args:
      vertices: ``[V, 3]``.
      triangles: ``[F, 3]`` int vertex indices.

    Returns:
      ``[F]`` areas (zero for degenerate triangles, with a finite gradient).
    """
    vertices, triangles = _check_mesh(vertices, triangles, "triangle_areas")
    return 0.5 * safe_norm(_cross(vertices, triangles))


def face_normals(vertices, triangles) -> jax.Array:
    """Unit outward normal of every triangle (right-hand rule over its corner order).

    Args:
      vertices: ``[V, 3]``.
      triangles: ``[F, 3]`` int vertex indices, counter-clockwise seen from outside.

    Returns:
      ``[F, 3]`` unit normals; zero for degenerate triangles.
    """
    vertices, triangles = _check_mesh(vertices, triangles, "face_normals")
    return safe_normalize(_cross(vertices, triangles))


def vertex_normals(vertices, triangles) -> jax.Array:
    """Area-weighted average of the normals of the triangles around each vertex.

    The unnormalised cross product of a triangle is its normal times twice its area, so summing
    cross products per vertex and normalising gives the area-weighted mean direction.

    Args:
      vertices: ``[V, 3]``, or ``[..., V, 3]`` shapes sharing the triangles: leading batch dims
        are taken natively, with the batch inside each gathered and scattered value. Whether
        that is faster than ``jax.vmap`` of the one-shape call depends on the CPU
        (docs/performance.md, a Basel-sized batch of 32, forward + backward: 131 against 210
        ms on one 2-core machine, 119-136 against 106-122 on another).
      triangles: ``[F, 3]`` int vertex indices, counter-clockwise seen from outside.

    Returns:
      ``[..., V, 3]`` unit normals; zero for vertices used by no triangle (or only by degenerate
      ones).
    """
    vertices = as_float(vertices)
    if vertices.ndim < 2:
        raise ValueError(
            f"vertex_normals: vertices must have shape [..., N, 3], got {vertices.shape}"
        )
    _, triangles = _check_mesh(
        vertices.reshape(-1, vertices.shape[-1]), triangles, "vertex_normals"
    )
    num_vertices = vertices.shape[-2]
    # One coordinate at a time, batch last: [V, ...] planes gathered by [F] index columns, one
    # scatter-add of [3F, ...] values per coordinate. Under jax.vmap XLA moves single floats of
    # a [B, V] plane faster than 3-float rows of a [B, V, 3] batch, which it gathered into a
    # [3F, B, 3] layout and transposed back (docs/performance.md: batch 32 of a Basel-sized mesh,
    # forward + backward 282 -> 210 ms); a native batch, inside each value, is faster still.
    planes = [jnp.moveaxis(vertices[..., k], -1, 0) for k in range(3)]  # [V, ...]
    corner_vertex = triangles.T.reshape(-1)  # [3F]: every triangle's first corners, then ...
    if vertices.ndim == 2:
        # One shape (what jax.vmap sees): one gather of all 3F corners per coordinate, so that
        # the backward is one scatter-add per coordinate, not one per coordinate and corner
        # (docs/performance.md, Intel VM: a Basel-sized batch of 32 under vmap, forward +
        # backward 136-153 -> 106-122 ms; one synthetic face's forward 0.29 -> 0.41 ms, its
        # forward + backward unchanged). A native batch is not faster that way (119-126
        # against 129-136 ms), so it keeps one gather per corner.
        num_triangles = triangles.shape[0]
        corners = [plane[corner_vertex].reshape(3, num_triangles) for plane in planes]
    else:
        corners = [[plane[triangles[:, c]] for c in range(3)] for plane in planes]  # [k][c]
    a = [corners[k][1] - corners[k][0] for k in range(3)]
    b = [corners[k][2] - corners[k][0] for k in range(3)]
    cross = [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]

    # Each value three times, once per corner. Measured on a Basel-sized mesh: a native batch
    # wants jnp.concatenate (tile's transpose made its forward + backward 1.3x slower, 321-329
    # against 253-255 ms for the whole decode of 32). One shape (also what jax.vmap sees) wants
    # an outer product with ones: jnp.concatenate made the vmapped forward 4x slower (188
    # against 47 ms), and jnp.tile's transpose, a sum over the copies, ran as a slow reduction
    # (one face's normals forward + backward 4.8 ms against 3.2; vmapped over 32, 95-102 against
    # 91-94); the outer product's transpose is a matrix-vector product (docs/performance.md).
    def three_times(n):
        if n.ndim == 1:
            return jnp.einsum("c,f->cf", jnp.ones(3, n.dtype), n).reshape(-1)
        return jnp.concatenate([n, n, n])

    summed = [
        jax.ops.segment_sum(three_times(n), corner_vertex, num_segments=num_vertices) for n in cross
    ]
    return safe_normalize(jnp.moveaxis(jnp.stack(summed, axis=-1), 0, -2))
