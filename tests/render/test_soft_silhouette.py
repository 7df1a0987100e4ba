"""facejax.render.soft_silhouette against a float64 numpy reference, and its gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from facejax.render import boundary_triangles, rasterize, soft_silhouette

ATOL_F64 = 1e-10
ATOL_F32 = 1e-5
GRAD_EPS = 1e-6
GRAD_TOL = 1e-6
SIGMA = 0.75
REACH = 4.0

soft = jax.jit(
    soft_silhouette,
    static_argnames=("sigma", "reach", "cull_backfaces", "max_tiles"),
)
raster = jax.jit(rasterize, static_argnames=("height", "width"))


def _segment_distance(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    return np.hypot(px - ax - t * dx, py - ay - t * dy)


def reference_soft_silhouette(mask, vertices, triangles, sigma, reach):
    """1 where covered, else 2 sigmoid(-d / sigma) for the nearest triangle within its grown box."""
    vertices = np.asarray(vertices, np.float64)
    height, width = mask.shape
    py, px = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    nearest = np.full((height, width), np.inf)
    margin = reach * sigma
    for corners in vertices[np.asarray(triangles)]:
        (x0, y0, _), (x1, y1, _), (x2, y2, _) = corners
        if (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0) == 0 or np.any(corners[:, 2] <= 0):
            continue
        distance = np.full_like(px, np.inf)
        for i, j in ((1, 2), (2, 0), (0, 1)):
            ax, ay, bx, by = corners[i, 0], corners[i, 1], corners[j, 0], corners[j, 1]
            distance = np.minimum(distance, _segment_distance(px, py, ax, ay, bx, by))
        in_box = (px >= corners[:, 0].min() - margin) & (px <= corners[:, 0].max() + margin)
        in_box &= (py >= corners[:, 1].min() - margin) & (py <= corners[:, 1].max() + margin)
        nearest = np.minimum(nearest, np.where(in_box, distance, np.inf))
    fringe = 2.0 / (1.0 + np.exp(nearest / sigma))
    return np.where(np.asarray(mask) > 0, 1.0, fringe)


NUM_VERTICES, NUM_TRIANGLES, SIZE = 49, 72, 20


def _pad(vertices, triangles):
    """Every mesh padded to the same shapes (extra triangles repeat vertex 0: zero area, not
    drawn), so that the tests share compiled programs."""
    padded = np.zeros((NUM_VERTICES, 3), vertices.dtype)
    padded[: len(vertices)] = vertices
    indices = np.zeros((NUM_TRIANGLES, 3), np.int32)
    indices[: len(triangles)] = triangles
    return padded, indices


def _mesh(seed, num=12):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(2.0, SIZE - 2.0, (num, 1, 2))
    corners = centres + rng.normal(scale=2.5, size=(num, 3, 2))
    depth = rng.uniform(1.0, 3.0, (num, 3, 1))
    vertices = np.concatenate([corners, depth], -1).reshape(-1, 3)
    return _pad(vertices, np.arange(3 * num, dtype=np.int32).reshape(num, 3))


def _grid(cells, lo=2.5, hi=14.5):
    """A square of ``cells x cells`` quads, two triangles each."""
    ticks = np.linspace(lo, hi, cells + 1)
    xy = np.stack(np.meshgrid(ticks, ticks), -1).reshape(-1, 2)
    vertices = np.concatenate([xy, np.ones((len(xy), 1))], -1).astype(np.float32)
    n = cells + 1
    corners = [r * n + c for r in range(cells) for c in range(cells)]
    quads = [(a, a + 1, a + n + 1, a + n) for a in corners]
    triangles = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
    return _pad(vertices, np.array(triangles, np.int32))


def _sigmoid(d):
    return 1.0 / (1.0 + np.exp(-d / SIGMA))


def test_matches_reference_float64(x64):
    vertices, triangles = _mesh(0)
    frags = raster(jnp.asarray(vertices), triangles, height=SIZE, width=SIZE)
    expected = reference_soft_silhouette(frags.mask, vertices, triangles, SIGMA, REACH)
    actual = soft(frags, jnp.asarray(vertices), triangles, sigma=SIGMA, reach=REACH)
    assert actual.dtype == jnp.float64
    fringe = (expected > 0.05) & (expected < 0.95)
    assert (expected == 1.0).mean() > 0.1 and fringe.mean() > 0.1 and (expected == 0).any()
    np.testing.assert_allclose(actual, expected, rtol=0, atol=ATOL_F64)


def test_matches_reference_float32_with_batch_dims():
    meshes = [_mesh(seed) for seed in (1, 2)]
    vertices = np.stack([v for v, _ in meshes]).astype(np.float32)
    triangles = meshes[0][1]
    frags = raster(vertices, triangles, height=SIZE, width=SIZE)
    actual = soft(frags, vertices, triangles, sigma=SIGMA, reach=REACH)
    for k in range(2):
        expected = reference_soft_silhouette(frags.mask[k], vertices[k], triangles, SIGMA, REACH)
        np.testing.assert_allclose(actual[k], expected, rtol=0, atol=ATOL_F32)


def test_fringe_falls_off_with_the_distance_to_the_outline_and_ignores_density():
    coarse, fine = _grid(1), _grid(6)  # one quad, or 36 quads of 2 pixels, on the same square
    images = []
    for vertices, triangles in (coarse, fine):
        frags = raster(vertices, triangles, height=SIZE, width=SIZE)
        images.append(np.asarray(soft(frags, vertices, triangles, sigma=SIGMA, reach=REACH)))
    # A dense mesh is not dilated by its triangles' many tails (SoftRas-style blending is).
    np.testing.assert_allclose(images[1], images[0], atol=1e-6)
    image = images[0]
    np.testing.assert_array_equal(image[2:14, 2:14], 1.0)  # the covered pixels
    np.testing.assert_allclose(image[7, 1], 2.0 * _sigmoid(-1.0), atol=1e-6)  # 1 px left
    np.testing.assert_allclose(image[7, 16], 2.0 * _sigmoid(-2.0), atol=1e-6)  # 2 px right
    assert image[7, 14] == 1.0  # on the (unowned) right edge: continuous with the inside
    np.testing.assert_allclose(image[0, 0], 2.0 * _sigmoid(-np.hypot(2.0, 2.0)), atol=1e-6)
    assert image[7, 18] == 0.0  # 4 px away: beyond the reach of 3 px


def test_gradient_at_a_boundary_where_the_hard_mask_has_none():
    vertices, triangles = _grid(1)
    frags = raster(vertices, triangles, height=SIZE, width=SIZE)
    pixel = (7, 1)  # 1 px left of the left edge, x = 2.5

    def hard(v):
        return raster(v, triangles, height=SIZE, width=SIZE).mask[pixel]

    def smooth(v):
        return soft(frags, v, triangles, sigma=SIGMA, reach=REACH)[pixel]

    hard_grad, grad = jax.jit(lambda v: (jax.grad(hard)(v), jax.grad(smooth)(v)))(vertices)
    assert not np.any(hard_grad)
    grad = np.asarray(grad)
    # Moving the left edge (vertices 0 and 2) to the left covers more of the pixel.
    assert grad[0, 0] < 0 and grad[2, 0] < 0
    np.testing.assert_array_equal(grad[[1, 3]], 0.0)


def test_gradients_match_finite_differences(x64):
    vertices, triangles = _mesh(3, num=4)
    frags = raster(jnp.asarray(vertices), triangles, height=SIZE, width=SIZE)

    @jax.jit
    def loss(v):
        image = soft_silhouette(frags, v, triangles, sigma=SIGMA, reach=REACH)
        return jnp.sum(image * jnp.linspace(-1.0, 1.0, SIZE * SIZE).reshape(SIZE, SIZE))

    assert np.abs(np.asarray(jax.grad(loss)(jnp.asarray(vertices)))).max() > 0
    check_grads(
        loss, (jnp.asarray(vertices),), 1, modes=("rev",), eps=GRAD_EPS, atol=GRAD_TOL, rtol=0
    )


def test_boundary_triangles_are_the_nearest_ones_for_the_fringe():
    vertices, triangles = _grid(6)
    frags = raster(vertices, triangles, height=SIZE, width=SIZE)
    seen = np.asarray(boundary_triangles(frags, len(triangles)))[:72].reshape(6, 6, 2)
    assert not seen[1:-1, 1:-1].any()  # the inner quads never touch the background
    assert seen[[0, -1]].any(-1).all() and seen[:, [0, -1]].any(-1).all()
    seen = np.pad(seen.reshape(-1), (0, NUM_TRIANGLES - 72))
    full = soft(frags, vertices, triangles, sigma=SIGMA, reach=REACH)
    restricted = soft(frags, vertices, triangles, sigma=SIGMA, reach=REACH, triangle_mask=seen)
    np.testing.assert_allclose(restricted, full, atol=1e-6)


def test_bad_input_names_the_problem():
    vertices, triangles = _grid(1)
    frags = raster(vertices, triangles, height=SIZE, width=SIZE)
    with pytest.raises(ValueError, match="sigma"):
        soft_silhouette(frags, vertices, triangles, sigma=0.0)
    with pytest.raises(ValueError, match=r"\[F, 3\]"):
        soft_silhouette(frags, vertices, triangles[:, :2])
    with pytest.raises(ValueError, match="batch shapes"):
        soft_silhouette(frags, np.stack([vertices, vertices]), triangles)
