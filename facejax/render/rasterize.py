"""Z-buffer triangle rasterization in pure JAX: visibility by scatter-min, values by gather.

The rasterizer runs the same XLA program on CPU, GPU and TPU: no CUDA kernel, no OpenGL. It works
in three passes over static shapes:

1. **Tiles.** Every triangle's pixel bounding box is cut into ``window x window`` tiles anchored
   at the box's top-left pixel, so a triangle smaller than the window costs one tile and a larger
   one several. The tiles of all triangles are laid end to end in a buffer of ``max_tiles``
   entries (an exclusive cumulative sum gives each triangle its first slot); a triangle whose
   tiles do not all fit is counted in ``Fragments.overflow_count`` rather than lost silently.
   Every slot costs work whether used or not, so when all the tiles fit a much smaller buffer
   (a dense mesh of small triangles: about one slot per triangle) the pass draws in that one
   instead (``tile_budgets``; a ``lax.cond`` on the tile count, the same pixels either way).
2. **Visibility.** Each tile tests its pixel centres against the triangle's three edge functions
   with a top-left fill rule, a scatter-min of depth builds the z-buffer and a second scatter-min
   over the candidates that reach it picks the smallest triangle id. Scatter-min is commutative,
   so the result does not depend on the order XLA applies the updates in: it is deterministic.
3. **Barycentrics.** Each pixel gathers its winning triangle's three vertices and recomputes the
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

import functools
import math

import jax
import jax.numpy as jnp
from flax import struct
from jax import custom_batching

from facejax.render import tiles

# Columns of the per-triangle table, per edge: origin (x, y), signed direction (x, y),
# depth-key coefficient. (The top-left flag follows from the direction: computed per tile.)
_EDGE_PARAMS = 5
# Pixel tests per visibility chunk on accelerators (see default_batch_chunk).
_TESTS_PER_CHUNK = 1 << 24
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


def default_window(num_triangles: int, height: int, width: int, backend: str | None = None) -> int:
    """Tile side used when ``rasterize`` is not given one.

    On CPU, 2 when the mesh has at least one triangle per ``2 x 2`` block of pixels (a
    triangle's box then mostly fits one such tile), else 4. A pixel test costs about the same
    whether it passes or not, so a dense mesh pays for the empty pixels of larger tiles
    (measured on the 2-core CPU, docs/render.md: 70,688 triangles at 224 px, forward 6.1 against
    7.8 ms per image; the embedded 12,336-triangle model at 64 px, 1.14 against 1.72; at 224 px,
    where the rule picks 4, 3.45 against 3.54). Elsewhere 4 (the window the GPU figures were
    taken with; 2 not measured there).

    Args:
      num_triangles: ``F``.
      height, width: the image size.
      backend: ``"cpu"``, ``"gpu"``, ``"tpu"``; ``None`` for ``jax.default_backend()``.
    """
    if (backend or jax.default_backend()) == "cpu" and 4 * num_triangles >= height * width:
        return 2
    return 4


def default_max_tiles(num_triangles: int, height: int, width: int, window: int) -> int:
    """Tile budget used when ``rasterize`` is not given one.

    One tile per triangle plus enough extra tiles for bounding boxes covering the image four
    times over: room for a dense mesh of small triangles together with a few large ones.
    """
    return num_triangles + 4 * math.ceil(height / window) * math.ceil(width / window)


def tile_budgets(
    num_triangles: int, height: int, width: int, window: int, max_tiles: int
) -> tuple[int, ...]:
    """The tile buffers the visibility pass may draw in: ``(max_tiles,)`` or ``(small,
    max_tiles)``.

    Every slot of the buffer costs a gather of its triangle's row and ``window**2`` pixel tests,
    used or not. The default budget leaves room for large triangles (``default_max_tiles``); a
    dense mesh whose triangles each fit one tile uses little of it (the 70,688-triangle face at
    224 px: 70,688 of 120,864 slots). So the pass first counts the tiles, and draws in
    ``small`` slots (one per triangle and a quarter of the image's tiles) when they all fit.
    The tiles take the same slots in either buffer: the pixels do not depend on the choice.
    """
    small = num_triangles + -(-math.ceil(height / window) * math.ceil(width / window) // 4)
    return (small, max_tiles) if small < max_tiles else (max_tiles,)


def default_batch_chunk(max_tiles: int, window: int, backend: str | None = None) -> int:
    """Images per visibility chunk when ``rasterize`` is not told.

    On CPU, 1: one image already fills the cores, and more images at once only push the
    working set out of the cache (measured: 32 face images at 224 px at once are 5x slower per
    image, 11 images of an 8k-triangle mesh at 112 px 2x). Elsewhere about ``2**24`` pixel
    tests per chunk: parallel work for an accelerator with bounded memory (not measured).

    Args:
      max_tiles: the tile budget per image.
      window: the tile side.
      backend: ``"cpu"``, ``"gpu"``, ``"tpu"``; ``None`` for ``jax.default_backend()``.
    """
    if (backend or jax.default_backend()) == "cpu":
        return 1
    return max(1, _TESTS_PER_CHUNK // (max_tiles * window * window))


def rasterize(
    screen_vertices: jax.Array,
    triangles: jax.Array,
    height: int,
    width: int,
    *,
    cull_backfaces: bool = False,
    perspective_correct: bool = True,
    near: float | None = None,
    window: int | None = None,
    max_tiles: int | None = None,
    batch_chunk: int | None = None,
) -> Fragments:
    """Rasterizes triangles given in screen space with a z-buffer.

    Pixels are sampled at their centres ``(j + 0.5, i + 0.5)``. Triangles with a vertex at depth
    ``<= near`` (behind or too close to the camera) are dropped whole, not clipped; so are
    degenerate (zero-area) ones and ones with a non-finite coordinate. Where several triangles
    reach a pixel at bit-identical depth (duplicates), the smallest triangle index wins.

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
      near: triangles with any vertex depth ``<= near`` are dropped. ``None``: 0 when
        ``perspective_correct`` (a vertex behind the camera), no test otherwise (an
        orthographic depth only orders surfaces and may be negative).
      window: tile side in pixels (static). A triangle costs ``ceil(rows / window) *
        ceil(cols / window)`` tiles of ``window**2`` pixel tests; about the side of a typical
        triangle's bounding box is fastest. ``None``: ``default_window`` (2 for a mesh with at
        least one triangle per 2 x 2 pixels on CPU, else 4). The pixels drawn do not depend
        on it.
      max_tiles: tile budget per image (static); ``None`` takes ``default_max_tiles``.
      batch_chunk: images whose visibility is computed together (static; a ``jax.lax.map`` runs
        over the chunks). ``None``: ``default_batch_chunk``: 1 on CPU, where more at once only
        thrashes the cache (5x slower per image for 32 face images), about 16M pixel tests on
        accelerators. Pass the batch size to do all at once. Under ``jax.vmap`` the mapped
        images join the batch and are chunked with it.

    Returns:
      ``Fragments`` with ``[..., H, W]`` maps.
    """
    screen_vertices = jnp.asarray(screen_vertices)
    triangles = jnp.asarray(triangles)
    if window is None:
        window = default_window(triangles.shape[0], height, width)
    _check_inputs(screen_vertices, triangles, height, width, window, max_tiles, batch_chunk)
    if max_tiles is None:
        max_tiles = default_max_tiles(triangles.shape[0], height, width, window)
    if near is None and perspective_correct:
        near = 0.0
    if batch_chunk is None:
        batch_chunk = default_batch_chunk(max_tiles, window)
    batch_shape = screen_vertices.shape[:-2]
    flat = screen_vertices.reshape((-1,) + screen_vertices.shape[-2:])
    triangles = triangles.astype(jnp.int32)

    visibility = _batched_visibility(
        height,
        width,
        cull_backfaces=cull_backfaces,
        perspective_correct=perspective_correct,
        near=near,
        window=window,
        budgets=tile_budgets(triangles.shape[0], height, width, window, max_tiles),
        batch_chunk=batch_chunk,
    )
    # Visibility carries no gradient; only it is chunked, so the loop has nothing to
    # differentiate. The interpolation below is cheap and runs on the whole batch at once.
    triangle_id, overflow = visibility(jax.lax.stop_gradient(flat), triangles)
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


def _batched_visibility(height, width, *, batch_chunk, budgets, **options):
    """``visibility(vertices [N, V, 3], triangles [F, 3])`` -> ``(triangle_id [N, H, W],
    overflow [N])``.

    The ``N`` images go through ``_visible_triangles`` ``batch_chunk`` at a time (a
    ``jax.lax.map`` over the chunks). Under ``jax.vmap`` the mapped images join the ``N`` and
    are chunked the same way (a ``custom_vmap`` rule): vmapping a single-image render costs what
    the native batch does, where plain batching would test every image's pixels at once (3x
    slower per image on CPU for 8 face images, issue 16).
    """

    def chunked(vertices, triangles, budgets):
        def visible(chunk):  # [b, V, 3] -> triangle_id [b, H, W], overflow [b]
            return _visible_triangles(chunk, triangles, height, width, budgets=budgets, **options)

        num_images = vertices.shape[0]
        if num_images <= batch_chunk:
            return visible(vertices)
        num_chunks = -(-num_images // batch_chunk)
        padding = num_chunks * batch_chunk - num_images
        filler = jnp.broadcast_to(vertices[:1], (padding,) + vertices.shape[1:])
        padded = jnp.concatenate([vertices, filler])
        chunks = padded.reshape((num_chunks, batch_chunk) + vertices.shape[1:])
        triangle_id, overflow = jax.lax.map(visible, chunks)
        triangle_id = triangle_id.reshape((-1, height, width))[:num_images]
        return triangle_id, overflow.reshape(-1)[:num_images]

    @custom_batching.custom_vmap
    def visibility(vertices, triangles):
        return chunked(vertices, triangles, budgets)

    @visibility.def_vmap
    def _vmap_rule(axis_size, in_batched, vertices, triangles):
        vertices_batched, triangles_batched = in_batched
        if triangles_batched:  # a mesh per mapped image: no shared table, batch plainly
            # Batched, the choice of buffer would run both: keep only the full one.
            full = functools.partial(chunked, budgets=budgets[-1:])
            vertices_axis = 0 if vertices_batched else None
            mapped = jax.vmap(full, (vertices_axis, 0))(vertices, triangles)
            return mapped, (True, True)
        num_images = vertices.shape[1]
        triangle_id, overflow = visibility(vertices.reshape((-1,) + vertices.shape[2:]), triangles)
        triangle_id = triangle_id.reshape((axis_size, num_images, height, width))
        return (triangle_id, overflow.reshape(axis_size, num_images)), (True, True)

    return visibility


def _check_inputs(screen_vertices, triangles, height, width, window, max_tiles, batch_chunk):
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
    for name, value in (("max_tiles", max_tiles), ("batch_chunk", batch_chunk)):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise ValueError(f"{name} must be a positive Python int or None; got {value!r}")


def drawable_triangles(x, y, depth, *, cull_backfaces: bool, near):
    """The signed areas of the triangles and which of them are drawn at all.

    One test for the hard rasterizer and the soft silhouette, so that both draw the same
    triangles: a triangle is drawn when its screen area is not zero, its corners are finite,
    in front of ``near`` (unless ``near`` is ``None``) and, with ``cull_backfaces``, it faces
    the camera (negative signed area, see the module docstring).

    Args:
      x, y, depth: lists of the three corners' ``[B, F]`` values (``tiles.triangle_corners``).
      cull_backfaces: drop triangles with a positive signed area.
      near: drop triangles with a corner at depth ``<= near``; ``None`` keeps them.

    Returns:
      ``(area2 [B, F], valid [B, F] bool)``: twice the signed area in pixels, and the test.
    """
    # Only elementwise ops on [B, F] arrays: XLA on CPU is slow at reducing tiny axes.
    area2 = (x[1] - x[0]) * (y[2] - y[0]) - (x[2] - x[0]) * (y[1] - y[0])
    valid = area2 != 0
    for k in range(3):
        valid &= jnp.isfinite(x[k]) & jnp.isfinite(y[k]) & jnp.isfinite(depth[k])
        if near is not None:
            valid &= depth[k] > near
    if cull_backfaces:
        valid &= area2 < 0
    return area2, valid


def _triangle_table(x, y, depth, triangles, *, cull_backfaces, perspective_correct, near):
    """What a tile needs to know about its triangle, and which triangles are drawn.

    Args:
      x, y, depth: lists of the three corners' ``[B, F]`` values (``tiles.triangle_corners``).
      triangles: ``[F, 3]`` vertex indices (to order each edge's endpoints canonically).

    Returns:
      ``columns``: list of ``3 * _EDGE_PARAMS`` ``[B, F]`` arrays, per edge the origin (x, y),
      the direction (x, y) signed so the edge function is positive inside and the depth-key
      coefficient; and ``valid [B, F]`` bool.
    """
    area2, valid = drawable_triangles(x, y, depth, cull_backfaces=cull_backfaces, near=near)
    orientation = jnp.where(area2 > 0, 1.0, -1.0).astype(area2.dtype)

    # The edge functions sum to |area2|, so E_i / |area2| are the screen barycentrics. The
    # depth key is compared by scatter-min: -1/depth (perspective), depth (orthographic).
    inv_area = 1.0 / jnp.where(valid, jnp.abs(area2), 1.0)
    if perspective_correct:
        key_coef = [-inv_area / jnp.where(valid, d, 1.0) for d in depth]
    else:
        key_coef = [inv_area * d for d in depth]

    columns = []
    for edge in range(3):
        i, j = _EDGE_START[edge], _EDGE_END[edge]
        # Endpoints in vertex-index order, so a shared edge is evaluated identically by both
        # triangles; the sign (exact) then makes it positive inside each of them.
        swap = (triangles[:, i] > triangles[:, j])[None, :]  # [1, F]
        ox = jnp.where(swap, x[j], x[i])
        oy = jnp.where(swap, y[j], y[i])
        sign = jnp.where(swap, -orientation, orientation)
        dx = sign * (jnp.where(swap, x[i], x[j]) - ox)
        dy = sign * (jnp.where(swap, y[i], y[j]) - oy)
        columns += [ox, oy, dx, dy, key_coef[edge]]
    return columns, valid


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
    budgets,
):
    """Visibility pass: ``triangle_id [B, H, W]`` int32 (-1 background), ``overflow [B]``.

    ``budgets``: ``(max_tiles,)``, or ``(small, max_tiles)`` to draw in ``small`` slots when
    all the tiles fit there (overflow is then zero in both).
    """
    num_triangles = triangles.shape[0]
    dtype = screen_vertices.dtype
    x, y, depth = tiles.triangle_corners(screen_vertices, triangles)
    columns, valid = _triangle_table(
        x,
        y,
        depth,
        triangles,
        cull_backfaces=cull_backfaces,
        perspective_correct=perspective_correct,
        near=near,
    )
    box, num_tiles = tiles.pixel_boxes(x, y, height, width, window)
    table = jnp.stack(columns + [b.astype(dtype) for b in box], axis=-1)  # [B, F, P]
    num_tiles = jnp.where(valid, num_tiles, 0)

    def draw(budget):
        owner, local, used, overflow = tiles.assign_tiles(num_tiles, budget)
        tile = tiles.gather_rows(table, owner)  # [B, T, P]
        rows, cols, inside = tiles.tile_pixels(tile[..., len(columns) :], local, used, window)
        ids = _depth_test(tile, owner, rows, cols, inside, height, width, num_triangles)
        return ids, overflow

    if len(budgets) == 1:
        return draw(budgets[0])
    # The small buffer when all the tiles fit it (tile_budgets).
    fits = jnp.all(jnp.sum(num_tiles, axis=1) <= budgets[0])
    return jax.lax.cond(fits, lambda: draw(budgets[0]), lambda: draw(budgets[1]))


def _depth_test(tile, owner, rows, cols, inside, height, width, num_triangles):
    """The z-buffer over the tiles' pixel tests: ``triangle_id [B, H, W]`` (-1 background)."""
    batch = tile.shape[0]
    dtype = tile.dtype
    px = cols.astype(dtype) + 0.5
    py = rows.astype(dtype) + 0.5
    key = jnp.zeros((), dtype)
    for edge in range(3):
        edge_columns = tile[..., edge * _EDGE_PARAMS : (edge + 1) * _EDGE_PARAMS]
        ox, oy, dx, dy, key_coef = (edge_columns[..., k, None, None] for k in range(_EDGE_PARAMS))
        value = dx * (py - oy) - dy * (px - ox)
        # The edge function has gradient (-dy, dx), pointing inside. Top-left rule: own the
        # edge if that is +x, or +y for a horizontal edge.
        top_left = (dy < 0) | ((dy == 0) & (dx > 0))
        inside &= (value > 0) | ((value == 0) & top_left)
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
    return ids.reshape(batch, height, width)


def _interpolate_geometry(screen_vertices, triangles, triangle_id, *, perspective_correct):
    """Barycentrics ``[B, H, W, 3]``, depth ``[B, H, W]`` and mask of the visible triangles.

    Recomputed from the winning triangle's vertices so gradients reach ``screen_vertices``.
    Corners are handled as three ``[B, H, W]`` arrays, not a trailing axis of 3: XLA on CPU
    is many times slower at reducing such tiny axes.
    """
    batch, height, width = triangle_id.shape
    num_vertices = screen_vertices.shape[1]
    dtype = screen_vertices.dtype
    # Pixel rows [B * H, W] (rank 3): see interpolate.
    triangle_id = triangle_id.reshape(batch * height, width)
    covered = triangle_id >= 0
    vertex_ids = triangles[jnp.maximum(triangle_id, 0)]  # [B H, W, 3]
    first_vertex = jnp.arange(batch, dtype=jnp.int32) * num_vertices
    vertex_ids = vertex_ids + jnp.repeat(first_vertex, height)[:, None, None]
    planes = [screen_vertices[..., c].reshape(-1) for c in range(3)]
    x, y, z = ([p[vertex_ids[..., k]] for k in range(3)] for p in planes)
    px = (jnp.arange(width, dtype=dtype) + 0.5)[None, :]
    py = jnp.tile(jnp.arange(height, dtype=dtype) + 0.5, batch)[:, None]
    # Corner k seen from the pixel centre: (u_k, v_k). The edge function of the edge (i, j)
    # opposite a corner, (x_j - x_i)(py - y_i) - (y_j - y_i)(px - x_i), is the cross product
    # u_i v_j - u_j v_i: 15 operations a pixel for the three instead of 21, and a shorter
    # gradient.
    u = [px - corner_x for corner_x in x]
    v = [py - corner_y for corner_y in y]
    weights = [u[i] * v[j] - u[j] * v[i] for i, j in zip(_EDGE_START, _EDGE_END, strict=True)]
    # Safe denominators on background pixels keep NaNs out of the gradients of masked values.
    total = jnp.where(covered, weights[0] + weights[1] + weights[2], 1.0)
    if perspective_correct:
        # The screen barycentrics' normalisation (weights / total) cancels in the perspective
        # ones, (w_k / z_k) / sum_j (w_j / z_j): leaving it out saves three divisions a pixel
        # forward and their gradients backward (docs/performance.md, issue 16). The depth,
        # 1 / sum_j (w_j / total / z_j), is total / sum_j (w_j / z_j).
        scaled = [w / jnp.where(covered, d, 1.0) for w, d in zip(weights, z, strict=True)]
        inverse_sum = 1.0 / jnp.where(covered, scaled[0] + scaled[1] + scaled[2], 1.0)
        barycentric = [s * inverse_sum for s in scaled]
        depth = total * inverse_sum
    else:
        barycentric = [w / total for w in weights]
        depth = sum(b * d for b, d in zip(barycentric, z, strict=True))
    barycentric = jnp.where(covered[..., None], jnp.stack(barycentric, axis=-1), 0.0)
    depth = jnp.where(covered, depth, jnp.inf)
    maps = (barycentric, depth, covered.astype(dtype))
    return tuple(m.reshape((batch, height) + m.shape[1:]) for m in maps)
