"""A picture of a fit over its image: the shaded mesh or its wireframe, and both landmark sets.

Host-side drawing (numpy and Pillow) around one jitted render. The mesh is rendered at most
``max_side`` pixels on its longer side (a face needs no more to be judged, and rendering a
4,000-pixel photo would cost seconds) and scaled up to the image.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image, ImageDraw

from facejax import lighting, morphable
from facejax.fitting.photometric import scale_camera
from facejax.morphable.model import MorphableModel
from facejax.morphable.params import FaceParams
from facejax.render.face import render_face

STYLES = ("shaded", "wireframe")
GIVEN_COLOUR = (255, 60, 60)  # the target landmarks: red
FITTED_COLOUR = (40, 220, 90)  # the fitted model's landmarks: green
WIRE_COLOUR = (120, 200, 255)
DEFAULT_MAX_SIDE = 512
DEFAULT_ALPHA = 0.6


@functools.partial(jax.jit, static_argnames=("size", "photometric"))
def _shaded(model, params, size: int, photometric: bool):
    if not photometric:
        # Show the shape: a soft key light from the camera's upper right, not the fitted light.
        light = lighting.directional(
            jnp.array([0.3, 0.4, 1.0]), intensity=0.75, ambient_intensity=0.4
        )
        params = params.replace(sh_coeffs=light.astype(params.translation.dtype))
    rendering = render_face(model, params, size, size, per_pixel_shading=True)
    return jnp.clip(rendering.image, 0.0, 1.0), rendering.mask


@jax.jit
def _screen(model, params):
    face = morphable.decode(model, params)
    return face.screen_vertices, face.camera_vertices


def _canvas_size(height: int, width: int, max_side: int) -> int:
    # Multiples of 32 keep the number of distinct compiled render sizes small.
    side = min(max(height, width), max_side)
    return max(32, int(np.ceil(side / 32) * 32))


def _draw_points(draw: ImageDraw.ImageDraw, points, colour, radius: float) -> None:
    for x, y in np.asarray(points)[:, :2]:
        if np.isfinite(x) and np.isfinite(y):
            draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)


def draw_overlay(
    model: MorphableModel,
    params: FaceParams,
    image,
    *,
    given=None,
    fitted=None,
    style: str = "shaded",
    photometric: bool = False,
    alpha: float = DEFAULT_ALPHA,
    max_side: int = DEFAULT_MAX_SIDE,
) -> np.ndarray:
    """The image with the fitted face drawn over it.

    Args:
      model: the fitted model.
      params: one image's ``FaceParams`` (unbatched), camera in the image's pixels.
      image: ``[H, W, 3]`` uint8 RGB.
      given: optional ``[L, 2]`` target landmarks (drawn red).
      fitted: optional ``[L, 2]`` fitted landmarks (drawn green, smaller, on top).
      style: ``"shaded"`` (the mesh rendered with a key light, or with the fitted albedo and
        light when ``photometric``) or ``"wireframe"`` (edges of the triangles facing the
        camera).
      photometric: render the fitted albedo and lighting.
      alpha: opacity of the mesh.
      max_side: the mesh is rendered at most this many pixels on its longer side.

    Returns:
      ``[H, W, 3]`` uint8.
    """
    if style not in STYLES:
        raise ValueError(f"overlay style must be one of {STYLES}, got {style!r}")
    image = np.asarray(image, np.uint8)
    height, width = image.shape[:2]
    out = Image.fromarray(image).convert("RGB")
    if style == "shaded":
        size = _canvas_size(height, width, max_side)
        factor = size / max(height, width)
        small = params.replace(camera=scale_camera(params.camera, factor, factor))
        rendered, mask = _shaded(model, small, size, photometric)
        crop_w, crop_h = max(1, round(width * factor)), max(1, round(height * factor))
        rendered = np.asarray(rendered)[:crop_h, :crop_w]
        mask = np.asarray(mask, np.float32)[:crop_h, :crop_w]
        rendered = Image.fromarray(np.round(rendered * 255).astype(np.uint8)).resize(
            (width, height), Image.Resampling.BILINEAR
        )
        mask = Image.fromarray(mask, mode="F").resize((width, height), Image.Resampling.BILINEAR)
        weight = alpha * np.clip(np.asarray(mask), 0.0, 1.0)[..., None]
        blended = (1 - weight) * image + weight * np.asarray(rendered, np.float32)
        out = Image.fromarray(np.round(blended).astype(np.uint8))
    else:
        screen, camera_points = (np.asarray(a) for a in _screen(model, params))
        triangles = np.asarray(model.triangles)
        corners = camera_points[triangles]  # [F, 3, 3]
        normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        # Facing the camera (at the origin): the normal points towards it.
        facing = np.einsum("fc,fc->f", normal, -corners.mean(axis=1)) > 0
        layer = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        colour = (*WIRE_COLOUR, int(round(255 * alpha)))
        for a, b, c in screen[triangles[facing]][..., :2]:
            draw.line([tuple(a), tuple(b), tuple(c), tuple(a)], fill=colour, width=1)
        out = Image.alpha_composite(out.convert("RGBA"), layer).convert("RGB")
    draw = ImageDraw.Draw(out)
    radius = max(1.5, max(height, width) / 150)
    if given is not None:
        _draw_points(draw, given, GIVEN_COLOUR, radius)
    if fitted is not None:
        _draw_points(draw, fitted, FITTED_COLOUR, 0.6 * radius)
    return np.asarray(out)
