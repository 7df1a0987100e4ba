"""Differentiable rasterization in pure JAX (CPU, GPU and TPU alike; no CUDA build, no OpenGL).

The rasterizer (``rasterize``, ``interpolate``, ``soft_silhouette``) takes screen-space vertices
(pixel x, y and depth, as ``facejax.geometry`` projections return them) and imports nothing
else from facejax; ``shade_vertices`` / ``shade_pixels`` add ``facejax.lighting``'s SH shading.
``render_face`` (and its ``Rendering``) is the one call from a morphable model and its
parameters to an image. See docs/render.md.
"""

from facejax.render.face import Rendering, render_face, to_uint8
from facejax.render.interpolate import interpolate
from facejax.render.maps import depth_map, landmark_visibility, normal_map
from facejax.render.rasterize import (
    Fragments,
    default_batch_chunk,
    default_max_tiles,
    default_window,
    rasterize,
)
from facejax.render.shade import composite, shade_pixels, shade_vertices
from facejax.render.soft import boundary_triangles, default_soft_max_tiles, soft_silhouette

__all__ = [
    "Fragments",
    "Rendering",
    "boundary_triangles",
    "composite",
    "default_batch_chunk",
    "default_max_tiles",
    "default_soft_max_tiles",
    "default_window",
    "depth_map",
    "interpolate",
    "landmark_visibility",
    "normal_map",
    "rasterize",
    "render_face",
    "shade_pixels",
    "shade_vertices",
    "soft_silhouette",
    "to_uint8",
]
