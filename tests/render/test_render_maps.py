"""facejax.render shading, compositing, depth/normal maps and landmark visibility."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax import lighting
from facejax.render import (
    composite,
    depth_map,
    interpolate,
    landmark_visibility,
    normal_map,
    rasterize,
    shade_pixels,
    shade_vertices,
)

ATOL_F32 = 1e-5

raster = jax.jit(rasterize, static_argnames=("height", "width"))


@pytest.fixture(scope="module")
def scene():
    """A near triangle (depth 2) over a far one (depth 5) on a 16 x 16 image."""
    vertices = np.array(
        [
            [2.0, 2.0, 2.0],
            [12.0, 2.0, 2.0],
            [2.0, 12.0, 2.0],
            [4.0, 4.0, 5.0],
            [15.0, 4.0, 5.0],
            [4.0, 15.0, 5.0],
        ],
        np.float32,
    )
    triangles = np.array([[0, 1, 2], [3, 4, 5]], np.int32)
    rng = np.random.default_rng(0)
    normals = rng.normal(size=(6, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=-1, keepdims=True)
    albedo = rng.uniform(0.2, 0.9, size=(6, 3)).astype(np.float32)
    frags = raster(vertices, triangles, height=16, width=16)
    return vertices, triangles, normals, albedo, frags


def test_depth_map_has_the_background_value(scene):
    *_, frags = scene
    covered = np.asarray(frags.mask) > 0
    image = np.asarray(depth_map(frags, background=-1.0))
    np.testing.assert_array_equal(image[~covered], -1.0)
    np.testing.assert_array_equal(image[covered], np.asarray(frags.depth)[covered])
    assert image[5, 5] == pytest.approx(2.0) and image[12, 5] == pytest.approx(5.0)


def test_normal_map_is_unit_where_drawn_and_zero_elsewhere(scene):
    _, triangles, normals, _, frags = scene
    image = np.asarray(normal_map(frags, triangles, normals))
    covered = np.asarray(frags.mask) > 0
    np.testing.assert_allclose(np.linalg.norm(image[covered], axis=-1), 1.0, atol=ATOL_F32)
    np.testing.assert_array_equal(image[~covered], 0.0)
    blended = np.asarray(interpolate(frags, triangles, normals))[covered]
    direction = blended / np.linalg.norm(blended, axis=-1, keepdims=True)
    np.testing.assert_allclose(image[covered], direction, atol=ATOL_F32)


def test_normal_map_of_opposite_normals_stays_finite():
    vertices = np.array([[0.0, 0.0, 1.0], [7.0, 0.0, 1.0], [0.0, 7.0, 1.0]], np.float32)
    triangles = np.array([[0, 1, 2]], np.int32)
    normals = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0]], np.float32)
    frags = raster(vertices, triangles, height=16, width=16)
    # At x = 3.5 (column 3) the blend is zero up to rounding, exactly zero at some pixels:
    # there the map is zero, elsewhere unit, and the gradient finite.
    norms = np.linalg.norm(np.asarray(normal_map(frags, triangles, normals))[:3, 3], axis=-1)
    assert (norms == 0).any() and np.all((norms == 0) | (np.abs(norms - 1) < ATOL_F32))
    grad = jax.jit(jax.grad(lambda n: jnp.sum(normal_map(frags, triangles, n))))(normals)
    assert np.all(np.isfinite(grad))


def test_shading_under_uniform_white_light_is_the_albedo(scene):
    _, triangles, normals, albedo, frags = scene
    light = lighting.ambient(1.0)
    expected = np.asarray(interpolate(frags, triangles, albedo))
    for shade in (shade_vertices, shade_pixels):
        image = shade(frags, triangles, albedo, normals, light)
        np.testing.assert_allclose(image, expected, atol=ATOL_F32)


def test_pixel_shading_uses_renormalised_interpolated_normals(scene):
    _, triangles, normals, albedo, frags = scene
    light = lighting.directional([0.3, 0.5, 1.0], intensity=0.8, ambient_intensity=0.2)
    image = np.asarray(shade_pixels(frags, triangles, albedo, normals, light))
    pixel_normals = np.asarray(normal_map(frags, triangles, normals))
    pixel_albedo = np.asarray(interpolate(frags, triangles, albedo))
    covered = np.asarray(frags.mask) > 0
    expected = np.asarray(lighting.shade(pixel_albedo[covered], pixel_normals[covered], light))
    np.testing.assert_allclose(image[covered], expected, atol=ATOL_F32)
    np.testing.assert_array_equal(image[~covered], 0.0)
    # Per-vertex shading interpolates shaded colours instead: different inside a triangle.
    gouraud = np.asarray(shade_vertices(frags, triangles, albedo, normals, light))
    assert np.abs(gouraud[covered] - image[covered]).max() > 1e-3


def test_composite_blends_by_the_mask():
    image = np.full((2, 2, 3), 0.8, np.float32)
    mask = np.array([[1.0, 0.0], [0.25, 0.5]], np.float32)
    out = np.asarray(composite(image, mask, np.array([0.0, 0.4, 1.0], np.float32)))
    np.testing.assert_allclose(out[0, 0], 0.8)
    np.testing.assert_allclose(out[0, 1], [0.0, 0.4, 1.0])
    np.testing.assert_allclose(out[1, 0], 0.25 * 0.8 + 0.75 * np.array([0.0, 0.4, 1.0]))


def test_landmark_visibility_from_the_z_buffer(scene):
    *_, frags = scene
    landmarks = np.array(
        [
            [5.5, 5.5, 2.0],  # on the near triangle
            [5.5, 5.5, 5.0],  # on the far triangle, behind the near one
            [5.5, 5.5, 2.5],  # slightly behind the near surface: within a tolerance of 1
            [4.6, 13.2, 5.0],  # on the far triangle where nothing is in front
            [14.5, 14.5, 9.0],  # a background pixel: nothing hides it
            [-0.5, 5.0, 1.0],  # outside the image
            [5.0, 16.0, 1.0],  # outside the image (y = height)
        ],
        np.float32,
    )
    visible = np.asarray(landmark_visibility(frags, landmarks, 1.0))
    np.testing.assert_array_equal(visible, [True, False, True, True, True, False, False])
    strict = np.asarray(landmark_visibility(frags, landmarks, 0.1))
    np.testing.assert_array_equal(strict, [True, False, False, True, True, False, False])
    # Batch dims: fragments [2, H, W] with landmarks [2, L, 3].
    batched = jax.tree.map(lambda x: jnp.stack([x, x]), frags)
    both = landmark_visibility(batched, np.stack([landmarks, landmarks[::-1]]), 1.0)
    np.testing.assert_array_equal(both, [visible, visible[::-1]])
    with pytest.raises(ValueError, match="batch shape"):
        landmark_visibility(batched, landmarks, 1.0)
