"""Image formation of a synthetic scene: render, blur, add noise, and gather what is stored.

A :class:`Scene` holds everything random about one image (drawn by
``facejax.data.synthetic_scenes``); :func:`render_scenes` turns a batch of them into the arrays
the synthetic datasets store. It is a deterministic function of its inputs, compiled once per
image size and batch size and shared by the faces and clips builders.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from facejax import morphable
from facejax.render.face import render_face, to_uint8

Array = Any


@struct.dataclass
class Scene:
    """One synthetic image before rendering (batch: a leading axis on every leaf).

    Attributes:
      params: the face's :class:`facejax.morphable.FaceParams` (perspective camera).
      background: ``[S, S, 3]`` float RGB in ``[0, 1]`` behind the face.
      blur_sigma: ``[]`` Gaussian blur of the rendered image, pixels.
      noise: ``[S, S, 3]`` added to the blurred image (values in ``[0, 1]`` units).
    """

    params: morphable.FaceParams
    background: Array
    blur_sigma: Array
    noise: Array


def gaussian_blur(image, sigma, radius: int) -> Array:
    """Separable Gaussian blur of ``[H, W, C]`` with edge padding.

    Args:
      image: ``[H, W, C]``.
      sigma: ``[]`` pixels, may be traced; near 0 leaves the image as it is.
      radius: kernel half-width (static).
    """
    offsets = jnp.arange(-radius, radius + 1, dtype=image.dtype)
    weights = jnp.exp(-0.5 * (offsets / jnp.maximum(sigma, 1e-3)) ** 2)
    weights = weights / jnp.sum(weights)
    height, width = image.shape[:2]
    padded = jnp.pad(image, ((radius, radius), (0, 0), (0, 0)), mode="edge")
    image = sum(weights[k] * padded[k : k + height] for k in range(2 * radius + 1))
    padded = jnp.pad(image, ((0, 0), (radius, radius), (0, 0)), mode="edge")
    return sum(weights[k] * padded[:, k : k + width] for k in range(2 * radius + 1))


def ground_truth(params: morphable.FaceParams) -> dict:
    """The stored parameters of a face: coefficients, pose, camera and lighting."""
    return {
        "identity_coeffs": params.identity,
        "expression_coeffs": params.expression,
        "albedo_coeffs": params.albedo,
        "pose": params.rotation,
        "translation": params.translation,
        "camera_focal": params.camera.focal,
        "camera_principal_point": params.camera.principal_point,
        "sh_coeffs": params.sh_coeffs,
    }


def render_scene(model, scene: Scene, *, radius: int, max_tiles: int | None = None) -> dict:
    """Renders one scene and gathers what the datasets store.

    Args:
      model: the morphable model.
      scene: one :class:`Scene`; its background gives the image size ``S``.
      radius: blur kernel half-width (static, ``SceneConfig.blur_radius``).
      max_tiles: the rasterizer's tile budget (static; ``None``: its default).

    Returns:
      ``image [S, S, 3]`` uint8 (blurred, noisy), ``mask [S, S]`` bool (the face covers the
      pixel centre), ``landmarks [68, 2]`` float32 image pixels, ``landmark_visibility [68]``
      bool (inside the image and not hidden by the face itself), ``overflow`` int32
      (triangles that did not fit the rasterizer's tile budget: 0 in a complete render), and
      the :func:`ground_truth` of the scene's parameters.
    """
    size = scene.background.shape[0]
    rendering = render_face(
        model, scene.params, size, size, background=scene.background, max_tiles=max_tiles
    )
    image = gaussian_blur(rendering.image, scene.blur_sigma, radius) + scene.noise
    return {
        "image": to_uint8(image),
        "mask": rendering.mask > 0,
        "landmarks": rendering.landmarks_2d[:, :2],
        "landmark_visibility": rendering.landmark_visibility > 0,
        "overflow": rendering.fragments.overflow_count,
        **ground_truth(scene.params),
    }


@functools.partial(jax.jit, static_argnames=("radius", "max_tiles"))
def render_scenes(model, scenes: Scene, *, radius: int, max_tiles: int | None = None) -> dict:
    """:func:`render_scene` over a batch of scenes (leading axis ``B``): ``[B, ...]`` arrays."""
    return jax.vmap(lambda scene: render_scene(model, scene, radius=radius, max_tiles=max_tiles))(
        scenes
    )
