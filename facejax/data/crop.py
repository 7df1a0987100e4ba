"""Face crops: a similarity transform to a canonical template or around a box, warped with Pillow.

Everything here runs when a dataset is built (numpy and Pillow, no JAX). Coordinates follow
docs/conventions.md: ``(x, y)`` in pixels, x right, y down, the centre of pixel ``[i, j]`` at
``(j + 0.5, i + 0.5)``. Pillow's affine warp samples in this same convention (it evaluates the
map at output pixel centres and its bilinear filter puts input pixel centres at +0.5), so no
half-pixel correction is needed anywhere.

A **crop transform** is a ``[2, 3]`` matrix ``A`` taking source-image coordinates to crop
coordinates, ``crop_xy = A[:, :2] @ image_xy + A[:, 2]``. Every crop is a similarity (uniform
scale, rotation, translation), so landmarks, boxes and a weak-perspective camera carry over
exactly (:func:`apply_transform`, :func:`crop_weak_perspective`).

Two ways to place the face:

* **template** (:func:`template_transform`): the least-squares similarity (Umeyama 1991, in 2D)
  from five points (the eye centres, the nose tip, the mouth corners; derived from 68 iBUG
  landmarks by :func:`five_points_from_68`) to the ArcFace / insightface 5-point template of a
  112x112 crop, scaled to the crop size. It rotates the face upright (in-plane roll removed).
  ``margin > 1`` shrinks the template about the crop centre, showing more around the face.
* **box** (:func:`box_transform`): a square of side ``enlarge * max(width, height)`` centred on
  a box (a detector box, or the bounding box of landmarks: :func:`landmark_box`), scaled to the
  crop. It never rotates, so a head pose known in the source image stays valid in the crop.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

# insightface's `arcface_dst` (recognition/common/face_align.py) for a 112x112 crop, in OpenCV
# pixel coordinates (pixel centres at integers), plus 0.5 for the facejax convention. Order:
# the subject's right eye (image left), left eye, nose tip, right and left mouth corners.
ARCFACE_TEMPLATE_112 = (
    np.array(
        [
            [38.2946, 51.6963],
            [73.5318, 51.5014],
            [56.0252, 71.7366],
            [41.5493, 92.3655],
            [70.7299, 92.2041],
        ]
    )
    + 0.5
)
ARCFACE_CROP_SIZE = 112
FIVE_POINT_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth_corner", "left_mouth_corner")

# iBUG 68-point indices (0-based) behind the five template points.
_RIGHT_EYE_68 = slice(36, 42)
_LEFT_EYE_68 = slice(42, 48)
_NOSE_TIP_68 = 30
_RIGHT_MOUTH_68 = 48
_LEFT_MOUTH_68 = 54


def _as_points(points, name: str, fn: str) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim < 2 or points.shape[-1] != 2:
        raise ValueError(f"{fn}: {name} must have shape [..., N, 2], got {points.shape}")
    if not np.all(np.isfinite(points)):
        raise ValueError(f"{fn}: {name} contains NaN or infinite values")
    return points


def _check_transform(transform, fn: str) -> np.ndarray:
    transform = np.asarray(transform, dtype=np.float64)
    if transform.shape != (2, 3):
        raise ValueError(f"{fn}: transform must have shape [2, 3], got {transform.shape}")
    return transform


def five_points_from_68(landmarks) -> np.ndarray:
    """The five template points from 68 iBUG landmarks.

    Args:
      landmarks: ``[..., 68, 2]`` (or ``[..., 68, 3]``; only x, y are used).

    Returns:
      ``[..., 5, 2]``: the centres of the right (36-41) and left (42-47) eye contours, the nose
      tip (30) and the mouth corners (48, 54), in the order of ``FIVE_POINT_NAMES``.
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim < 2 or landmarks.shape[-2] != 68 or landmarks.shape[-1] not in (2, 3):
        raise ValueError(f"five_points_from_68: need [..., 68, 2], got {landmarks.shape}")
    xy = landmarks[..., :2]
    return np.stack(
        [
            xy[..., _RIGHT_EYE_68, :].mean(axis=-2),
            xy[..., _LEFT_EYE_68, :].mean(axis=-2),
            xy[..., _NOSE_TIP_68, :],
            xy[..., _RIGHT_MOUTH_68, :],
            xy[..., _LEFT_MOUTH_68, :],
        ],
        axis=-2,
    )


def template_points(crop_size: int, margin: float = 1.0) -> np.ndarray:
    """The ArcFace 5-point template for a ``crop_size`` square crop.

    Args:
      crop_size: side of the crop in pixels.
      margin: ``1.0`` frames the face as ArcFace does; ``m > 1`` shrinks the template about the
        crop centre by ``1 / m`` (the face covers ``1 / m`` of the ArcFace extent).

    Returns:
      ``[5, 2]`` float64 target points in crop pixels (facejax convention).
    """
    if crop_size <= 0 or margin <= 0:
        raise ValueError(
            f"template_points: need crop_size > 0 and margin > 0, got {crop_size}, {margin}"
        )
    scaled = ARCFACE_TEMPLATE_112 * (crop_size / ARCFACE_CROP_SIZE)
    centre = crop_size / 2.0
    return centre + (scaled - centre) / margin


def similarity_transform_2d(source, target) -> np.ndarray:
    """Least-squares 2D similarity ``x -> s R x + t`` mapping ``source`` onto ``target``.

    Umeyama's closed form (TPAMI 1991) in two dimensions, reflections excluded: the 2D analogue of
    :func:`facejax.geometry.procrustes` for build-time numpy code.

    Args:
      source: ``[N, 2]`` points, ``N >= 2``, not all equal.
      target: ``[N, 2]`` corresponding points.

    Returns:
      ``[2, 3]`` transform ``A`` with ``A[:, :2] = s R`` and ``A[:, 2] = t``.

    Raises:
      ValueError: for mismatched shapes, equal source points, or a best fit of scale zero.
    """
    source = _as_points(source, "source", "similarity_transform_2d")
    target = _as_points(target, "target", "similarity_transform_2d")
    if source.ndim != 2 or source.shape != target.shape or source.shape[0] < 2:
        raise ValueError(
            f"similarity_transform_2d: need source and target of the same shape [N >= 2, 2], got "
            f"{source.shape} and {target.shape}"
        )
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    cs, ct = source - mu_s, target - mu_t
    variance = np.mean(np.sum(cs**2, axis=1))
    if variance <= 0:
        raise ValueError("similarity_transform_2d: source points are all equal")
    covariance = ct.T @ cs / source.shape[0]
    u, singular, vt = np.linalg.svd(covariance)
    d = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    d = 1.0 if d == 0 else d
    signs = np.array([1.0, d])
    rotation = (u * signs) @ vt
    scale = np.sum(singular * signs) / variance
    spread = math.sqrt(np.mean(np.sum(ct**2, axis=1)) / variance)
    if not scale > 1e-9 * spread:
        # e.g. a target that is a mirror image of the source: the best rotation has no scale.
        raise ValueError("similarity_transform_2d: no similarity without reflection fits target")
    translation = mu_t - scale * rotation @ mu_s
    return np.concatenate([scale * rotation, translation[:, None]], axis=1)


def template_transform(points, crop_size: int, margin: float = 1.0) -> np.ndarray:
    """Crop transform aligning a face's five points (or 68 landmarks) to the template.

    Args:
      points: ``[5, 2]`` points in the order of ``FIVE_POINT_NAMES``, or ``[68, 2(3)]`` iBUG
        landmarks (reduced with :func:`five_points_from_68`).
      crop_size: side of the crop in pixels.
      margin: see :func:`template_points`.

    Returns:
      ``[2, 3]`` crop transform (image -> crop).
    """
    points = np.asarray(points, dtype=np.float64)
    if points.shape[0] == 68:
        points = five_points_from_68(points)
    if points.shape != (5, 2):
        raise ValueError(f"template_transform: need [5, 2] or [68, 2] points, got {points.shape}")
    return similarity_transform_2d(points, template_points(crop_size, margin))


def landmark_box(landmarks) -> np.ndarray:
    """The bounding box ``(x_min, y_min, x_max, y_max)`` of ``[N, 2(3)]`` landmarks."""
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.ndim != 2 or landmarks.shape[1] not in (2, 3) or landmarks.shape[0] < 2:
        raise ValueError(f"landmark_box: need [N >= 2, 2] landmarks, got {landmarks.shape}")
    xy = landmarks[:, :2]
    return np.concatenate([xy.min(axis=0), xy.max(axis=0)])


def central_box(width: int, height: int, fraction: float = 1.0) -> np.ndarray:
    """The square box of side ``fraction * min(width, height)`` centred in an image.

    Returns:
      ``(x_min, y_min, x_max, y_max)`` in pixels.
    """
    if width <= 0 or height <= 0 or not fraction > 0:
        raise ValueError(
            f"central_box: need a non-empty image and fraction > 0, got "
            f"{width}x{height}, {fraction}"
        )
    half = 0.5 * fraction * min(width, height)
    cx, cy = 0.5 * width, 0.5 * height
    return np.array([cx - half, cy - half, cx + half, cy + half])


def box_transform(box, crop_size: int, enlarge: float = 1.0) -> np.ndarray:
    """Crop transform of the square around a box: no rotation, uniform scale.

    Args:
      box: ``(x_min, y_min, x_max, y_max)`` in image pixels (facejax convention: a box covering
        pixels ``[i0, i1)`` x ``[j0, j1)`` is ``(j0, i0, j1, i1)``).
      crop_size: side of the crop in pixels.
      enlarge: the square's side is ``enlarge * max(width, height)``, centred on the box.

    Returns:
      ``[2, 3]`` crop transform mapping the square onto ``[0, crop_size]^2``.
    """
    box = np.asarray(box, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise ValueError(f"box_transform: box must be 4 finite numbers, got {box}")
    width, height = box[2] - box[0], box[3] - box[1]
    side = enlarge * max(width, height)
    if not side > 0:
        raise ValueError(f"box_transform: empty box {box.tolist()} (or enlarge {enlarge} <= 0)")
    scale = crop_size / side
    centre = 0.5 * (box[:2] + box[2:])
    translation = crop_size / 2.0 - scale * centre
    return np.array([[scale, 0.0, translation[0]], [0.0, scale, translation[1]]])


def apply_transform(transform, points) -> np.ndarray:
    """``[..., 2]`` points moved by a ``[2, 3]`` transform (``A[:, :2] @ p + A[:, 2]``)."""
    transform = _check_transform(transform, "apply_transform")
    points = np.asarray(points, dtype=np.float64)
    if points.shape[-1] != 2:
        raise ValueError(f"apply_transform: points must have shape [..., 2], got {points.shape}")
    return points @ transform[:, :2].T + transform[:, 2]


def invert_transform(transform) -> np.ndarray:
    """The ``[2, 3]`` transform undoing ``transform`` (crop -> image for a crop transform)."""
    transform = _check_transform(transform, "invert_transform")
    linear = transform[:, :2]
    if abs(np.linalg.det(linear)) < 1e-12:
        raise ValueError("invert_transform: the transform is singular")
    inverse = np.linalg.inv(linear)
    return np.concatenate([inverse, (-inverse @ transform[:, 2])[:, None]], axis=1)


def transform_scale_angle(transform) -> tuple[float, float]:
    """Scale and rotation angle of a similarity crop transform.

    Returns:
      ``(scale, angle)``: crop pixels per image pixel, and the angle in radians by which the
      transform turns image directions, measured in image coordinates (x right, y down: a
      positive angle turns +x towards +y, clockwise on screen).
    """
    transform = _check_transform(transform, "transform_scale_angle")
    scale = math.sqrt(abs(np.linalg.det(transform[:, :2])))
    angle = math.atan2(transform[1, 0], transform[0, 0])
    return scale, angle


def crop_weak_perspective(
    transform, rotation, scale: float, translation
) -> tuple[np.ndarray, float, np.ndarray]:
    """Carries a weak-perspective camera from the source image into the crop.

    The camera is facejax's ``WeakPerspectiveCamera`` applied to ``rotation @ X``: pixel
    ``(tx + scale * Y_x, ty - scale * Y_y)`` for ``Y = rotation @ X`` in a y-up frame. A crop
    ``crop = L p + b`` with ``L = k Rot(theta)`` (image coordinates, y down) equals the same
    camera with ``rotation' = Rz(-theta) @ rotation`` (``Rz`` right-handed about z: a clockwise
    turn on screen is a negative turn in the y-up frame), ``scale' = k * scale`` and
    ``translation' = L translation + b``.

    Args:
      transform: ``[2, 3]`` similarity crop transform.
      rotation: ``[3, 3]`` rotation matrix of the face (model -> camera frame, y up).
      scale: pixels per model unit in the source image.
      translation: ``[2]`` image position of the camera-frame origin, source image pixels.

    Returns:
      ``(rotation' [3, 3], scale', translation' [2])`` for the crop.
    """
    transform = _check_transform(transform, "crop_weak_perspective")
    k, theta = transform_scale_angle(transform)
    c, s = math.cos(-theta), math.sin(-theta)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    rotation = turn @ np.asarray(rotation, dtype=np.float64)
    translation = apply_transform(transform, np.asarray(translation, dtype=np.float64))
    return rotation, k * float(scale), translation


def warp_image(image, transform, crop_size: int, antialias: bool = True) -> np.ndarray:
    """Warps an image into a ``crop_size`` square crop with bilinear sampling.

    Pixels that fall outside the source image are black. When the crop shrinks the face by 2x or
    more, the image is first box-filtered by the integer factor (``Image.reduce``) so the
    bilinear samples do not alias.

    Args:
      image: ``[H, W, 3]`` uint8 array or a Pillow RGB image.
      transform: ``[2, 3]`` crop transform (image -> crop).
      crop_size: side of the output in pixels.
      antialias: box-filter before strong downscaling.

    Returns:
      ``[crop_size, crop_size, 3]`` uint8.
    """
    transform = _check_transform(transform, "warp_image")
    if isinstance(image, np.ndarray):
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(
                f"warp_image: need a [H, W, 3] uint8 image, got {image.shape} {image.dtype}"
            )
        image = Image.fromarray(image)
    image = image.convert("RGB") if image.mode != "RGB" else image
    scale, _ = transform_scale_angle(transform)
    # The tolerance keeps round-off (a scale of 0.12500000000000003) from losing a whole factor.
    factor = int(1.0 / scale + 1e-6) if antialias and scale > 0 else 1
    if factor >= 2:
        # image_xy = factor * reduced_xy: pixel block [f j, f j + f) becomes pixel j.
        image = image.reduce(factor)
        transform = np.concatenate([transform[:, :2] * factor, transform[:, 2:]], axis=1)
    inverse = invert_transform(transform)
    crop = image.transform(
        (crop_size, crop_size),
        Image.Transform.AFFINE,
        tuple(inverse.reshape(-1).tolist()),
        resample=Image.Resampling.BILINEAR,
        fillcolor=(0, 0, 0),
    )
    return np.asarray(crop, dtype=np.uint8)
