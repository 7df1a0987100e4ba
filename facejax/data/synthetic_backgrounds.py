"""Random textured backgrounds for synthetic face images, drawn in JAX from a key.

A face network must not learn that "face" means "the pixels that are not one flat colour", so
every background is textured: a linear colour gradient, smooth multi-scale colour noise (random
grids upsampled bilinearly, like value noise), a few soft-edged discs and rotated rectangles in
random colours, and fine per-pixel grain. Every draw has the same static shape, so the function
runs under ``jax.jit`` and ``jax.vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

# Smooth noise: (cells across the image, amplitude of brightness, amplitude of colour), coarse
# to fine; mostly brightness, so that backgrounds look like scenes rather than rainbows.
NOISE_OCTAVES = ((3, 0.15, 0.08), (7, 0.09, 0.04), (15, 0.05, 0.02))
NUM_SHAPES = 5
# Each shape is drawn with this probability (else fully transparent).
SHAPE_PROBABILITY = 0.7
GRAIN_STD = 0.015


# Uniform numbers one background uses: gradient (2 colours, 1 angle), then per shape (centre 2,
# half-sizes 2, colour 3, kind, angle, opacity, presence).
_GRADIENT_UNIFORMS = 7
_SHAPE_UNIFORMS = 11


def _gradient(u, coords):
    """A linear gradient between two random colours in a random direction, ``[H, W, 3]``."""
    colours = 0.05 + 0.9 * u[:6].reshape(2, 3)
    angle = 2.0 * jnp.pi * u[6]
    along = 0.5 + (coords[..., 0] - 0.5) * jnp.cos(angle) + (coords[..., 1] - 0.5) * jnp.sin(angle)
    along = jnp.clip(along, 0.0, 1.0)[..., None]
    return colours[0][None, None, :] * (1.0 - along) + colours[1][None, None, :] * along


def _smooth_noise(normals, size: int):
    """Sum of bilinearly upsampled random grids (zero mean), ``[S, S, 3]``."""
    total = jnp.zeros((size, size, 3), jnp.float32)
    start = 0
    for cells, brightness, colour in NOISE_OCTAVES:
        count = cells * cells * 4
        grid = normals[start : start + count].reshape(cells, cells, 4)
        start += count
        grid = brightness * grid[..., :1] + colour * grid[..., 1:]  # [cells, cells, 3]
        total = total + jax.image.resize(grid, (size, size, 3), "linear")
    return total


def _shapes(u, coords, image):
    """Paints ``NUM_SHAPES`` soft-edged discs or rotated rectangles over ``image``."""
    size = image.shape[0]
    for shape in u.reshape(NUM_SHAPES, _SHAPE_UNIFORMS):
        centre, half = shape[0:2], 0.05 + 0.25 * shape[2:4]
        colour, is_disc, angle = shape[4:7], shape[7] < 0.5, jnp.pi * shape[8]
        alpha = (0.4 + 0.6 * shape[9]) * (shape[10] < SHAPE_PROBABILITY).astype(jnp.float32)
        d = coords - centre[None, None, :]
        along = d[..., 0] * jnp.cos(angle) + d[..., 1] * jnp.sin(angle)
        across = -d[..., 0] * jnp.sin(angle) + d[..., 1] * jnp.cos(angle)
        # Signed distance (in image sides) outside the shape: negative inside.
        disc = jnp.sqrt(along**2 + across**2) - half[0]
        box = jnp.maximum(jnp.abs(along) - half[0], jnp.abs(across) - half[1])
        outside = jnp.where(is_disc, disc, box)
        coverage = jnp.clip(0.5 - outside * size, 0.0, 1.0)  # one-pixel soft edge
        weight = (alpha * coverage)[..., None]
        image = image * (1.0 - weight) + colour[None, None, :] * weight
    return image


def random_background(key, size: int) -> jax.Array:
    """A textured background.

    Args:
      key: a ``jax.random`` key.
      size: image side ``S`` (static).

    Returns:
      ``[S, S, 3]`` float32 RGB in ``[0, 1]``, never a constant colour.
    """
    # Two draws in all: each jax.random call compiles its own hash rounds, and a background
    # drawn with one call per quantity took several times longer to compile.
    k_uniform, k_normal = jax.random.split(key)
    u = jax.random.uniform(k_uniform, (_GRADIENT_UNIFORMS + NUM_SHAPES * _SHAPE_UNIFORMS,))
    num_noise = sum(cells * cells * 4 for cells, _, _ in NOISE_OCTAVES)
    normals = jax.random.normal(k_normal, (num_noise + size * size * 3,))
    # Pixel centres as shares of the side (docs/conventions.md: centre of [i, j] at j + 0.5).
    centres = (jnp.arange(size, dtype=jnp.float32) + 0.5) / size
    coords = jnp.stack(jnp.meshgrid(centres, centres, indexing="xy"), axis=-1)  # [S, S, (x, y)]
    image = _gradient(u[:_GRADIENT_UNIFORMS], coords) + _smooth_noise(normals[:num_noise], size)
    image = _shapes(u[_GRADIENT_UNIFORMS:], coords, jnp.clip(image, 0.0, 1.0))
    grain = normals[num_noise:].reshape(size, size, 3)
    return jnp.clip(image + GRAIN_STD * grain, 0.0, 1.0)
