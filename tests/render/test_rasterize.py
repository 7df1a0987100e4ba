"""facejax.render.rasterize on cases whose answer is known exactly."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax.render import (
    default_batch_chunk,
    default_max_tiles,
    default_window,
    interpolate,
    rasterize,
    tiles,
)
from facejax.render.rasterize import _visible_triangles, tile_budgets

_raster = jax.jit(
    rasterize,
    static_argnames=(
        "height",
        "width",
        "cull_backfaces",
        "perspective_correct",
        "near",
        "window",
        "max_tiles",
    ),
)
NUM_VERTICES, NUM_TRIANGLES = 16, 8


def raster(vertices, triangles, **kwargs):
    """A 16 x 16 rasterization of the mesh padded to 16 vertices and 8 triangles.

    The extra triangles repeat vertex 0 (zero area, so dropped: that is tested too) and every
    test shares one compiled program per option set.
    """
    padded = np.zeros((NUM_VERTICES, 3), np.float32)
    padded[: len(vertices)] = vertices
    indices = np.zeros((NUM_TRIANGLES, 3), np.int32)
    indices[: len(triangles)] = triangles
    return _raster(padded, indices, height=16, width=16, **kwargs)


def _square(lo, hi, depth=1.0):
    vertices = np.array(
        [[lo, lo, depth], [hi, lo, depth], [hi, hi, depth], [lo, hi, depth]], np.float32
    )
    return vertices, np.array([[0, 1, 2], [0, 2, 3]], np.int32)


def test_square_coverage_equals_area_and_shared_edge_covered_once():
    vertices, triangles = _square(3.0, 13.0)
    frags = raster(vertices, triangles)
    inside = np.zeros((16, 16), bool)
    inside[3:13, 3:13] = True
    np.testing.assert_array_equal(frags.mask, inside)
    # The diagonal passes through 10 pixel centres; each triangle alone shows who owns them.
    alone = [raster(vertices, triangles[k : k + 1]).mask for k in range(2)]
    np.testing.assert_array_equal(alone[0] + alone[1], inside.astype(np.float32))
    diagonal = np.arange(3, 13)
    np.testing.assert_array_equal(np.asarray(alone[0])[diagonal, diagonal], 1.0)


def test_fan_around_a_pixel_centre_covers_every_centre_once():
    # Eight triangles around the centre of pixel (8, 8), with horizontal, vertical and diagonal
    # edges through pixel centres (also the shared vertex itself): a partition of the square.
    c, r = 8.5, 6.0
    ring = [(c + r, c), (c + r, c + r), (c, c + r), (c - r, c + r)]
    ring += [(c - r, c), (c - r, c - r), (c, c - r), (c + r, c - r)]
    vertices = np.array([(c, c, 2.0)] + [(x, y, 2.0) for x, y in ring], np.float32)
    triangles = np.array([[0, 1 + k, 1 + (k + 1) % 8] for k in range(8)], np.int32)
    total = sum(np.asarray(raster(vertices, triangles[k : k + 1]).mask) for k in range(8))
    # Centres 2.5 .. 14.5 lie in the square; its left and top edges are owned, right and
    # bottom ones are not: rows and columns 2 .. 13, each exactly once.
    inside = np.zeros((16, 16), np.float32)
    inside[2:14, 2:14] = 1.0
    np.testing.assert_array_equal(total, inside)


def test_right_triangle_pixel_count():
    # Legs of 14 px: centres with i + j <= 12 are strictly inside (91 of them); the 14 on the
    # hypotenuse are not owned (the interior lies towards -x), so coverage is area - 7.
    vertices = np.array([[0.0, 0.0, 1.0], [14.0, 0.0, 1.0], [0.0, 14.0, 1.0]], np.float32)
    frags = raster(vertices, np.array([[0, 1, 2]], np.int32))
    assert float(frags.mask.sum()) == 14 * 14 / 2 - 7


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_nearer_triangle_wins_regardless_of_order(order):
    near_tri = [[2.0, 2.0, 2.0], [14.0, 2.0, 2.0], [2.0, 14.0, 2.0]]
    far_tri = [[4.0, 4.0, 5.0], [15.0, 4.0, 5.0], [4.0, 15.0, 5.0]]
    vertices = np.array([near_tri, far_tri][order[0]] + [near_tri, far_tri][order[1]], np.float32)
    triangles = np.array([[0, 1, 2], [3, 4, 5]], np.int32)
    frags = raster(vertices, triangles)
    near_id = order.index(0)
    assert int(frags.triangle_id[5, 5]) == near_id
    assert float(frags.depth[5, 5]) == pytest.approx(2.0)
    assert int(frags.triangle_id[13, 4]) == 1 - near_id  # only the far one reaches there
    assert float(frags.depth[13, 4]) == pytest.approx(5.0)


def test_equal_depth_smallest_id_wins():
    # Triangle 0 lies elsewhere; 1, 2 and 3 are copies (bit-identical depths) in the same place.
    vertices = np.array(
        [[2.0, 2.0, 1.5], [12.0, 2.0, 1.5], [2.0, 12.0, 1.5], [14.0, 14.0, 1.0], [13.0, 14.0, 1.0]],
        np.float32,
    )
    triangles = np.array([[3, 4, 2], [0, 1, 2], [0, 1, 2], [0, 1, 2]], np.int32)
    for order in ([0, 1, 2, 3], [0, 3, 2, 1]):
        frags = raster(vertices, triangles[order])
        assert int(frags.triangle_id[4, 4]) == 1


def _pinhole(points, focal=50.0, centre=8.0):
    """Camera looks down -z, y up; image y down (docs/conventions.md)."""
    depth = -points[:, 2]
    return np.stack(
        [centre + focal * points[:, 0] / depth, centre - focal * points[:, 1] / depth, depth], -1
    ).astype(np.float32)


def test_backface_culling_keeps_ccw_front_faces():
    # Counter-clockwise seen from +z, i.e. from the camera: its normal points at the camera.
    front = np.array([[-1.0, -1.0, -10.0], [1.0, -1.0, -10.0], [0.0, 1.0, -10.0]])
    vertices = _pinhole(front)
    ccw = np.array([[0, 1, 2]], np.int32)
    cw = ccw[:, ::-1]
    assert float(raster(vertices, ccw, cull_backfaces=True).mask.sum()) > 20
    assert float(raster(vertices, cw, cull_backfaces=True).mask.sum()) == 0
    assert float(raster(vertices, cw).mask.sum()) > 20


def test_triangle_behind_near_is_dropped():
    vertices = np.array([[2.0, 2.0, 1.0], [14.0, 2.0, 1.0], [2.0, 14.0, 0.5]], np.float32)
    triangles = np.array([[0, 1, 2]], np.int32)
    assert float(raster(vertices, triangles).mask.sum()) > 0
    assert float(raster(vertices, triangles, near=0.5).mask.sum()) == 0
    vertices[2, 2] = -1.0
    assert float(raster(vertices, triangles).mask.sum()) == 0
    # An orthographic depth only orders surfaces: negative is fine unless near is given.
    ortho = raster(vertices, triangles, perspective_correct=False)
    assert float(ortho.mask.sum()) > 0


def test_large_triangles_use_many_tiles_and_overflow_is_counted():
    vertices, triangles = _square(-1.0, 17.0)
    frags = raster(vertices, triangles)  # window 4
    assert int(frags.overflow_count) == 0
    assert float(frags.mask.sum()) == 16 * 16
    # 4 x 4 tiles of 4 x 4 per triangle; a budget of 20 fits the first triangle only.
    short = raster(vertices, triangles, max_tiles=20)
    assert int(short.overflow_count) == 1
    assert 16 * 16 / 2 <= float(short.mask.sum()) < 16 * 16


@pytest.mark.parametrize(
    "vertices, triangles, kwargs, message",
    [
        (np.zeros((4, 2)), np.zeros((1, 3), np.int32), {}, r"\[\.\.\., V, 3\]"),
        (np.zeros((4, 3)), np.zeros((1, 4), np.int32), {}, r"triangles must be \[F, 3\]"),
        (np.zeros((4, 3)), np.zeros((1, 3)), {}, "integer vertex indices"),
        (np.zeros((4, 3)), np.zeros((1, 3), np.int32), {"window": 0}, "window"),
        (np.zeros((4, 3)), np.zeros((1, 3), np.int32), {"max_tiles": 0}, "max_tiles"),
        (np.zeros((4, 3)), np.zeros((1, 3), np.int32), {"batch_chunk": 1.5}, "batch_chunk"),
    ],
)
def test_bad_input_names_the_problem(vertices, triangles, kwargs, message):
    with pytest.raises(ValueError, match=message):
        rasterize(vertices, triangles, 8, 8, **kwargs)
    with pytest.raises(ValueError, match="height"):
        rasterize(np.zeros((4, 3)), np.zeros((1, 3), np.int32), 8.0, 8)


def test_interpolate_rejects_attributes_of_another_batch():
    vertices, triangles = _square(2.0, 12.0)
    frags = jax.tree.map(lambda x: jnp.stack([x, x]), raster(vertices, triangles))
    with pytest.raises(ValueError, match="batch shape"):
        interpolate(frags, triangles, np.zeros((3, 4, 3), np.float32))


def test_default_window_is_2_for_a_mesh_denser_than_one_triangle_per_2x2_pixels_on_cpu():
    assert default_window(70_788, 224, 224, "cpu") == 2  # a Basel-sized face
    assert default_window(12_336, 64, 64, "cpu") == 2
    assert default_window(12_336, 224, 224, "cpu") == 4
    assert default_window(1_024, 64, 64, "cpu") == 2  # exactly one per 2 x 2 block
    assert default_window(1_023, 64, 64, "cpu") == 4
    assert default_window(70_788, 224, 224, "gpu") == 4


@pytest.mark.parametrize("size", [16, 40])  # the rule picks window 2, then 4
def test_the_default_window_draws_what_every_window_draws(size):
    rng = np.random.default_rng(3)
    # 200 triangles of their own 3 corners: most within 1.5 px of a centre, 10 large ones.
    reach = np.where(np.arange(200) < 190, 1.5, size / 2)[:, None, None]
    corners = rng.uniform(0, size, (200, 1, 2)) + reach * rng.uniform(-1, 1, (200, 3, 2))
    depth = rng.uniform(1.0, 2.0, (200, 3, 1))
    vertices = np.concatenate([corners, depth], axis=-1).reshape(600, 3).astype(np.float32)
    triangles = np.arange(600, dtype=np.int32).reshape(200, 3)
    assert default_window(200, size, size, "cpu") == (2 if size == 16 else 4)
    draw = jax.jit(rasterize, static_argnums=(2, 3), static_argnames="window")
    chosen = draw(vertices, triangles, size, size)
    for window in (2, 4):
        given = draw(vertices, triangles, size, size, window=window)
        np.testing.assert_array_equal(chosen.triangle_id, given.triangle_id)
        np.testing.assert_array_equal(chosen.barycentric, given.barycentric)
    assert int(chosen.overflow_count) == 0


def test_default_batch_chunk_is_one_image_on_cpu():
    assert default_batch_chunk(83_232, 4, "cpu") == 1
    assert default_batch_chunk(83_232, 4, "gpu") == 2**24 // (83_232 * 16)
    assert default_batch_chunk(10**9, 4, "tpu") == 1


def test_tile_budgets_add_a_small_buffer_below_the_full_one():
    assert tile_budgets(70_688, 224, 224, 2, 120_864) == (70_688 + 112 * 112 // 4, 120_864)
    assert tile_budgets(8, 16, 16, 4, 72) == (8 + 4, 72)
    assert tile_budgets(8, 16, 16, 4, 12) == (12,)  # a budget no larger than the small one


@pytest.mark.parametrize("max_tiles", [None, 110])  # the default; one that overflows
def test_the_small_tile_buffer_draws_what_the_full_one_draws(max_tiles):
    # 100 triangles within 0.7 px of a point (each fits one 2 x 2 tile: the small buffer), and
    # the same with 10 of them grown large (they do not fit it): each twice, and as a batch.
    size, window = 16, 2
    rng = np.random.default_rng(5)
    reach = np.full((2, 100, 1, 1), 0.7)
    reach[1, :10] = size / 2
    corners = rng.uniform(0, size, (1, 100, 1, 2)) + reach * rng.uniform(-1, 1, (1, 100, 3, 2))
    depth = np.broadcast_to(rng.uniform(1.0, 2.0, (1, 100, 3, 1)), (2, 100, 3, 1))
    vertices = np.concatenate([corners, depth], axis=-1).reshape(2, 300, 3).astype(np.float32)
    triangles = np.arange(300, dtype=np.int32).reshape(100, 3)
    full = max_tiles or default_max_tiles(100, size, size, window)
    budgets = tile_budgets(100, size, size, window, full)
    x, y, _ = tiles.triangle_corners(jnp.asarray(vertices), jnp.asarray(triangles))
    needed = np.asarray(jnp.sum(tiles.pixel_boxes(x, y, size, size, window)[1], axis=1))
    assert needed[0] <= budgets[0] < needed[1]  # the two cases take the two buffers

    def draw(budgets):
        return jax.jit(
            functools.partial(
                _visible_triangles,
                height=size,
                width=size,
                cull_backfaces=False,
                perspective_correct=True,
                near=0.0,
                window=window,
                budgets=budgets,
            )
        )

    ladder, single = draw(budgets), draw((full,))
    for images in (vertices[[0, 0]], vertices[[1, 1]], vertices):
        ids, overflow = ladder(images, triangles)
        expected_ids, expected_overflow = single(images, triangles)
        np.testing.assert_array_equal(ids, expected_ids)
        np.testing.assert_array_equal(overflow, expected_overflow)
    assert np.any(np.asarray(ids) >= 0)
    assert int(overflow[0]) == 0
    assert (int(overflow[1]) > 0) == (max_tiles is not None)  # the overflow case is one
