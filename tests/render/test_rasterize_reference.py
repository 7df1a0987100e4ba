"""facejax.render.rasterize against a slow float64 reference renderer, and its gradients.

The reference is a Python loop over pixels and triangles. It restates the specification of
``facejax.render.rasterize`` without its machinery (no tiles, no scatters, no canonical edge
order): sample at pixel centres, drop triangles behind ``near``, degenerate or culled, top-left
fill rule for centres exactly on an edge, nearest depth wins and the smallest triangle id breaks
ties.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax.render import Fragments, interpolate, rasterize

ATOL_BARY_F64 = 1e-9  # barycentrics, float64 (both sides compute the same closed form)
RTOL_DEPTH_F64 = 1e-12
ATOL_BARY_F32 = 2e-4  # barycentrics, float32 against the float64 reference
RTOL_DEPTH_F32 = 1e-5
MAX_ID_MISMATCH_F32 = 0.01  # float32 may flip pixel centres within rounding of an edge
GRAD_EPS = 1e-6  # finite-difference step (pixels), far below any centre-to-edge distance
GRAD_TOL = 1e-6
ATOL_PROGRAMS_F32 = 1e-6  # one computation compiled two ways (fusion, FMA) differs in ulps

raster = jax.jit(
    rasterize,
    static_argnames=(
        "height",
        "width",
        "cull_backfaces",
        "perspective_correct",
        "window",
        "max_tiles",
        "batch_chunk",
    ),
)
interp = jax.jit(interpolate)
# The random meshes overlap many times over: more tiles than the default budget.
MAX_TILES = 4096


def _edge(ax, ay, bx, by, px, py):
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def _owns_edge(ax, ay, bx, by, orientation):
    """Top-left rule: the triangle owns an edge if its interior lies +x of it (+y if flat)."""
    inward_x = -orientation * (by - ay)
    inward_y = orientation * (bx - ax)
    return inward_x > 0 or (inward_x == 0 and inward_y > 0)


def reference_rasterize(
    screen_vertices,
    triangles,
    height,
    width,
    *,
    cull_backfaces=False,
    perspective_correct=True,
    near=0.0,
):
    """Returns ``(triangle_id [H, W], barycentric [H, W, 3], depth [H, W])`` in float64."""
    vertices = np.asarray(screen_vertices, np.float64).tolist()
    triangles = np.asarray(triangles).tolist()
    triangle_id = np.full((height, width), -1, np.int64)
    barycentric = np.zeros((height, width, 3))
    depth = np.full((height, width), np.inf)
    for i in range(height):
        for j in range(width):
            px, py = j + 0.5, i + 0.5
            for f, corner_ids in enumerate(triangles):
                corners = [vertices[k] for k in corner_ids]
                if any(c[2] <= near or not all(map(math.isfinite, c)) for c in corners):
                    continue
                (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = corners
                area2 = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
                if area2 == 0 or (cull_backfaces and area2 > 0):
                    continue
                orientation = 1.0 if area2 > 0 else -1.0
                weights = []
                inside = True
                for k in range(3):
                    ax, ay, _ = corners[(k + 1) % 3]
                    bx, by, _ = corners[(k + 2) % 3]
                    w = _edge(ax, ay, bx, by, px, py)
                    weights.append(w)
                    s = orientation * w
                    if s < 0 or (s == 0 and not _owns_edge(ax, ay, bx, by, orientation)):
                        inside = False
                        break
                if not inside:
                    continue
                total = sum(weights)
                screen = [w / total for w in weights]
                if perspective_correct:
                    scaled = [b / z for b, z in zip(screen, (z0, z1, z2), strict=True)]
                    d = 1.0 / sum(scaled)
                    bary = [s * d for s in scaled]
                else:
                    d = sum(b * z for b, z in zip(screen, (z0, z1, z2), strict=True))
                    bary = screen
                if d < depth[i, j]:  # strict: on a tie the earlier (smaller) id stays
                    depth[i, j] = d
                    triangle_id[i, j] = f
                    barycentric[i, j] = bary
    return triangle_id, barycentric, depth


def random_mesh(seed, height, width, num_vertices=30, num_triangles=36):
    """Random triangles over an image, some off-screen, some large, one vertex behind the camera.

    Returns ``(screen_vertices [V, 3] float64, triangles [F, 3] int32)``.
    """
    rng = np.random.default_rng(seed)
    xy = rng.uniform([-4.0, -4.0], [width + 4.0, height + 4.0], size=(num_vertices, 2))
    depth = rng.uniform(1.0, 4.0, size=(num_vertices, 1))
    depth[-1] = -1.0
    vertices = np.concatenate([xy, depth], axis=1)
    triangles = np.stack([rng.choice(num_vertices, 3, replace=False) for _ in range(num_triangles)])
    # Small triangles around random centres too, so most fit one tile as in a dense mesh.
    centres = rng.integers(0, num_vertices, size=num_triangles // 2)
    small = rng.normal(scale=1.5, size=(num_triangles // 2, 2, 2))
    extra = np.concatenate(
        [vertices[centres, None, :2] + small, rng.uniform(1.0, 4.0, (num_triangles // 2, 2, 1))],
        axis=-1,
    ).reshape(-1, 3)
    first_extra = num_vertices
    vertices = np.concatenate([vertices, extra])
    second = first_extra + 2 * np.arange(len(centres))
    extra_triangles = np.stack([centres, second, second + 1], axis=1)
    return vertices, np.concatenate([triangles, extra_triangles]).astype(np.int32)


@pytest.mark.parametrize(
    "seed, cull, perspective, size, window",
    [(0, False, True, (24, 32), 4), (1, True, False, (20, 16), 3)],
)
def test_matches_reference_float64(x64, seed, cull, perspective, size, window):
    height, width = size
    vertices, triangles = random_mesh(seed, height, width)
    ids, bary, depth = reference_rasterize(
        vertices, triangles, height, width, cull_backfaces=cull, perspective_correct=perspective
    )
    frags = raster(
        jnp.asarray(vertices),
        jnp.asarray(triangles),
        height=height,
        width=width,
        cull_backfaces=cull,
        perspective_correct=perspective,
        max_tiles=MAX_TILES,
        window=window,
    )
    assert frags.barycentric.dtype == jnp.float64
    assert int(frags.overflow_count) == 0
    assert (ids >= 0).mean() > 0.3, "the test mesh should cover a good part of the image"
    np.testing.assert_array_equal(np.asarray(frags.triangle_id), ids)
    np.testing.assert_allclose(frags.barycentric, bary, rtol=0, atol=ATOL_BARY_F64)
    np.testing.assert_allclose(frags.depth, depth, rtol=RTOL_DEPTH_F64)
    np.testing.assert_array_equal(frags.mask, (ids >= 0).astype(np.float64))


def test_matches_reference_float32():
    height, width = 24, 32
    vertices, triangles = random_mesh(2, height, width)
    ids, bary, depth = reference_rasterize(vertices, triangles, height, width)
    frags = raster(
        jnp.asarray(vertices, jnp.float32),
        triangles,
        height=height,
        width=width,
        max_tiles=MAX_TILES,
    )
    assert frags.barycentric.dtype == jnp.float32
    same = np.asarray(frags.triangle_id) == ids
    assert 1.0 - same.mean() <= MAX_ID_MISMATCH_F32
    np.testing.assert_allclose(np.asarray(frags.barycentric)[same], bary[same], atol=ATOL_BARY_F32)
    np.testing.assert_allclose(np.asarray(frags.depth)[same], depth[same], rtol=RTOL_DEPTH_F32)


def test_interpolate_recovers_screen_position_and_depth():
    # The shapes of test_matches_reference_float32, to share its compiled rasterizer.
    vertices, triangles = random_mesh(3, 24, 32)
    vertices = jnp.asarray(vertices, jnp.float32)
    size = {"height": 24, "width": 32, "max_tiles": MAX_TILES}
    affine = raster(vertices, triangles, perspective_correct=False, **size)
    xy = interp(affine, triangles, vertices[:, :2])
    grid = np.stack(np.meshgrid(np.arange(32) + 0.5, np.arange(24) + 0.5), -1)
    covered = np.asarray(affine.mask) > 0
    np.testing.assert_allclose(np.asarray(xy)[covered], grid[covered], atol=1e-4)
    np.testing.assert_array_equal(np.asarray(xy)[~covered], 0.0)
    # Perspective-correct barycentrics blend camera-space quantities: depth is one of them.
    frags = raster(vertices, triangles, **size)
    z = interp(frags, triangles, vertices[:, 2:])[..., 0]
    covered = np.asarray(frags.mask) > 0
    np.testing.assert_allclose(np.asarray(z)[covered], frags.depth[covered], rtol=1e-5)


def _assert_same_fragments(actual, expected):
    np.testing.assert_array_equal(actual.triangle_id, expected.triangle_id)
    np.testing.assert_array_equal(actual.mask, expected.mask)
    np.testing.assert_array_equal(actual.overflow_count, expected.overflow_count)
    np.testing.assert_allclose(actual.barycentric, expected.barycentric, atol=ATOL_PROGRAMS_F32)
    np.testing.assert_allclose(actual.depth, expected.depth, rtol=ATOL_PROGRAMS_F32)


def test_batch_dims_vmap_and_eager_match_a_jitted_loop():
    batch = [random_mesh(seed, 12, 12, num_vertices=10, num_triangles=8) for seed in range(3)]
    triangles = batch[0][1]
    vertices = jnp.asarray(np.stack([v for v, _ in batch]), jnp.float32)
    colours = jnp.asarray(np.random.default_rng(0).uniform(size=vertices.shape), jnp.float32)
    loop = [raster(v, triangles, height=12, width=12) for v in vertices]
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *loop)
    # Chunks of 2 images (the last padded): batch dims inside a chunk and the loop over chunks.
    batched = raster(vertices, triangles, height=12, width=12, batch_chunk=2)
    mapped = jax.vmap(functools.partial(raster, height=12, width=12), (0, None))(
        vertices, triangles
    )
    for result in (batched, mapped):
        assert isinstance(result, Fragments)
        assert result.triangle_id.shape == (3, 12, 12)
        _assert_same_fragments(result, stacked)
    np.testing.assert_allclose(
        interp(batched, triangles, colours),
        jnp.stack([interp(f, triangles, c) for f, c in zip(loop, colours, strict=True)]),
        atol=ATOL_PROGRAMS_F32,
    )
    shared = interp(batched, triangles, colours[0])
    np.testing.assert_allclose(shared[1], interp(loop[1], triangles, colours[0]))
    # Op by op, without jit: the same numbers.
    _assert_same_fragments(rasterize(vertices[2], triangles, 12, 12), loop[2])


def test_vmap_is_chunked_like_the_native_batch_and_batches_any_axis():
    # Under vmap the mapped images join the native batch and are chunked with it (issue 16:
    # plain batching would test all pixels at once, 3x slower per image on CPU).
    meshes = [random_mesh(seed, 12, 12, num_vertices=10, num_triangles=8) for seed in range(6)]
    vertices = jnp.asarray(np.stack([v for v, _ in meshes]), jnp.float32).reshape(2, 3, -1, 3)
    triangles = meshes[0][1]
    loop = [[raster(v, triangles, height=12, width=12) for v in row] for row in vertices]
    expected = jax.tree.map(lambda *x: jnp.stack(x).reshape((2, 3) + x[0].shape), *sum(loop, []))
    single = functools.partial(rasterize, height=12, width=12, batch_chunk=1)
    nested = jax.jit(jax.vmap(jax.vmap(single, (0, None)), (0, None)))(vertices, triangles)
    _assert_same_fragments(nested, expected)
    # One chunk loop over all six images, not a batched visibility pass.
    jaxpr = str(jax.make_jaxpr(jax.vmap(single, (0, None)))(vertices[0], triangles))
    assert jaxpr.count("while[") + jaxpr.count("scan[") == 1, jaxpr
    # A mesh per image (mapped triangles) and a mapped image with the batch dim inside.
    per_image = jnp.stack([jnp.asarray(t) for _, t in meshes[:3]])
    mapped = jax.jit(jax.vmap(single))(vertices[0, :, None], per_image)
    for k in range(3):
        alone = raster(vertices[0, k], meshes[k][1], height=12, width=12)
        _assert_same_fragments(jax.tree.map(lambda x, k=k: x[k, 0], mapped), alone)


def test_gradients_match_finite_differences(x64):
    vertices, triangles = random_mesh(4, 12, 12, num_vertices=12, num_triangles=10)
    colours = np.random.default_rng(0).uniform(size=(len(vertices), 3))
    weights = np.random.default_rng(1).normal(size=(12, 12, 3))

    @jax.jit
    def loss(vertices, colours):
        frags = rasterize(vertices, triangles, 12, 12)
        image = interp(frags, triangles, colours)
        depth = jnp.where(frags.mask > 0, frags.depth, 0.0)
        return jnp.sum(image * weights) + jnp.sum(depth)

    # Finite differences move the barycentrics, so a missing position gradient fails here.
    args = (jnp.asarray(vertices), jnp.asarray(colours))
    check_grads(loss, args, order=1, modes=("rev",), eps=GRAD_EPS, atol=GRAD_TOL, rtol=GRAD_TOL)
