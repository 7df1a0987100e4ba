"""Where a fit starts: the camera of an image, and a closed-form pose from landmarks.

A gradient fit started from a frontal face does not find a face turned by 70 degrees: the
landmark objective has other minima (a mirrored yaw, a face seen from behind). The pose is
therefore initialised in closed form from the model's mean landmarks and the targets, under a
scaled orthographic camera:

1. an affine camera ``q = M X + a`` (``M`` ``[2, 3]``) by weighted linear least squares, with
   ``q = (x, -y)`` the image points with y turned up like the camera frame;
2. the nearest scaled rotation: ``M = U S V^T``, first two rows ``U V^T``, the third their cross
   product, scale ``mean(S)`` (the usual factorisation of an affine camera);
3. a few rounds of 3D Procrustes (``facejax.geometry.procrustes``): the targets are lifted to 3D
   with the depths of the current fit and the best similarity is solved again; each round
   lowers the orthographic reprojection error.

For a perspective camera with known focal the scale becomes a depth (``focal / scale`` for the
landmarks' centroid) and the image position a 3D translation.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from facejax import geometry
from facejax.morphable.params import DEFAULT_DISTANCE_MM, DEFAULT_FOCAL_224, DEFAULT_IMAGE_SIZE

Array = Any

# Below this scale (pixels per mm) a fit is degenerate (all targets on one point).
_MIN_SCALE = 1e-6


def image_camera(height, width, focal=None, dtype=None) -> geometry.PerspectiveCamera:
    """The pinhole camera facejax assumes for an image of ``height x width`` pixels.

    The principal point is the image centre ``(width / 2, height / 2)``; the focal length is
    ``focal`` pixels when known (e.g. from EXIF: ``focal_mm / sensor_width_mm * width``), else
    the default camera's scaled to the longer side: ``1015 * max(height, width) / 224`` pixels
    (``facejax.morphable.default_camera``, Deep3DFaceRecon's camera; a 12.6 degree field of view).
    On a square image it is exactly ``default_camera(size)``.

    Args:
      height, width: image size in pixels (numbers or ``[]`` arrays; vmap over arrays for
        images of several sizes).
      focal: optional focal length in pixels (``[]`` or ``[2]``).
      dtype: float dtype (default: JAX's default float).
    """
    dtype = dtype or jnp.result_type(float)
    height = jnp.asarray(height, dtype)
    width = jnp.asarray(width, dtype)
    if focal is None:
        focal = DEFAULT_FOCAL_224 * jnp.maximum(height, width) / DEFAULT_IMAGE_SIZE
    focal = jnp.broadcast_to(jnp.asarray(focal, dtype), (2,))
    return geometry.PerspectiveCamera(
        focal=focal,
        principal_point=jnp.stack([0.5 * width, 0.5 * height]),
        near=jnp.asarray(geometry.camera.DEFAULT_NEAR, dtype),
        far=jnp.asarray(geometry.camera.DEFAULT_FAR, dtype),
    )


def image_cameras(image_sizes, focal=None, dtype=None) -> geometry.PerspectiveCamera:
    """:func:`image_camera` of every image: one camera per ``(height, width)``, stacked.

    Args:
      image_sizes: ``[..., 2]`` ``(height, width)`` in pixels (a list of pairs is fine).
      focal: optional focal length in pixels for every image (``[]`` or ``[2]``).
      dtype: float dtype (default: JAX's default float).

    Returns:
      A ``PerspectiveCamera`` whose leaves have the leading dims ``[...]``.
    """
    dtype = dtype or jnp.result_type(float)
    sizes = jnp.asarray(image_sizes, dtype)
    if sizes.ndim < 1 or sizes.shape[-1] != 2:
        raise ValueError(f"image_sizes must be [..., 2] (height, width), got {sizes.shape}")
    flat = sizes.reshape(-1, 2)
    cameras = jax.vmap(lambda size: image_camera(size[0], size[1], focal, dtype))(flat)
    return jax.tree_util.tree_map(lambda a: a.reshape(sizes.shape[:-1] + a.shape[1:]), cameras)


def orthographic_pose(points, landmarks, weights, iterations: int = 5):
    """Scaled orthographic pose of 3D ``points`` that best projects them onto ``landmarks``.

    Solves ``min sum_i w_i |P(s R points_i) + a - (x_i, -y_i)|^2`` (``P`` drops z) as the
    module docstring describes.

    Args:
      points: ``[L, 3]`` model-frame points (e.g. the mean face's landmarks), mm.
      landmarks: ``[L, 2]`` image points, pixels (finite).
      weights: ``[L]`` non-negative weights; at least 4 points with weight > 0, not coplanar.
      iterations: Procrustes refinement rounds (static).

    Returns:
      ``(scale [] (pixels per mm), rotation [3, 3], offset [2])``: the image point is
      ``x = scale * (R p)_x + offset_x`` and ``y = -(scale * (R p)_y + offset_y)``.
    """
    dtype = points.dtype
    total = jnp.sum(weights)
    weights = jnp.where(total > 0, weights, jnp.ones_like(weights))
    flipped = landmarks * jnp.asarray([[1.0, -1.0]], dtype)
    # Centred and scaled, the 3x3 normal equations stay well conditioned in float32.
    weights_sum = jnp.sum(weights)
    point_mean = jnp.einsum("l,lc->c", weights, points) / weights_sum
    image_mean = jnp.einsum("l,lc->c", weights, flipped) / weights_sum
    centred = points - point_mean[None, :]
    spread = jnp.sqrt(jnp.einsum("l,lc,lc->", weights, centred, centred) / weights_sum)
    centred = centred / jnp.maximum(spread, 1e-12)
    normal = jnp.einsum("l,li,lj->ij", weights, centred, centred)
    rhs = jnp.einsum("l,li,lc->ic", weights, centred, flipped - image_mean[None, :])
    ridge = 1e-9 * jnp.trace(normal) * jnp.eye(3, dtype=dtype)
    linear = jnp.linalg.solve(normal + ridge, rhs).T / jnp.maximum(spread, 1e-12)  # [2, 3]
    u, singular, vt = jnp.linalg.svd(linear, full_matrices=False)
    rows = u @ vt  # [2, 3] orthonormal rows
    rotation = jnp.concatenate([rows, jnp.cross(rows[0], rows[1])[None]], axis=0)
    scale = jnp.maximum(jnp.mean(singular), _MIN_SCALE)
    offset = image_mean - scale * (rotation[:2] @ point_mean)

    def refine(_, pose):
        scale, rotation, offset = pose
        depth = scale * (points @ rotation[2])
        lifted = jnp.concatenate([flipped, depth[:, None]], axis=-1)
        scale, rotation, translation = geometry.procrustes(points, lifted, weights)
        return jnp.maximum(scale, _MIN_SCALE), rotation, translation[:2]

    return jax.lax.fori_loop(0, iterations, refine, (scale, rotation, offset))


def _perspective_translation(scale, rotation, offset, centroid, camera):
    """The translation that puts the centroid where the orthographic pose does, at the depth
    where the camera's focal gives the orthographic scale."""
    rotated = rotation @ centroid
    image_x = scale * rotated[0] + offset[0]
    image_y = -(scale * rotated[1] + offset[1])
    depth = jnp.mean(camera.focal) / scale
    centre = jnp.stack(
        [
            (image_x - camera.principal_point[0]) * depth / camera.focal[0],
            (camera.principal_point[1] - image_y) * depth / camera.focal[1],
            -depth,
        ]
    )
    return centre - rotated


def initial_pose(points, landmarks, weights, camera, iterations: int = 5, perspective_rounds=3):
    """A starting pose (and weak-perspective camera) for a fit, in closed form.

    For a perspective camera, ``perspective_rounds`` rounds of POSIT's correction (DeMenthon and
    Davis, IJCV 1995) follow: each target is moved to where a scaled orthographic camera would
    have put it, ``c + (x_i - c) * depth_i / depth_centroid`` (``c`` the principal point, depths
    from the current pose), and the orthographic pose is solved again. A face close to a
    wide-angle camera is then started as well as a distant one.

    Args:
      points: ``[L, 3]`` model-frame landmarks of the mean face, mm.
      landmarks: ``[L, 2]`` target image landmarks, pixels (finite; missing ones at weight 0).
      weights: ``[L]`` non-negative weights.
      camera: a ``PerspectiveCamera`` (known intrinsics: the translation is solved, depth
        included) or a ``WeakPerspectiveCamera`` (its values are ignored: scale and image
        translation are solved, and the 3D translation is ``(0, 0, -1000)`` mm).
      iterations: Procrustes refinement rounds of each orthographic solve (static).
      perspective_rounds: POSIT rounds for a perspective camera (static).

    Returns:
      ``(rotation [3, 3], translation [3], camera)``; ``camera`` is the input perspective camera
      or the solved weak-perspective one. With no weighted point the pose is frontal at 1 m.
    """
    dtype = points.dtype
    valid = jnp.sum(weights) > 0
    frontal = jnp.asarray([0.0, 0.0, -DEFAULT_DISTANCE_MM], dtype)
    scale, rotation, offset = orthographic_pose(points, landmarks, weights, iterations)
    if isinstance(camera, geometry.WeakPerspectiveCamera):
        solved = geometry.WeakPerspectiveCamera(
            scale=jnp.where(valid, scale, 1.0),
            translation=jnp.where(valid, offset, 0.0) * jnp.asarray([1.0, -1.0], dtype),
        )
        return jnp.where(valid, rotation, jnp.eye(3, dtype=dtype)), frontal, solved
    if not isinstance(camera, geometry.PerspectiveCamera):
        raise TypeError(f"initial_pose: unknown camera type {type(camera).__name__}")
    safe_weights = jnp.where(valid, weights, jnp.ones_like(weights))
    centroid = jnp.einsum("l,lc->c", safe_weights, points) / jnp.sum(safe_weights)

    def posit(_, pose):
        scale, rotation, offset = pose
        translation = _perspective_translation(scale, rotation, offset, centroid, camera)
        depth = -(points @ rotation[2] + translation[2])
        ratio = depth / -(rotation[2] @ centroid + translation[2])
        # A point at or behind the camera carries no usable correction.
        ratio = jnp.clip(ratio, 0.5, 2.0)
        centre = camera.principal_point[None, :]
        corrected = centre + (landmarks - centre) * ratio[:, None]
        return orthographic_pose(points, corrected, weights, iterations)

    scale, rotation, offset = jax.lax.fori_loop(
        0, perspective_rounds, posit, (scale, rotation, offset)
    )
    translation = _perspective_translation(scale, rotation, offset, centroid, camera)
    rotation = jnp.where(valid, rotation, jnp.eye(3, dtype=dtype))
    return rotation, jnp.where(valid, translation, frontal), camera
