"""Z-buffer triangle rasterization in pure JAX: visibility by scatter-min, values by gather.

The rasterizer runs the same XLA program on CPU, GPU and TPU: no CUDA kernel, no OpenGL. It works
in three passes over static shapes:

1. **Tiles.** Every triangle's pixel bounding box is cut into ``window x window`` tiles anchored
   at the box's top-left pixel, so a triangle smaller than the window costs one tile and a larger
   one several. The tiles of all triangles are laid end to end in a buffer of ``max_tiles``
   entries (an exclusive cumulative sum gives each triangle its first slot); a triangle whose
   tiles do not all fit is counted in ``Fragments.overflow_count`` rather than lost silently.
2. **Visibility.** Each tile tests its pixel centres against the triangle's three edge functions
   with a top-left fill rule, a scatter-min of depth builds the z-buffer and a second scatter-min
   over the candidates that reach it picks the smallest triangle id. Scatter-min is commutative,
   so the result does not depend on the order XLA applies the updates in: it is deterministic.
3. **Interpolation.** Each pixel gathers its winning triangle's three vertices and recomputes the
   barycentric coordinates from them. Visibility (which triangle) carries no gradient; the
   barycentrics and the depth are smooth functions of the vertex positions and carry it.

Fill rule: a pixel centre exactly on an edge belongs to the triangle whose interior lies on the
+x side of that edge, or, for a horizontal edge, on the +y (downward) side. Two triangles that
share an edge therefore never both cover, nor both miss, a pixel centre on it. Each edge function
is evaluated from the edge's endpoints in vertex-index order, so the two triangles that share an
edge compute bit-identical values of opposite sign.

Orientation: a triangle that is counter-clockwise seen from outside the surface and faces the
camera (camera looks down -z, y up; image y down, see docs/conventions.md) has a *negative*
signed area ``(x1 - x0) (y2 - y0) - (x2 - x0) (y1 - y0)`` in pixel coordinates.
``cull_backfaces=True`` drops triangles with positive signed area.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import struct

# Parameters gathered per tile, per edge: origin (x, y), direction (x, y), orientation sign,
# top-left flag, depth coefficient.
_EDGE_PARAMS = 7
# Vertices of the edge opposite corner i are (i + 1, i + 2) mod 3.
_EDGE_START = (1, 2, 0)
_EDGE_END = (2, 0, 1)


@struct.dataclass
class Fragments:
    """What each pixel of a rasterized image sees. Leading dims ``...`` are batch dims.

    Attributes:
      triangle_id: ``[..., H, W]`` int32, the visible triangle, ``-1`` for background.
      barycentric: ``[..., H, W, 3]`` weights of the visible triangle's three vertices at the
        pixel centre (perspective-correct unless rasterized with ``perspective_correct=False``);
        zero for background. They carry gradients to the screen-space vertex positions.
      depth: ``[..., H, W]`` interpolated depth (distance in front of the camera, the units of
        ``screen_vertices[..., 2]``); ``+inf`` for background.
      mask: ``[..., H, W]`` float, 1 where a triangle covers the pixel centre, 0 elsewhere. It
        has no gradient; see ``facejax.render.soft_silhouette`` for one that does.
      overflow_count: ``[...]`` int32, triangles some of whose tiles did not fit in
        ``max_tiles``; their pixels beyond the budget are missing. Zero in a correct render.
    """

    triangle_id: jax.Array
    barycentric: jax.Array
    depth: jax.Array
    mask: jax.Array
    overflow_count: jax.Array


def default_max_tiles(num_triangles: int, height: int, width: int, window: int) -> int:
    """Tile budget used when ``rasterize`` is not given one.

    One tile per triangle plus enough extra tiles for bounding boxes covering the image four
    times over: room for a dense mesh of small triangles together with a few large ones.
    """
    return num_triangles + 4 * math.ceil(height / window) * math.ceil(width / window)


def rasterize(
    screen_vertices: jax.Array,
    triangles: jax.Array,
    height: int,
    width: int,
    *,
    cull_backfaces: bool = False,
    perspective_correct: bool = True,
    near: float = 0.0,
    window: int = 4,
    max_tiles: int | None = None,
) -> Fragments:
    """Rasterizes triangles given in screen space with a z-buffer.

    Pixels are sampled at their centres ``(j + 0.5, i + 0.5)``. Triangles with a vertex at depth
    ``<= near`` (behind or too close to the camera) are dropped whole, not clipped; so are
    degenerate (zero-area) ones and ones with a non-finite coordinate.

    Args:
      screen_vertices: ``[..., V, 3]`` vertices as ``(x, y)`` pixel coordinates (x right, y
        down) and depth (positive in front of the camera, larger is farther), as returned by
        ``facejax.geometry`` projections. Leading dims are batch dims sharing ``triangles``.
      triangles: ``[F, 3]`` int vertex indices.
      height: image height ``H`` in pixels (static).
      width: image width ``W`` in pixels (static).
      cull_backfaces: drop triangles facing away from the camera (positive signed area in
        pixel coordinates, see the module docstring).
      perspective_correct: interpolate with weights proportional to ``1 / depth`` (right for
        a perspective projection); ``False`` interpolates linearly in screen space (right for an
        orthographic projection, where depth is affine in screen space).
      near: triangles with any vertex depth ``<= near`` are dropped.
      window: tile side in pixels (static). A triangle costs ``ceil(rows / window) *
        ceil(cols / window)`` tiles of ``window**2`` pixel tests; about the side of a typical
        triangle's bounding box is fastest.
      max_tiles: tile budget per image (static); ``None`` takes ``default_max_tiles``.

    Returns:
      ``Fragments`` with ``[..., H, W]`` maps.
    """
    screen_vertices = jnp.asarray(screen_vertices)
    triangles = jnp.asarray(triangles)
    _check_inputs(screen_vertices, triangles, height, width, window, max_tiles)
    if max_tiles is None:
        max_tiles = default_max_tiles(triangles.shape[0], height, width, window)
    batch_shape = screen_vertices.shape[:-2]
    flat = screen_vertices.reshape((-1,) + screen_vertices.shape[-2:])
    triangles = triangles.astype(jnp.int32)

    triangle_id, overflow = _visible_triangles(
        jax.lax.stop_gradient(flat),
        triangles,
        height,
        width,
        cull_backfaces=cull_backfaces,
        perspective_correct=perspective_correct,
        near=near,
        window=window,
        max_tiles=max_tiles,
    )
    barycentric, depth, mask = _interpolate_geometry(
        flat, triangles, triangle_id, perspective_correct=perspective_correct
    )
    return Fragments(
        triangle_id=triangle_id.reshape(batch_shape + (height, width)),
        barycentric=barycentric.reshape(batch_shape + (height, width, 3)),
        depth=depth.reshape(batch_shape + (height, width)),
        mask=mask.reshape(batch_shape + (height, width)),
        overflow_count=overflow.reshape(batch_shape),
    )


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
    if attributes.ndim not in (2, len(batch_shape) + 2):
        raise ValueError(
            f"attributes must be [V, C] or [..., V, C] with the fragments' batch shape "
            f"{batch_shape}; got shape {attributes.shape}"
        )
    covered = fragments.triangle_id >= 0
    vertex_ids = jnp.asarray(triangles, jnp.int32)[jnp.maximum(fragments.triangle_id, 0)]
    if attributes.ndim == 2:
        corners = attributes[vertex_ids]
    else:
        corners = _gather_rows(attributes, vertex_ids)
    blended = jnp.sum(fragments.barycentric[..., None] * corners, axis=-2)
    return jnp.where(covered[..., None], blended, jnp.zeros_like(blended))


def _check_inputs(screen_vertices, triangles, height, width, window, max_tiles):
    if screen_vertices.ndim < 2 or screen_vertices.shape[-1] != 3:
        raise ValueError(
            f"screen_vertices must be [..., V, 3] (x, y, depth); got shape {screen_vertices.shape}"
        )
    if triangles.ndim != 2 or triangles.shape[-1] != 3:
        raise ValueError(f"triangles must be [F, 3]; got shape {triangles.shape}")
    if not jnp.issubdtype(triangles.dtype, jnp.integer):
        raise ValueError(f"triangles must hold integer vertex indices; got {triangles.dtype}")
    if not jnp.issubdtype(screen_vertices.dtype, jnp.floating):
        raise ValueError(f"screen_vertices must be floating point; got {screen_vertices.dtype}")
    for name, value in (("height", height), ("width", width), ("window", window)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive Python int (static); got {value!r}")
    if max_tiles is not None and (not isinstance(max_tiles, int) or max_tiles < 1):
        raise ValueError(f"max_tiles must be a positive Python int or None; got {max_tiles!r}")


def _gather_rows(values: jax.Array, indices: jax.Array) -> jax.Array:
    """``values[b, indices[b, ...]]`` for ``values [..., N, C]`` and ``indices [..., *S]``."""
    batch_shape = values.shape[:-2]
    flat_values = values.reshape((-1,) + values.shape[-2:])
    flat_indices = indices.reshape((flat_values.shape[0], -1, 1))
    rows = jnp.take_along_axis(flat_values, flat_indices, axis=1)
    return rows.reshape(batch_shape + indices.shape[len(batch_shape) :] + values.shape[-1:])


def _triangle_setup(
    corners, triangles, height, width, *, cull_backfaces, perspective_correct, near, window
):
    """Per-triangle edge functions, pixel bounding box and tile count.

    Args:
      corners: ``[B, F, 3, 3]`` screen-space corners of every triangle.
      triangles: ``[F, 3]`` vertex indices (to order each edge's endpoints canonically).

    Returns:
      ``params [B, F, 3 * _EDGE_PARAMS]`` float, ``box [B, F, 5]`` int32 (first row, first
      column, last row, last column, tile columns) and ``num_tiles [B, F]`` int32.
    """
    xy = corners[..., :2]
    depth = corners[..., 2]
    e1 = xy[..., 1, :] - xy[..., 0, :]
    e2 = xy[..., 2, :] - xy[..., 0, :]
    area2 = e1[..., 0] * e2[..., 1] - e2[..., 0] * e1[..., 1]
    valid = (area2 != 0) & jnp.all(depth > near, axis=-1)
    valid &= jnp.all(jnp.isfinite(corners), axis=(-2, -1))
    if cull_backfaces:
        valid &= area2 < 0
    orientation = jnp.where(area2 > 0, 1.0, -1.0).astype(corners.dtype)

    # Endpoints in vertex-index order, so a shared edge is evaluated identically by both sides.
    start = jnp.asarray(_EDGE_START)
    end = jnp.asarray(_EDGE_END)
    swap = (triangles[:, start] > triangles[:, end])[None, :, :, None]  # [1, F, 3, 1]
    origin = jnp.where(swap, xy[..., end, :], xy[..., start, :])  # [B, F, 3, 2]
    direction = jnp.where(swap, xy[..., start, :], xy[..., end, :]) - origin
    sign = jnp.where(swap[..., 0], -1.0, 1.0).astype(corners.dtype) * orientation[..., None]
    # Edge function sign * cross(direction, p - origin) is positive inside; its gradient in p,
    # sign * (-dy, dx), points into the triangle. Top-left rule: own the edge if that is +x,
    # or +y for a horizontal edge.
    inward_x = -sign * direction[..., 1]
    inward_y = sign * direction[..., 0]
    top_left = (inward_x > 0) | ((inward_x == 0) & (inward_y > 0))

    # The edge functions sum to |area2|, so E_i / |area2| are the screen barycentrics. The
    # depth key is compared by scatter-min: -1/depth (perspective), depth (orthographic).
    safe_depth = jnp.where(valid[..., None], depth, 1.0)
    inv_area = 1.0 / jnp.where(valid, jnp.abs(area2), 1.0)
    if perspective_correct:
        key_coef = -inv_area[..., None] / safe_depth
    else:
        key_coef = inv_area[..., None] * safe_depth
    params = jnp.stack(
        [
            origin[..., 0],
            origin[..., 1],
            direction[..., 0],
            direction[..., 1],
            sign,
            top_left.astype(corners.dtype),
            key_coef,
        ],
        axis=-1,
    )  # [B, F, 3, _EDGE_PARAMS]

    # Pixel rows/columns whose centres lie inside the bounding box, clipped to the image.
    # Coordinates are clipped before the int cast so huge values cannot overflow.
    lo = jnp.clip(jnp.min(xy, axis=-2) - 0.5, -1.0, float(max(height, width)))
    hi = jnp.clip(jnp.max(xy, axis=-2) - 0.5, -1.0, float(max(height, width)))
    first_col = jnp.maximum(jnp.ceil(lo[..., 0]).astype(jnp.int32), 0)
    first_row = jnp.maximum(jnp.ceil(lo[..., 1]).astype(jnp.int32), 0)
    last_col = jnp.minimum(jnp.floor(hi[..., 0]).astype(jnp.int32), width - 1)
    last_row = jnp.minimum(jnp.floor(hi[..., 1]).astype(jnp.int32), height - 1)
    tile_cols = jnp.maximum((last_col - first_col) // window + 1, 0)
    tile_rows = jnp.maximum((last_row - first_row) // window + 1, 0)
    num_tiles = jnp.where(valid, tile_cols * tile_rows, 0)
    box = jnp.stack([first_row, first_col, last_row, last_col, jnp.maximum(tile_cols, 1)], -1)
    return params.reshape(params.shape[:2] + (-1,)), box, num_tiles


def _visible_triangles(
    screen_vertices,
    triangles,
    height,
    width,
    *,
    cull_backfaces,
    perspective_correct,
    near,
    window,
    max_tiles,
):
    """Visibility pass: ``triangle_id [B, H, W]`` int32 (-1 background), ``overflow [B]``."""
    batch, num_triangles = screen_vertices.shape[0], triangles.shape[0]
    dtype = screen_vertices.dtype
    corners = screen_vertices[:, triangles]  # [B, F, 3, 3]
    params, box, num_tiles = _triangle_setup(
        corners,
        triangles,
        height,
        width,
        cull_backfaces=cull_backfaces,
        perspective_correct=perspective_correct,
        near=near,
        window=window,
    )

    # Lay the tiles of all triangles end to end: triangle f owns slots [start_f, start_f + n_f).
    # Marking each start and taking a running sum gives every slot its owner in O(F + T).
    first_slot = jnp.cumsum(num_tiles, axis=1) - num_tiles  # [B, F]
    used = jnp.minimum(jnp.sum(num_tiles, axis=1), max_tiles)  # [B]
    overflow = jnp.sum((first_slot + num_tiles > max_tiles) & (num_tiles > 0), axis=1)
    row_offset = (jnp.arange(batch, dtype=jnp.int32) * (max_tiles + 1))[:, None]
    marks = jnp.zeros(batch * (max_tiles + 1), jnp.int32)
    marks = marks.at[(row_offset + jnp.minimum(first_slot, max_tiles)).reshape(-1)].add(1)
    marks = marks.reshape(batch, max_tiles + 1)[:, :max_tiles]
    owner = jnp.cumsum(marks, axis=1) - 1  # [B, T]
    slot = jnp.arange(max_tiles, dtype=jnp.int32)[None, :]
    tile_valid = slot < used[:, None]
    local = slot - jnp.take_along_axis(first_slot, owner, axis=1)
    tile_box = jnp.take_along_axis(box, owner[..., None], axis=1)  # [B, T, 5]
    tile_params = jnp.take_along_axis(params, owner[..., None], axis=1)  # [B, T, 3 * P]

    row0 = tile_box[..., 0] + (local // tile_box[..., 4]) * window
    col0 = tile_box[..., 1] + (local % tile_box[..., 4]) * window
    offsets = jnp.arange(window, dtype=jnp.int32)
    rows = row0[..., None, None] + offsets[None, None, :, None]  # [B, T, K, 1]
    cols = col0[..., None, None] + offsets[None, None, None, :]  # [B, T, 1, K]
    in_box = (rows <= tile_box[..., 2, None, None]) & (cols <= tile_box[..., 3, None, None])
    in_box &= tile_valid[..., None, None]

    px = cols.astype(dtype) + 0.5
    py = rows.astype(dtype) + 0.5
    inside = in_box
    key = jnp.zeros((), dtype)
    for edge in range(3):
        p = [tile_params[..., edge * _EDGE_PARAMS + k, None, None] for k in range(_EDGE_PARAMS)]
        ox, oy, dx, dy, sign, top_left, key_coef = p
        value = sign * (dx * (py - oy) - dy * (px - ox))
        inside &= (value > 0) | ((value == 0) & (top_left > 0))
        key = key + value * key_coef

    num_pixels = batch * height * width
    image_offset = (jnp.arange(batch, dtype=jnp.int32) * (height * width))[:, None, None, None]
    pixel = image_offset + rows * width + cols  # [B, T, K, K]
    pixel = jnp.where(inside, pixel, num_pixels).reshape(-1)
    key = jnp.broadcast_to(key, inside.shape).reshape(-1)
    zbuffer = jnp.full((num_pixels,), jnp.inf, dtype).at[pixel].min(key, mode="drop")
    # Among the candidates at the z-buffer depth, the smallest triangle id wins.
    nearest = key == zbuffer.at[pixel].get(mode="fill", fill_value=-jnp.inf)
    candidate_id = jnp.broadcast_to(owner[..., None, None], inside.shape).reshape(-1)
    ids = jnp.full((num_pixels,), num_triangles, jnp.int32)
    ids = ids.at[jnp.where(nearest, pixel, num_pixels)].min(candidate_id, mode="drop")
    ids = jnp.where(ids < num_triangles, ids, -1)
    return ids.reshape(batch, height, width), overflow.astype(jnp.int32)


def _interpolate_geometry(screen_vertices, triangles, triangle_id, *, perspective_correct):
    """Barycentrics ``[B, H, W, 3]``, depth ``[B, H, W]`` and mask of the visible triangles.

    Recomputed from the winning triangle's vertices so gradients reach ``screen_vertices``.
    """
    batch, height, width = triangle_id.shape
    dtype = screen_vertices.dtype
    covered = triangle_id >= 0
    corners = _gather_rows(screen_vertices, triangles[jnp.maximum(triangle_id, 0)])
    x, y, z = corners[..., 0], corners[..., 1], corners[..., 2]  # [B, H, W, 3]
    px = (jnp.arange(width, dtype=dtype) + 0.5)[None, None, :, None]
    py = (jnp.arange(height, dtype=dtype) + 0.5)[None, :, None, None]
    x1, y1 = x[..., _EDGE_START], y[..., _EDGE_START]
    x2, y2 = x[..., _EDGE_END], y[..., _EDGE_END]
    weights = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)  # [B, H, W, 3]
    # Safe denominators on background pixels keep NaNs out of the gradients of masked values.
    total = jnp.where(covered, jnp.sum(weights, axis=-1), 1.0)
    screen_bary = weights / total[..., None]
    if perspective_correct:
        scaled = screen_bary / jnp.where(covered[..., None], z, 1.0)
        inverse_depth = jnp.where(covered, jnp.sum(scaled, axis=-1), 1.0)
        barycentric = scaled / inverse_depth[..., None]
        depth = 1.0 / inverse_depth
    else:
        barycentric = screen_bary
        depth = jnp.sum(screen_bary * z, axis=-1)
    barycentric = jnp.where(covered[..., None], barycentric, 0.0)
    depth = jnp.where(covered, depth, jnp.inf)
    return barycentric, depth, covered.astype(dtype)
