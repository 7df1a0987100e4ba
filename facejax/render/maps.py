"""Per-pixel maps read off a rasterization: depth, normals, and which landmarks are in view."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from facejax.render.interpolate import interpolate
from facejax.render.rasterize import Fragments


def depth_map(fragments: Fragments, background: float = 0.0) -> jax.Array:
    """Depth of the visible surface ``[..., H, W]``, ``background`` where nothing is drawn.

    ``Fragments.depth`` itself holds ``+inf`` there (what a z-test wants); this is the
    image-friendly version. Differentiable with respect to the vertex positions.
    """
    covered = fragments.triangle_id >= 0
    return jnp.where(covered, fragments.depth, jnp.asarray(background, fragments.depth.dtype))


def normal_map(fragments: Fragments, triangles: jax.Array, normals: jax.Array) -> jax.Array:
    """Unit normals ``[..., H, W, 3]`` interpolated from vertex ``normals`` (``[V, 3]`` or
    ``[..., V, 3]``) and renormalised; zero where nothing is drawn.

    Interpolated unit vectors are shorter than 1 inside a triangle, hence the renormalisation;
    a zero-length result (opposite normals) stays zero with a finite gradient.
    """
    blended = interpolate(fragments, triangles, normals)
    squared = jnp.sum(blended * blended, axis=-1, keepdims=True)
    positive = squared > 0
    return jnp.where(positive, blended / jnp.sqrt(jnp.where(positive, squared, 1.0)), 0.0)


def landmark_visibility(
    fragments: Fragments, landmarks: jax.Array, tolerance: float | jax.Array
) -> jax.Array:
    """Whether each landmark is in view: inside the image and not behind the drawn surface.

    A landmark ``(x, y, depth)`` is visible when its pixel (the one containing ``(x, y)``) is in
    the image and the z-buffer there is not nearer than ``depth - tolerance``. A landmark on the
    mesh sits on the surface (equal depth up to interpolation), one behind the nose is deeper
    than the nose by much more than the tolerance. A pixel with nothing drawn hides nothing.
    Landmarks behind the camera must be masked by the caller (their projection is meaningless).

    Args:
      fragments: from ``rasterize``, maps ``[..., H, W]``.
      landmarks: ``[..., L, 3]`` projected landmarks with the fragments' batch dims.
      tolerance: depth slack in depth units (mm for facejax cameras), e.g. a few mm for a face
        at 500 mm; scalar or ``[..., L]``.

    Returns:
      ``[..., L]`` bool.
    """
    landmarks = jnp.asarray(landmarks)
    depth = fragments.depth
    batch_shape = depth.shape[:-2]
    height, width = depth.shape[-2:]
    if landmarks.shape[:-2] != batch_shape or landmarks.shape[-1] != 3:
        raise ValueError(
            f"landmarks must be [..., L, 3] with the fragments' batch shape {batch_shape}; "
            f"got {landmarks.shape}"
        )
    landmarks = jax.lax.stop_gradient(landmarks)
    x, y, z = landmarks[..., 0], landmarks[..., 1], landmarks[..., 2]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    col = jnp.clip(jnp.floor(jnp.where(inside, x, 0.0)).astype(jnp.int32), 0, width - 1)
    row = jnp.clip(jnp.floor(jnp.where(inside, y, 0.0)).astype(jnp.int32), 0, height - 1)
    num_images = math.prod(batch_shape)
    flat_depth = jax.lax.stop_gradient(depth).reshape(num_images, height * width)
    pixel = (row * width + col).reshape(num_images, -1)
    surface = jnp.take_along_axis(flat_depth, pixel, axis=1).reshape(z.shape)
    return inside & (z <= surface + tolerance)
