"""A soft silhouette: coverage that changes smoothly as the mesh's outline moves.

The hard ``Fragments.mask`` is a step function of the vertex positions: a loss on it has no
gradient that moves a silhouette edge. This keeps the hard coverage inside the mesh and adds a
soft fringe outside it that falls off with the distance ``d`` (pixels) from the pixel centre
to the nearest triangle:

    silhouette(p) = 1                        where the mesh covers the pixel centre,
                    2 * sigmoid(-d / sigma)  elsewhere, within ``reach * sigma`` of a triangle,
                    0                        beyond.

The fringe is 1 at the outline, so the image is continuous across it, 0.54 one ``sigma`` out
and ``2 * sigmoid(-reach)`` (0.013 for the default 5) where it is cut off. Gradients flow from
the fringe pixels to the nearest triangle's vertices, which moves the outline both ways: a
pixel that should be covered pulls it out, one that should not pushes it in.

Unlike SoftRas (Liu et al., ICCV 2019), which blends every triangle's own soft coverage, only
the nearest triangle counts: a dense mesh (triangles smaller than ``sigma``) is not dilated by
the tails of its many triangles, and interior edges leave no seam. It is computed like the
z-buffer: a scatter-min of the squared distance over each triangle's grown box picks the
nearest triangle (no gradient), then each pixel recomputes its distance to that triangle.

Cost: every triangle tests the pixels of its box grown by ``reach * sigma``. For a dense mesh
pass ``triangle_mask=boundary_triangles(fragments, num_triangles)``, the triangles seen at the
hard outline, which are the nearest ones for nearly every fringe pixel.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from facejax.render import tiles
from facejax.render.rasterize import Fragments, drawable_triangles

# Per edge: origin (x, y), direction (x, y), 1 / |direction|^2.
_EDGE_COLUMNS = 5
_EDGE_START = (1, 2, 0)
_EDGE_END = (2, 0, 1)


def default_soft_max_tiles(
    num_triangles: int, height: int, width: int, window: int, margin: float
) -> int:
    """Tile budget of ``soft_silhouette``: each triangle's box grown by ``margin`` pixels."""
    per_triangle = (math.ceil((2.0 * margin + 1.0) / window) + 1) ** 2
    return num_triangles * per_triangle + 4 * math.ceil(height / window) * math.ceil(width / window)


def soft_silhouette(
    fragments: Fragments,
    screen_vertices: jax.Array,
    triangles: jax.Array,
    *,
    sigma: float = 1.0,
    reach: float = 5.0,
    cull_backfaces: bool = False,
    near: float | None = 0.0,
    triangle_mask: jax.Array | None = None,
    max_triangles: int | None = None,
    window: int = 4,
    max_tiles: int | None = None,
) -> jax.Array:
    """Hard coverage inside the mesh, a soft fringe outside it, differentiable at the outline.

    Args:
      fragments: the hard rasterization of the same vertices, maps ``[..., H, W]``.
      screen_vertices: ``[..., V, 3]`` pixel ``(x, y)`` and depth, as for ``rasterize``.
      triangles: ``[F, 3]`` int vertex indices.
      sigma: fringe width in pixels (static).
      reach: fringe cut-off in units of ``sigma`` (static).
      cull_backfaces: drop back faces, as the hard rasterization did.
      near: drop triangles with a vertex at depth ``<= near``, as the hard rasterization did;
        ``None`` for no test (orthographic).
      triangle_mask: optional ``[F]`` or ``[..., F]`` bool, the triangles that may be nearest,
        e.g. ``boundary_triangles(fragments, F)``. Only the first ``max_triangles`` of them (in
        index order) are searched: the cost follows that budget, not ``F``.
      max_triangles: budget for ``triangle_mask`` (static); ``None``: ``4 * (H + W)``, room
        for an outline as long as the image's border twice over, one triangle per pixel.
      window: tile side in pixels (static), as in ``rasterize``.
      max_tiles: tile budget per image (static); ``None`` takes ``default_soft_max_tiles`` for
        the triangles searched. Triangles whose tiles do not fit are not searched.

    Returns:
      ``[..., H, W]`` coverage in ``[0, 1]``.
    """
    screen_vertices = jnp.asarray(screen_vertices)
    triangles = jnp.asarray(triangles, jnp.int32)
    if screen_vertices.ndim < 2 or screen_vertices.shape[-1] != 3:
        raise ValueError(f"screen_vertices must be [..., V, 3]; got {screen_vertices.shape}")
    if triangles.ndim != 2 or triangles.shape[-1] != 3:
        raise ValueError(f"triangles must be [F, 3]; got shape {triangles.shape}")
    batch_shape = screen_vertices.shape[:-2]
    if fragments.triangle_id.shape[:-2] != batch_shape:
        raise ValueError(
            f"fragments {fragments.triangle_id.shape} and screen_vertices "
            f"{screen_vertices.shape} have different batch shapes"
        )
    if not sigma > 0 or not reach > 0:
        raise ValueError(f"sigma and reach must be positive; got {sigma}, {reach}")
    height, width = fragments.triangle_id.shape[-2:]
    margin = reach * sigma
    flat = screen_vertices.reshape((-1,) + screen_vertices.shape[-2:])
    num_triangles = triangles.shape[0]
    if triangle_mask is None:
        searched, present = triangles, None
    else:
        # The masked triangles' indices, compacted to a static budget per image.
        budget = min(num_triangles, max_triangles or 4 * (height + width))
        mask = jnp.broadcast_to(jnp.asarray(triangle_mask, bool), batch_shape + (num_triangles,))
        mask = jax.lax.stop_gradient(mask).reshape(flat.shape[0], num_triangles)
        chosen = jax.vmap(lambda m: jnp.nonzero(m, size=budget, fill_value=num_triangles)[0])(mask)
        present = chosen < num_triangles
        searched = triangles[jnp.minimum(chosen, num_triangles - 1)]  # [B, K, 3]
    if max_tiles is None:
        max_tiles = default_soft_max_tiles(searched.shape[-2], height, width, window, margin)
    nearest = _nearest_triangles(
        jax.lax.stop_gradient(flat),
        searched,
        height,
        width,
        margin=margin,
        cull_backfaces=cull_backfaces,
        near=near,
        present=present,
        window=window,
        max_tiles=max_tiles,
    )
    if triangle_mask is not None:
        original = jnp.take_along_axis(chosen, jnp.maximum(nearest, 0).reshape(len(chosen), -1), 1)
        nearest = jnp.where(nearest >= 0, original.reshape(nearest.shape), -1)
    distance = _distance_to(flat, triangles, nearest)
    fringe = jnp.where(nearest >= 0, 2.0 * jax.nn.sigmoid(-distance / sigma), 0.0)
    covered = fragments.triangle_id.reshape(nearest.shape) >= 0
    return jnp.where(covered, 1.0, fringe).astype(flat.dtype).reshape(batch_shape + (height, width))


def _nearest_triangles(
    screen_vertices,
    triangles,
    height,
    width,
    *,
    margin,
    cull_backfaces,
    near,
    present,
    window,
    max_tiles,
):
    """For each pixel, the triangle nearest to its centre within ``margin`` of its box.

    ``triangles`` is ``[F, 3]`` or ``[B, F, 3]``, ``present`` ``None`` or ``[B, F]`` bool.
    Returns ``[B, H, W]`` int32 indices into ``triangles`` (-1 where none), ties to the
    smallest.
    """
    batch, num_triangles = screen_vertices.shape[0], triangles.shape[-2]
    dtype = screen_vertices.dtype
    x, y, depth = tiles.triangle_corners(screen_vertices, triangles)
    _, valid = drawable_triangles(x, y, depth, cull_backfaces=cull_backfaces, near=near)
    if present is not None:
        valid &= present

    columns = []
    for i, j in zip(_EDGE_START, _EDGE_END, strict=True):
        dx, dy = x[j] - x[i], y[j] - y[i]
        columns += [x[i], y[i], dx, dy, 1.0 / jnp.where(valid, dx * dx + dy * dy, 1.0)]
    box, num_tiles = tiles.pixel_boxes(x, y, height, width, window, margin)
    table = jnp.stack(columns + [b.astype(dtype) for b in box], axis=-1)
    owner, local, used, _ = tiles.assign_tiles(jnp.where(valid, num_tiles, 0), max_tiles)
    tile = tiles.gather_rows(table, owner)  # [B, T, P]
    rows, cols, in_box = tiles.tile_pixels(tile[..., len(columns) :], local, used, window)

    px = cols.astype(dtype) + 0.5
    py = rows.astype(dtype) + 0.5
    squared = None
    for edge in range(3):
        ox, oy, dx, dy, inv_squared = (
            tile[..., edge * _EDGE_COLUMNS + k, None, None] for k in range(_EDGE_COLUMNS)
        )
        rx, ry = px - ox, py - oy
        along = jnp.clip((rx * dx + ry * dy) * inv_squared, 0.0, 1.0)
        edge_squared = (rx - along * dx) ** 2 + (ry - along * dy) ** 2
        squared = edge_squared if squared is None else jnp.minimum(squared, edge_squared)

    num_pixels = batch * height * width
    image_offset = (jnp.arange(batch, dtype=jnp.int32) * (height * width))[:, None, None, None]
    pixel = jnp.where(in_box, image_offset + rows * width + cols, num_pixels).reshape(-1)
    squared = jnp.broadcast_to(squared, in_box.shape).reshape(-1)
    best = jnp.full((num_pixels,), jnp.inf, dtype).at[pixel].min(squared, mode="drop")
    is_best = squared == best.at[pixel].get(mode="fill", fill_value=-jnp.inf)
    candidate_id = jnp.broadcast_to(owner[..., None, None], in_box.shape).reshape(-1)
    ids = jnp.full((num_pixels,), num_triangles, jnp.int32)
    ids = ids.at[jnp.where(is_best, pixel, num_pixels)].min(candidate_id, mode="drop")
    return jnp.where(ids < num_triangles, ids, -1).reshape(batch, height, width)


def _distance_to(screen_vertices, triangles, triangle_id):
    """Distance ``[B, H, W]`` from each pixel centre to the boundary of ``triangle_id``.

    Differentiable in ``screen_vertices``; the value is meaningless where ``triangle_id < 0``.
    """
    batch, height, width = triangle_id.shape
    num_vertices = screen_vertices.shape[1]
    dtype = screen_vertices.dtype
    vertex_ids = triangles[jnp.maximum(triangle_id, 0)]  # [B, H, W, 3]
    first_vertex = jnp.arange(batch, dtype=jnp.int32) * num_vertices
    vertex_ids = vertex_ids + first_vertex[:, None, None, None]
    planes = [screen_vertices[..., c].reshape(-1) for c in range(2)]
    x, y = ([plane[vertex_ids[..., k]] for k in range(3)] for plane in planes)
    px = (jnp.arange(width, dtype=dtype) + 0.5)[None, None, :]
    py = (jnp.arange(height, dtype=dtype) + 0.5)[None, :, None]
    squared = None
    for i, j in zip(_EDGE_START, _EDGE_END, strict=True):
        dx, dy = x[j] - x[i], y[j] - y[i]
        rx, ry = px - x[i], py - y[i]
        length = jnp.maximum(dx * dx + dy * dy, jnp.finfo(dtype).tiny)
        along = jnp.clip((rx * dx + ry * dy) / length, 0.0, 1.0)
        edge_squared = (rx - along * dx) ** 2 + (ry - along * dy) ** 2
        squared = edge_squared if squared is None else jnp.minimum(squared, edge_squared)
    # The floor keeps sqrt's gradient finite for a centre exactly on the outline.
    return jnp.sqrt(jnp.maximum(squared, jnp.finfo(dtype).tiny))


def boundary_triangles(fragments: Fragments, num_triangles: int) -> jax.Array:
    """Triangles seen at the outline of a hard render: covered pixels next to background.

    Args:
      fragments: from ``rasterize``, maps ``[..., H, W]``.
      num_triangles: ``F`` (static).

    Returns:
      ``[..., F]`` bool, for ``soft_silhouette(triangle_mask=...)``. Outside the image counts
      as background.
    """
    ids = fragments.triangle_id
    pad = [(0, 0)] * (ids.ndim - 2) + [(1, 1), (1, 1)]
    background = jnp.pad(ids < 0, pad, constant_values=True)
    next_to_background = (
        background[..., :-2, 1:-1]
        | background[..., 2:, 1:-1]
        | background[..., 1:-1, :-2]
        | background[..., 1:-1, 2:]
    )
    seen = jnp.where(next_to_background & (ids >= 0), ids, num_triangles)
    batch_shape = ids.shape[:-2]
    flat = seen.reshape((-1, ids.shape[-2] * ids.shape[-1]))
    image = jnp.arange(flat.shape[0], dtype=jnp.int32)[:, None] * (num_triangles + 1)
    marks = jnp.zeros(flat.shape[0] * (num_triangles + 1), bool)
    marks = marks.at[(flat + image).reshape(-1)].set(True)
    marks = marks.reshape(flat.shape[0], num_triangles + 1)[:, :num_triangles]
    return marks.reshape(batch_shape + (num_triangles,))
