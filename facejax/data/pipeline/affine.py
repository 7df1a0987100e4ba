"""The random crop-and-scale of augmentation: an axis-aligned affine in crop pixels.

The augmentation moves every crop pixel coordinate by

    p' = zoom * (p - c) + c + shift,        c = (W / 2, H / 2),

(``zoom > 1`` enlarges the face, ``shift`` in pixels), applied to the image by bilinear sampling
and to every label in crop pixels by the same formula: landmarks, the weak-perspective camera
(``scale' = zoom * scale``, ``translation' = p'(translation)``) and the crop transform (composed:
source pixels -> augmented crop pixels). Coordinates follow docs/conventions.md (pixel ``[i, j]``
has its centre at ``(j + 0.5, i + 0.5)``), so the image and its labels move together exactly.

Without rotation the map is separable: each output row samples two input rows and each output
column two input columns, so bilinear sampling is two gathers along one axis each (no per-pixel
coordinate grid). Samples outside the image are black, as in facejax.data.crop.
"""

from __future__ import annotations

import numpy as np


def affine_matrix(zoom: float, shift, width: float, height: float) -> np.ndarray:
    """The ``[2, 3]`` matrix ``A`` of the augmentation: ``p' = A[:, :2] @ p + A[:, 2]``.

    Args:
      zoom: scale factor about the image centre.
      shift: ``(dx, dy)`` in pixels.
      width, height: image size in pixels.
    """
    centre = np.array([width, height], dtype=np.float64) / 2.0
    offset = (1.0 - zoom) * centre + np.asarray(shift, dtype=np.float64)
    return np.array([[zoom, 0.0, offset[0]], [0.0, zoom, offset[1]]])


def _axis_taps(n_out: int, n_in: int, zoom: float, offset: float):
    """Bilinear taps along one axis for output pixel centres ``u = k + 0.5``.

    The source coordinate of ``u`` is ``(u - offset) / zoom``; its array position (pixel centres
    at +0.5) is that minus 0.5. Taps outside ``[0, n_in)`` get weight 0 (black).

    Returns:
      ``(i0, i1, w0, w1)``: ``[n_out]`` int indices (clipped into range) and float32 weights.
    """
    position = (np.arange(n_out, dtype=np.float64) + 0.5 - offset) / zoom - 0.5
    i0 = np.floor(position)
    w1 = position - i0
    w0 = 1.0 - w1
    i0 = i0.astype(np.int64)
    i1 = i0 + 1
    w0 = np.where((i0 >= 0) & (i0 < n_in), w0, 0.0).astype(np.float32)
    w1 = np.where((i1 >= 0) & (i1 < n_in), w1, 0.0).astype(np.float32)
    return np.clip(i0, 0, n_in - 1), np.clip(i1, 0, n_in - 1), w0, w1


def warp_image(image, matrix) -> np.ndarray:
    """Samples an image under an axis-aligned augmentation affine (bilinear, black outside).

    Args:
      image: ``[H, W]`` or ``[H, W, C]`` array (any numeric dtype, bool included).
      matrix: ``[2, 3]`` from :func:`affine_matrix` (no rotation or shear).

    Returns:
      ``[H, W(, C)]`` float32: output pixel ``p'`` holds the input at ``A^-1 p'``.
    """
    image = np.asarray(image)
    matrix = np.asarray(matrix, dtype=np.float64)
    if image.ndim not in (2, 3):
        raise ValueError(f"warp_image: need [H, W] or [H, W, C], got {image.shape}")
    if matrix.shape != (2, 3) or matrix[0, 1] != 0 or matrix[1, 0] != 0:
        raise ValueError(f"warp_image: need an axis-aligned [2, 3] affine, got {matrix.tolist()}")
    if not (matrix[0, 0] > 0 and matrix[1, 1] > 0):
        raise ValueError(f"warp_image: the affine must scale by > 0, got {matrix.tolist()}")
    height, width = image.shape[:2]
    pixels = image.astype(np.float32)
    extra = (None,) * (image.ndim - 2)  # broadcast weights over channels
    r0, r1, wr0, wr1 = _axis_taps(height, height, matrix[1, 1], matrix[1, 2])
    rows = pixels[r0] * wr0[(slice(None), None, *extra)]
    rows += pixels[r1] * wr1[(slice(None), None, *extra)]
    c0, c1, wc0, wc1 = _axis_taps(width, width, matrix[0, 0], matrix[0, 2])
    out = rows[:, c0] * wc0[(None, slice(None), *extra)]
    out += rows[:, c1] * wc1[(None, slice(None), *extra)]
    return out


def transform_points(points, matrix) -> np.ndarray:
    """``[..., 2]`` pixel points moved by a ``[2, 3]`` affine, in their own dtype."""
    points = np.asarray(points)
    matrix = np.asarray(matrix, dtype=np.float64)
    if points.shape[-1:] != (2,):
        raise ValueError(f"transform_points: need [..., 2] points, got {points.shape}")
    moved = points.astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return moved.astype(points.dtype)


def compose_crop_transform(matrix, crop_transform) -> np.ndarray:
    """``matrix`` after ``crop_transform`` (both ``[2, 3]``; the result maps source pixels to
    augmented crop pixels), in the crop transform's dtype."""
    crop_transform = np.asarray(crop_transform)
    if crop_transform.shape[-2:] != (2, 3):
        raise ValueError(f"compose_crop_transform: need [..., 2, 3], got {crop_transform.shape}")
    matrix = np.asarray(matrix, dtype=np.float64)
    linear = matrix[:, :2] @ crop_transform[..., :, :2].astype(np.float64)
    offset = crop_transform[..., :, 2].astype(np.float64) @ matrix[:, :2].T + matrix[:, 2]
    return np.concatenate([linear, offset[..., None]], axis=-1).astype(crop_transform.dtype)
