"""Images from a rasterization: spherical-harmonics shading and compositing over a background.

Lighting follows ``facejax.lighting`` (``sh_coeffs [9, 3]``, normals in the lighting's frame,
the camera frame for facejax faces). One image's lighting per call: batch with ``jax.vmap``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from facejax import lighting
from facejax.render.interpolate import interpolate
from facejax.render.maps import normal_map
from facejax.render.rasterize import Fragments


def shade_vertices(
    fragments: Fragments,
    triangles: jax.Array,
    albedo: jax.Array,
    normals: jax.Array,
    sh_coeffs: jax.Array,
) -> jax.Array:
    """Colours shaded at the vertices, then interpolated (Gouraud shading).

    What Deep3DFaceRecon renders: ``albedo * shading(normals)`` per vertex
    (``facejax.lighting.shade``), blended over each triangle.

    Args:
      fragments: from ``rasterize``, maps ``[H, W]``.
      triangles: ``[F, 3]``.
      albedo: ``[V, 3]`` RGB albedo.
      normals: ``[V, 3]`` unit vertex normals, in the frame of the lighting.
      sh_coeffs: ``[9, 3]``.

    Returns:
      ``[H, W, 3]`` colours, zero where nothing is drawn.
    """
    return interpolate(fragments, triangles, lighting.shade(albedo, normals, sh_coeffs))


def shade_pixels(
    fragments: Fragments,
    triangles: jax.Array,
    albedo: jax.Array,
    normals: jax.Array,
    sh_coeffs: jax.Array,
) -> jax.Array:
    """Albedo and normals interpolated, normals renormalised, then shaded at every pixel.

    Smoother highlights than ``shade_vertices`` on a coarse mesh, at a per-pixel cost.
    Arguments and result as for ``shade_vertices``.
    """
    pixel_albedo = interpolate(fragments, triangles, albedo)
    pixel_normals = normal_map(fragments, triangles, normals)
    colours = lighting.shade(pixel_albedo, pixel_normals, sh_coeffs)
    return jnp.where((fragments.triangle_id >= 0)[..., None], colours, 0.0)


def composite(image: jax.Array, mask: jax.Array, background: jax.Array | float) -> jax.Array:
    """``image`` over ``background``: ``mask * image + (1 - mask) * background``.

    Args:
      image: ``[..., H, W, C]`` rendered colours.
      mask: ``[..., H, W]`` coverage, hard (``Fragments.mask``) or soft (``soft_silhouette``);
        with a soft mask, pixels outside the hard coverage have no colour of their own and
        darken towards ``image``'s zero there.
      background: ``[..., H, W, C]`` image, ``[C]`` colour or scalar.

    Returns:
      ``[..., H, W, C]``.
    """
    alpha = jnp.asarray(mask, image.dtype)[..., None]
    background = jnp.broadcast_to(jnp.asarray(background, image.dtype), image.shape)
    return alpha * image + (1.0 - alpha) * background
