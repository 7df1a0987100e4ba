"""Horizontal flips of face labels: the iBUG-68 mirror permutation, pose, camera and lighting.

Flipping an image of width ``W`` maps pixel coordinates ``x -> W - x`` (docs/conventions.md:
continuous x from 0 at the left edge to ``W`` at the right edge, so the flip of pixel column
``j`` is column ``W - 1 - j`` and its centre ``j + 0.5`` goes to ``W - j - 0.5``).

In 3D the flip is the mirror ``M = diag(-1, 1, 1)`` of the camera frame (x right, y up, z towards
the viewer). A face ``R @ X`` seen in the mirror is ``M @ R @ X = (M R M) @ (M X)``: the mirror
image ``M X`` of the face, posed by ``R' = M R M``. For the mirrored face, landmark ``i`` sits where
the original's mirror landmark ``MIRROR_PERMUTATION[i]`` was (the subject's right eye of the
flipped image is the mirror of the original's left eye), so 2D landmarks are mirrored *and*
permuted. Euler angles need no matrix algebra: ``M Rx(a) M = Rx(a)``, ``M Ry(a) M = Ry(-a)``,
``M Rz(a) M = Rz(-a)`` for the right-handed elementary rotations, hence for both facejax
conventions (``"xyz"``: ``Rz Ry Rx``; ``"3ddfa"``: its transpose) the mirrored pose is
``(pitch, -yaw, -roll)`` exactly, at every angle (no gimbal-lock case).

Morphable-model coefficients are *not* mirrored: they keep describing the unflipped face ``X``,
and the flipped image shows ``M X`` (with the landmark correspondence permuted). Augmentation
records this in a ``flipped`` feature.

Everything here is numpy, one example at a time (it runs inside grain workers).
"""

from __future__ import annotations

import numpy as np

NUM_LANDMARKS = 68

# iBUG 68 mirror pairs (Sagonas et al., 300-W markup): jaw, brows, lower nose, eyes, outer lips,
# inner lips. Points 8 (chin), 27-30 (nose bridge), 33 (subnasale), 51, 57, 62, 66 (lip
# midpoints) lie on the midline and map to themselves.
MIRROR_PAIRS = (
    tuple((k, 16 - k) for k in range(8))
    + tuple((17 + k, 26 - k) for k in range(5))
    + ((31, 35), (32, 34))
    + ((36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46))
    + ((48, 54), (49, 53), (50, 52), (55, 59), (56, 58))
    + ((60, 64), (61, 63), (65, 67))
)


def _permutation() -> np.ndarray:
    perm = np.arange(NUM_LANDMARKS, dtype=np.int32)
    for a, b in MIRROR_PAIRS:
        perm[a], perm[b] = b, a
    perm.setflags(write=False)
    return perm


# ``[68]`` int32: the index of each landmark's mirror image (an involution).
MIRROR_PERMUTATION = _permutation()

# Real SH basis functions odd in x (docs of facejax.lighting: k = 3 is x, 4 is x y, 7 is x z).
_SH_ODD_IN_X = (3, 4, 7)


def mirror_points(points, width: float, permute: bool = True) -> np.ndarray:
    """Landmarks ``[..., 68, 2]`` of the horizontally flipped image.

    Args:
      points: ``[..., 68, 2]`` ``(x, y)`` in pixels (or ``[..., N, 2]`` with ``permute=False``).
      width: image width ``W`` in pixels.
      permute: reorder by :data:`MIRROR_PERMUTATION` (for the 68 iBUG landmarks).

    Returns:
      Points of the same shape and dtype: ``x -> W - x``, reordered.
    """
    points = np.asarray(points)
    if points.shape[-1] != 2:
        raise ValueError(f"mirror_points: need [..., N, 2] points, got {points.shape}")
    mirrored = points.copy()
    mirrored[..., 0] = width - points[..., 0]
    if permute:
        mirrored = mirror_per_landmark(mirrored, axis=-2)
    return mirrored


def mirror_per_landmark(values, axis: int = 0) -> np.ndarray:
    """Reorders a per-landmark quantity (visibility ``[68]``, depth ``[68]``, ...) for a flip.

    Args:
      values: an array whose ``axis`` has length 68.
      axis: the landmark axis.

    Returns:
      ``values`` taken at :data:`MIRROR_PERMUTATION` along ``axis``.
    """
    values = np.asarray(values)
    if values.ndim == 0 or values.shape[axis] != NUM_LANDMARKS:
        raise ValueError(
            f"mirror_per_landmark: axis {axis} must have {NUM_LANDMARKS} landmarks, got shape "
            f"{values.shape}"
        )
    return np.take(values, MIRROR_PERMUTATION, axis=axis)


def mirror_pose(pose) -> np.ndarray:
    """Euler angles ``(pitch, yaw, roll)`` ``[..., 3]`` of the mirrored face.

    Exact for both facejax conventions (``"xyz"`` and ``"3ddfa"``): the rotation matrix of the
    result is ``M R M`` with ``M = diag(-1, 1, 1)`` (see the module docstring).

    Returns:
      ``(pitch, -yaw, -roll)``, same shape and dtype.
    """
    pose = np.asarray(pose)
    if pose.shape[-1:] != (3,):
        raise ValueError(f"mirror_pose: need [..., 3] (pitch, yaw, roll), got {pose.shape}")
    return pose * np.array([1, -1, -1], dtype=pose.dtype)


def mirror_camera_translation(translation, width: float) -> np.ndarray:
    """Weak-perspective ``camera_translation`` ``[..., 2]`` (pixels) of the flipped image.

    ``x = tx + s X`` becomes ``W - x = (W - tx) + s (-X)``: with the pose mirrored
    (:func:`mirror_pose`) the camera keeps its scale and moves its origin to ``W - tx``.
    """
    translation = np.asarray(translation)
    if translation.shape[-1:] != (2,):
        raise ValueError(f"mirror_camera_translation: need [..., 2], got {translation.shape}")
    mirrored = translation.copy()
    mirrored[..., 0] = width - translation[..., 0]
    return mirrored


def mirror_crop_transform(transform, width: float) -> np.ndarray:
    """Composes a ``[2, 3]`` crop transform (source pixels -> crop pixels) with the flip.

    The result maps source pixels to the flipped crop: its first row becomes ``W - row``, so its
    linear part has a negative determinant (a reflection), as the flipped crop of the source is.
    """
    transform = np.asarray(transform)
    if transform.shape[-2:] != (2, 3):
        raise ValueError(f"mirror_crop_transform: need [..., 2, 3], got {transform.shape}")
    mirrored = transform.copy()
    mirrored[..., 0, :] = -transform[..., 0, :]
    mirrored[..., 0, 2] += width
    return mirrored


def mirror_sh_coeffs(sh_coeffs) -> np.ndarray:
    """Spherical-harmonics lighting ``[..., 9, C]`` (camera frame, facejax.lighting's basis order)
    mirrored by ``x -> -x``: the coefficients of the basis functions odd in x (``x``, ``x y``,
    ``x z``) change sign."""
    sh_coeffs = np.asarray(sh_coeffs)
    if sh_coeffs.ndim < 2 or sh_coeffs.shape[-2] != 9:
        raise ValueError(f"mirror_sh_coeffs: need [..., 9, C] coefficients, got {sh_coeffs.shape}")
    mirrored = sh_coeffs.copy()
    mirrored[..., _SH_ODD_IN_X, :] = -sh_coeffs[..., _SH_ODD_IN_X, :]
    return mirrored


def flip_image(image) -> np.ndarray:
    """``[H, W, ...]`` image (or mask) flipped left-right (a contiguous copy)."""
    image = np.asarray(image)
    if image.ndim < 2:
        raise ValueError(f"flip_image: need [H, W, ...], got {image.shape}")
    return np.ascontiguousarray(image[:, ::-1])
