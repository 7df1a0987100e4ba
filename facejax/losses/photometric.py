"""Photometric loss: colour distance between a rendered face and the image, over the face mask."""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp

from facejax.geometry import safe_norm
from facejax.losses.masked import at_least_float32, keep, masked_mean

Array = Any

PHOTOMETRIC_KINDS = ("l2", "l1", "squared")


def pixel_distance(diff, kind: str = "l2") -> Array:
    """Per-pixel colour distance of a difference ``[..., C]`` -> ``[...]``.

    * ``"l2"``: Euclidean norm of the colour difference (Deep3DFaceRecon's photometric loss),
      with a finite (zero) gradient where the colours agree.
    * ``"l1"``: sum of absolute channel differences.
    * ``"squared"``: squared Euclidean norm.
    """
    if kind == "l2":
        return safe_norm(diff, axis=-1)
    if kind == "l1":
        return jnp.sum(jnp.abs(diff), axis=-1)
    if kind == "squared":
        return jnp.sum(jnp.square(diff), axis=-1)
    raise ValueError(f"photometric_loss: unknown kind {kind!r}; known: {PHOTOMETRIC_KINDS}")


def photometric_loss(rendered, target, mask, *, kind: str = "l2") -> Array:
    """Masked mean colour distance of each image.

    ``sum_p mask_p dist(rendered_p - target_p) / sum_p mask_p``: a soft mask (values in
    ``[0, 1]``, e.g. a soft silhouette times a skin mask) weighs pixels. An empty mask gives 0
    with zero gradient; pixels outside the mask contribute nothing, even if NaN.

    Args:
      rendered: ``[..., H, W, C]`` rendered images (colours in [0, 1]).
      target: ``[..., H, W, C]`` the input images.
      mask: ``[..., H, W]`` (or ``[H, W]``) non-negative pixel weights.
      kind: ``"l2"`` (default), ``"l1"`` or ``"squared"``, see :func:`pixel_distance`.

    Returns:
      ``[...]`` losses.
    """
    rendered, target = at_least_float32(rendered), at_least_float32(target)
    if rendered.shape != target.shape or rendered.ndim < 3:
        raise ValueError(
            "photometric_loss: rendered and target must be [..., H, W, C] of one shape, got "
            f"{rendered.shape} and {target.shape}"
        )
    mask = jnp.asarray(mask)
    image_shape = rendered.shape[:-1]
    if mask.ndim < 2 or mask.shape != image_shape[len(image_shape) - mask.ndim :]:
        raise ValueError(
            f"photometric_loss: mask must have shape {image_shape} (or its trailing [H, W]), "
            f"got {mask.shape}"
        )
    mask = jnp.broadcast_to(mask, image_shape).astype(rendered.dtype)
    per_pixel = pixel_distance(keep(mask, rendered - target), kind)
    return masked_mean(per_pixel, mask, axis=(-2, -1))
