"""Image formation for a morphable-model face: decode, rasterize, shade and composite.

This is the high level of ``facejax.render``: one call from a model and its parameters to an
image, built from the low-level rasterizer and ``facejax.morphable``/``facejax.lighting``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from facejax import geometry, lighting, morphable
from facejax.render.interpolate import interpolate
from facejax.render.maps import landmark_visibility, normal_map
from facejax.render.rasterize import Fragments, rasterize
from facejax.render.shade import composite

Array = Any

# Landmarks within this many millimetres behind the visible surface still count as visible:
# they lie on the surface, and the z-buffer holds the depth at the pixel centre, not at them.
DEFAULT_VISIBILITY_TOLERANCE_MM = 5.0


@struct.dataclass
class Rendering:
    """A rendered face.

    Attributes:
      image: ``[H, W, 3]`` RGB, the shaded face composited over the background (not clamped).
      mask: ``[H, W]`` 1 where the face covers the pixel centre.
      depth: ``[H, W]`` depth of the visible surface (mm in front of the camera), ``+inf`` off
        the face.
      normals: ``[H, W, 3]`` unit camera-frame normals of the visible surface (zero off it).
      albedo: ``[H, W, 3]`` interpolated albedo (zero off the face).
      fragments: the rasterizer's output (triangle ids, barycentrics).
      landmarks_2d: ``[L, 3]`` projected landmarks ``(x, y, depth)``.
      landmark_visibility: ``[L]`` float, 1 where the landmark is not hidden by the face itself
        and lies inside the image.
    """

    image: Array
    mask: Array
    depth: Array
    normals: Array
    albedo: Array
    fragments: Fragments
    landmarks_2d: Array
    landmark_visibility: Array


def render_face(
    model: morphable.MorphableModel,
    params: morphable.FaceParams,
    height: int,
    width: int,
    *,
    background=None,
    per_pixel_shading: bool = False,
    cull_backfaces: bool = True,
    window: int | None = None,
    max_tiles: int | None = None,
) -> Rendering:
    """Renders one face of a morphable model with its pose, camera and SH lighting.

    Args:
      model: the morphable model (unbatched).
      params: one face's parameters; batch with ``jax.vmap(render_face, in_axes=(None, 0,
        None, None))`` or vmap a closure over ``height``/``width``.
      height: image height (static).
      width: image width (static).
      background: ``[H, W, 3]`` image or ``[3]`` colour behind the face (default black).
      per_pixel_shading: shade each pixel from its interpolated normal (smooth highlights)
        instead of interpolating per-vertex shaded colours (cheaper).
      cull_backfaces: skip triangles facing away from the camera.
      window: rasterizer tile size (static); ``None`` lets ``facejax.render.rasterize``
        choose (``default_window``).
      max_tiles: rasterizer tile budget (static).

    Returns:
      A :class:`Rendering`; every image is differentiable with respect to shape, pose,
      camera, albedo and lighting parameters (visibility itself is not).
    """
    face = morphable.decode(model, params)
    perspective = isinstance(params.camera, geometry.PerspectiveCamera)
    fragments = rasterize(
        face.screen_vertices,
        model.triangles,
        height,
        width,
        cull_backfaces=cull_backfaces,
        perspective_correct=perspective,
        window=window,
        max_tiles=max_tiles,
    )
    albedo_map = interpolate(fragments, model.triangles, face.albedo)
    normals_map = normal_map(fragments, model.triangles, face.normals)
    if per_pixel_shading:
        colors = lighting.shade(albedo_map, normals_map, params.sh_coeffs)
    else:  # shaded at the vertices (face.colors), then interpolated
        colors = interpolate(fragments, model.triangles, face.colors)
    if background is None:
        background = jnp.zeros((3,), colors.dtype)
    image = composite(colors, fragments.mask, jnp.asarray(background, colors.dtype))
    landmarks_2d = face.landmarks_2d
    if model.num_landmarks:
        visible = landmark_visibility(
            fragments, jax.lax.stop_gradient(landmarks_2d), DEFAULT_VISIBILITY_TOLERANCE_MM
        )
        visibility = visible.astype(colors.dtype)
    else:
        visibility = jnp.zeros((0,), colors.dtype)
    return Rendering(
        image=image,
        mask=fragments.mask,
        depth=fragments.depth,
        normals=normals_map,
        albedo=albedo_map,
        fragments=fragments,
        landmarks_2d=landmarks_2d,
        landmark_visibility=visibility,
    )


def to_uint8(image) -> Array:
    """``[..., 3]`` float RGB in ``[0, 1]`` to uint8, clamped."""
    return jnp.round(jnp.clip(image, 0.0, 1.0) * 255.0).astype(jnp.uint8)
