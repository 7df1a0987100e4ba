"""Which landmarks of a fitted face its photo shows: not hidden by the face itself, inside the
image.

A landmark file gives every point, hidden or not (a 300-W jaw contour point on the far side of a
turned face is drawn on the silhouette, not where the model's point is). Training on such
targets should weigh only the points the fitted face leaves in view; this is the z-buffer test of
``facejax.render.landmark_visibility`` on the fitted face, rendered small: the image is scaled
so its longer side is ``size`` (the test is about depth order, not detail).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from facejax.fitting.photometric import scale_camera
from facejax.morphable.model import MorphableModel
from facejax.morphable.params import FaceParams
from facejax.render.face import render_face

Array = Any


@functools.partial(jax.jit, static_argnames="size")
def fitted_landmark_visibility(
    model: MorphableModel, params: FaceParams, image_sizes, *, size: int = 96
) -> Array:
    """``[B, L]`` bool: the fitted landmarks each image shows.

    A landmark is visible when the fitted face, rendered with its fitted camera scaled down to a
    ``size`` canvas, does not hide it (``render_face(...).landmark_visibility``) and its
    projection lies inside the ``(height, width)`` image.

    Args:
      model: the morphable model fitted.
      params: ``FaceParams`` with a leading ``[B]`` (one fitted image each, e.g. a
        ``FitResult.params`` flattened over persons and images).
      image_sizes: ``[B, 2]`` ``(height, width)`` of the fitted images, pixels.
      size: side of the square canvas the test renders on (static).

    Returns:
      ``[B, L]`` bool.
    """
    image_sizes = jnp.asarray(image_sizes, jnp.float32)

    def one(inputs):
        face, hw = inputs
        factor = size / jnp.maximum(jnp.max(hw), 1.0)
        small = face.replace(camera=scale_camera(face.camera, factor, factor))
        rendering = render_face(model, small, size, size)
        points = rendering.landmarks_2d[:, :2] / factor
        inside = jnp.all((points >= 0.0) & (points < hw[None, ::-1]), axis=-1)
        return (rendering.landmark_visibility > 0) & inside

    return jax.lax.map(one, (params, image_sizes), batch_size=8)
