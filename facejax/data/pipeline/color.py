"""Colour jitter of an RGB image: brightness, contrast and saturation, in that order.

Each factor is drawn uniformly in ``[1 - strength, 1 + strength]``; the image stays in the
``[0, 255]`` range of the stored uint8 pixels (float32 inside, clipped at the end). Geometry and
labels are untouched. The formulas are torchvision's ``ColorJitter`` ones (ITU-R 601 luma):

* brightness ``b``: ``img * b``;
* contrast ``c``: ``mean + (img - mean) * c`` with ``mean`` the image's mean luma;
* saturation ``s``: ``luma + (img - luma) * s`` per pixel.
"""

from __future__ import annotations

import numpy as np

# ITU-R BT.601 luma weights, as torchvision's rgb_to_grayscale.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def jitter_factors(rng: np.random.Generator, strength: float) -> np.ndarray:
    """``[3]`` float32 (brightness, contrast, saturation) factors in ``[1 - s, 1 + s]``."""
    return rng.uniform(1.0 - strength, 1.0 + strength, size=3).astype(np.float32)


def color_jitter(image, factors) -> np.ndarray:
    """Applies brightness, contrast and saturation factors to an RGB image.

    Args:
      image: ``[H, W, 3]`` RGB in ``[0, 255]`` (uint8 or float).
      factors: ``[3]`` (brightness, contrast, saturation); 1 leaves the image as it is.

    Returns:
      ``[H, W, 3]`` float32 in ``[0, 255]``.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"color_jitter: need an [H, W, 3] RGB image, got {image.shape}")
    brightness, contrast, saturation = (float(f) for f in np.asarray(factors).reshape(3))
    out = image.astype(np.float32) * brightness
    np.clip(out, 0.0, 255.0, out=out)
    mean = float(np.mean(out @ LUMA_WEIGHTS))
    out = (out - mean) * contrast + mean
    np.clip(out, 0.0, 255.0, out=out)
    luma = (out @ LUMA_WEIGHTS)[..., None]
    out = (out - luma) * saturation + luma
    np.clip(out, 0.0, 255.0, out=out)
    return out
