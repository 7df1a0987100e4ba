"""Triangles' pixel boxes cut into fixed ``window x window`` tiles, with static shapes.

A pass over triangles (the z-buffer, the soft silhouette) needs, for each triangle, the pixels
near it. Each triangle's pixel bounding box is cut into tiles anchored at its top-left pixel;
the tiles of all triangles are laid end to end in a buffer of ``max_tiles`` slots. A small
triangle costs one tile, a large one several, and the triangles whose tiles do not all fit are
counted (``overflow``) rather than lost silently.

Per-triangle values travel to the tiles as rows of one float table ``[B, F, P]`` (one
contiguous gather per tile, much faster on CPU than a gather per value); the pixel box is
stored in its last ``NUM_BOX_COLUMNS`` columns as exact small integers.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# First row, first column, last row, last column, tiles per row.
NUM_BOX_COLUMNS = 5


def triangle_corners(screen_vertices: jax.Array, triangles: jax.Array):
    """``(x, y, depth)``, each a list of the three corners' ``[B, F]`` values.

    Args:
      screen_vertices: ``[B, V, 3]``.
      triangles: ``[F, 3]`` shared by the images, or ``[B, F, 3]`` one list per image.

    One contiguous array per value: XLA on CPU reads its inputs anew for every output column
    of a per-triangle table, and is slow at reducing tiny trailing axes.
    """
    planes = [screen_vertices[..., c] for c in range(3)]  # [B, V] each
    if triangles.ndim == 2:
        return tuple([plane[:, triangles[:, k]] for k in range(3)] for plane in planes)
    batch, num_vertices = screen_vertices.shape[:2]
    ids = triangles + (jnp.arange(batch, dtype=jnp.int32) * num_vertices)[:, None, None]
    return tuple([plane.reshape(-1)[ids[..., k]] for k in range(3)] for plane in planes)


def pixel_boxes(x, y, height: int, width: int, window: int, margin: float = 0.0):
    """Pixels whose centres lie within ``margin`` of a triangle's bounding box.

    Args:
      x, y: lists of the three corners' ``[B, F]`` pixel coordinates.
      height, width: image size; boxes are clipped to it.
      window: tile side in pixels.
      margin: grow each box by this many pixels on every side.

    Returns:
      ``box``: list of ``NUM_BOX_COLUMNS`` int32 ``[B, F]`` arrays (see above; tiles per row is
      at least 1), and ``num_tiles [B, F]`` int32 (0 for a box with no pixel centre).
    """
    # Clipped before the int cast so huge or infinite coordinates cannot overflow.
    bound = float(max(height, width)) + 1.0
    lo_x = jnp.minimum(jnp.minimum(x[0], x[1]), x[2]) - (0.5 + margin)
    lo_y = jnp.minimum(jnp.minimum(y[0], y[1]), y[2]) - (0.5 + margin)
    hi_x = jnp.maximum(jnp.maximum(x[0], x[1]), x[2]) + (margin - 0.5)
    hi_y = jnp.maximum(jnp.maximum(y[0], y[1]), y[2]) + (margin - 0.5)
    first_col = jnp.maximum(jnp.ceil(jnp.clip(lo_x, -1.0, bound)).astype(jnp.int32), 0)
    first_row = jnp.maximum(jnp.ceil(jnp.clip(lo_y, -1.0, bound)).astype(jnp.int32), 0)
    last_col = jnp.minimum(jnp.floor(jnp.clip(hi_x, -1.0, bound)).astype(jnp.int32), width - 1)
    last_row = jnp.minimum(jnp.floor(jnp.clip(hi_y, -1.0, bound)).astype(jnp.int32), height - 1)
    tile_cols = jnp.maximum((last_col - first_col) // window + 1, 0)
    tile_rows = jnp.maximum((last_row - first_row) // window + 1, 0)
    box = [first_row, first_col, last_row, last_col, jnp.maximum(tile_cols, 1)]
    return box, tile_cols * tile_rows


def assign_tiles(num_tiles: jax.Array, max_tiles: int):
    """Lays the tiles of all triangles end to end in ``max_tiles`` slots per image.

    Triangle ``f`` owns slots ``[start_f, start_f + num_tiles_f)`` with ``start`` the exclusive
    running sum; marking each start and taking a running sum gives every slot its owner in
    ``O(F + T)``.

    Args:
      num_tiles: ``[B, F]`` int32 tiles wanted by each triangle.
      max_tiles: slots per image ``T`` (static).

    Returns:
      ``owner [B, T]`` triangle of each slot, ``local [B, T]`` index of the slot among its
      triangle's tiles, ``used [B, T]`` bool (slot holds a tile), ``overflow [B]`` int32
      (triangles some of whose tiles got no slot).
    """
    batch, num_triangles = num_tiles.shape
    first_slot = jnp.cumsum(num_tiles, axis=1) - num_tiles  # [B, F]
    total = jnp.minimum(jnp.sum(num_tiles, axis=1), max_tiles)  # [B]
    overflow = jnp.sum((first_slot + num_tiles > max_tiles) & (num_tiles > 0), axis=1)
    image = jnp.arange(batch, dtype=jnp.int32)[:, None]
    marks = jnp.zeros(batch * (max_tiles + 1), jnp.int32)
    start = image * (max_tiles + 1) + jnp.minimum(first_slot, max_tiles)
    marks = marks.at[start.reshape(-1)].add(1).reshape(batch, max_tiles + 1)[:, :max_tiles]
    owner = jnp.cumsum(marks, axis=1) - 1  # [B, T]
    slot = jnp.arange(max_tiles, dtype=jnp.int32)[None, :]
    owner_first = first_slot.reshape(-1)[(owner + image * num_triangles).reshape(-1)]
    local = slot - owner_first.reshape(batch, max_tiles)
    return owner, local, slot < total[:, None], overflow.astype(jnp.int32)


def gather_rows(table: jax.Array, owner: jax.Array) -> jax.Array:
    """``table[b, owner[b, t]]``: rows ``[B, T, P]`` of a per-triangle table ``[B, F, P]``."""
    batch, num_triangles = table.shape[:2]
    image = jnp.arange(batch, dtype=jnp.int32)[:, None]
    rows = table.reshape((batch * num_triangles,) + table.shape[2:])
    return rows[(owner + image * num_triangles).reshape(-1)].reshape(owner.shape + table.shape[2:])


def tile_pixels(box: jax.Array, local: jax.Array, used: jax.Array, window: int):
    """Pixel rows and columns of every tile, and which of them lie in its triangle's box.

    Args:
      box: ``[B, T, NUM_BOX_COLUMNS]`` (any dtype holding the exact integers) of each tile's
        triangle.
      local, used: from ``assign_tiles``.
      window: tile side ``K``.

    Returns:
      ``rows [B, T, K, 1]``, ``cols [B, T, 1, K]`` int32 and ``in_box [B, T, K, K]`` bool.
    """
    first_row, first_col, last_row, last_col, tile_cols = (
        box[..., k].astype(jnp.int32) for k in range(NUM_BOX_COLUMNS)
    )
    row0 = first_row + (local // tile_cols) * window
    col0 = first_col + (local % tile_cols) * window
    offsets = jnp.arange(window, dtype=jnp.int32)
    rows = row0[..., None, None] + offsets[None, None, :, None]
    cols = col0[..., None, None] + offsets[None, None, None, :]
    in_box = (rows <= last_row[..., None, None]) & (cols <= last_col[..., None, None])
    return rows, cols, in_box & used[..., None, None]
