"""Cameras and projection to pixel coordinates, following ``docs/conventions.md``.

The camera sits at the origin of its frame and looks down **-z** with **y up**. Projection
returns ``[..., 3]``: ``(x, y)`` in continuous pixel coordinates (x to the right, y down, the
centre of pixel ``[i, j]`` at ``(j + 0.5, i + 0.5)``) and a **depth** that grows away from the
viewer (``-z`` for both cameras), so a z-buffer keeps the smallest depth.

Cameras are ``flax.struct`` pytrees whose fields are array leaves: a batch of cameras is a camera
with a leading axis on every field, used through ``jax.vmap``. ``project`` and ``unproject``
accept one camera and points with any leading shape.
"""

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from facejax.geometry._validation import as_float, check_shape, check_trailing
from facejax.geometry.safe import safe_normalize

# Clipping planes in the camera frame's units (millimetres): a face is ~0.5 m away.
DEFAULT_NEAR = 10.0
DEFAULT_FAR = 10_000.0

# The perspective divide uses at least this |depth| (1 nm in mm), so points on the camera plane
# give large but finite pixel coordinates and gradients instead of inf/NaN.
_MIN_ABS_DEPTH = 1e-6


def _concrete(x) -> float | None:
    """``float(x)``, or None under tracing, where values can only be checked by the caller."""
    try:
        return float(x)
    except jax.errors.ConcretizationTypeError:
        return None


def _check_near_far(near, far, fn):
    near, far = _concrete(near), _concrete(far)
    if near is not None and far is not None and not 0.0 < near < far:
        raise ValueError(f"{fn}: need 0 < near < far, got near={near}, far={far}")


@struct.dataclass
class PerspectiveCamera:
    """Pinhole camera; intrinsics in pixels.

    Projection of a camera-frame point ``(X, Y, Z)``::

        x = cx + fx * X / (-Z)
        y = cy - fy * Y / (-Z)     (camera y is up, image y is down)
        depth = -Z

    Attributes:
      focal: ``[2]`` focal lengths ``(fx, fy)`` in pixels.
      principal_point: ``[2]`` ``(cx, cy)``, the image position of the optical axis, in pixels
        (``(width / 2, height / 2)`` for a centred camera).
      near: ``[]`` near clipping depth, camera-frame units (mm).
      far: ``[]`` far clipping depth.
    """

    focal: jax.Array
    principal_point: jax.Array
    near: jax.Array
    far: jax.Array

    @classmethod
    def create(cls, focal, principal_point, near=DEFAULT_NEAR, far=DEFAULT_FAR):
        """Builds a camera from numbers or arrays, converting to float.

        Args:
          focal: ``[]`` (square pixels) or ``[2]`` ``(fx, fy)`` in pixels.
          principal_point: ``[2]`` ``(cx, cy)`` in pixels.
          near: near clipping depth, > 0.
          far: far clipping depth, > near.

        Raises:
          ValueError: wrong shapes, or (for concrete values) not ``0 < near < far``.
        """
        focal = as_float(focal)
        if focal.ndim == 0:
            focal = jnp.stack([focal, focal])
        check_shape(focal, (2,), "focal", "PerspectiveCamera.create")
        principal_point = as_float(principal_point).astype(focal.dtype)
        check_shape(principal_point, (2,), "principal_point", "PerspectiveCamera.create")
        near, far = as_float(near).astype(focal.dtype), as_float(far).astype(focal.dtype)
        check_shape(near, (), "near", "PerspectiveCamera.create")
        check_shape(far, (), "far", "PerspectiveCamera.create")
        _check_near_far(near, far, "PerspectiveCamera.create")
        return cls(focal=focal, principal_point=principal_point, near=near, far=far)

    @classmethod
    def from_fov(cls, fov_y, height, width, near=DEFAULT_NEAR, far=DEFAULT_FAR):
        """A centred camera with square pixels and a vertical field of view.

        ``fy = fx = (height / 2) / tan(fov_y / 2)`` and the principal point is the image
        centre ``(width / 2, height / 2)``, so the top and bottom image edges are at
        ``+-fov_y / 2``.

        Args:
          fov_y: vertical field of view in radians, in (0, pi).
          height: image height in pixels.
          width: image width in pixels.
          near: near clipping depth.
          far: far clipping depth.
        """
        fov_y = as_float(fov_y)
        value = _concrete(fov_y)
        if value is not None and not 0.0 < value < np.pi:
            raise ValueError(
                f"PerspectiveCamera.from_fov: fov_y must be in (0, pi) radians, got {value}"
            )
        focal = 0.5 * height / jnp.tan(0.5 * fov_y)
        centre = jnp.asarray([0.5 * width, 0.5 * height], dtype=focal.dtype)
        return cls.create(focal, centre, near=near, far=far)


@struct.dataclass
class WeakPerspectiveCamera:
    """Scaled orthographic camera (no perspective divide).

    Projection of a camera-frame point ``(X, Y, Z)``::

        x = tx + scale * X
        y = ty - scale * Y         (camera y is up, image y is down)
        depth = -Z                 (unscaled, camera-frame units, as for PerspectiveCamera)

    ``translation`` is therefore the image position of the camera-frame origin. Depth is only used
    to order surfaces (a z-buffer), so it may be negative: there is no clipping.

    Attributes:
      scale: ``[]`` pixels per camera-frame unit.
      translation: ``[2]`` ``(tx, ty)`` in pixels.
    """

    scale: jax.Array
    translation: jax.Array

    @classmethod
    def create(cls, scale, translation):
        """Builds a camera from numbers or arrays, converting to float.

        Args:
          scale: ``[]`` pixels per camera-frame unit.
          translation: ``[2]`` image position ``(tx, ty)`` of the origin, in pixels.
        """
        scale = as_float(scale)
        check_shape(scale, (), "scale", "WeakPerspectiveCamera.create")
        translation = as_float(translation).astype(scale.dtype)
        check_shape(translation, (2,), "translation", "WeakPerspectiveCamera.create")
        return cls(scale=scale, translation=translation)


Camera = PerspectiveCamera | WeakPerspectiveCamera


def _unknown_camera(camera, fn):
    return TypeError(
        f"{fn}: expected PerspectiveCamera or WeakPerspectiveCamera, got {type(camera).__name__}"
    )


def project(camera: Camera, points) -> jax.Array:
    """Projects camera-frame points to pixel coordinates and depth.

    Points behind the camera (``depth <= 0``) are not visible; a perspective camera still
    returns finite but meaningless (mirrored) ``(x, y)`` for them, so callers mask with
    ``depth > camera.near``.

    Args:
      camera: one ``PerspectiveCamera`` or ``WeakPerspectiveCamera``.
      points: ``[..., 3]`` points in the camera frame.

    Returns:
      ``[..., 3]``: ``(x, y)`` in pixels and ``depth = -z``.
    """
    points = as_float(points)
    check_trailing(points, (3,), "points", "project")
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    depth = -z
    if isinstance(camera, PerspectiveCamera):
        divisor = jnp.where(jnp.abs(depth) < _MIN_ABS_DEPTH, _MIN_ABS_DEPTH, depth)
        u = camera.principal_point[0] + camera.focal[0] * x / divisor
        v = camera.principal_point[1] - camera.focal[1] * y / divisor
    elif isinstance(camera, WeakPerspectiveCamera):
        u = camera.translation[0] + camera.scale * x
        v = camera.translation[1] - camera.scale * y
    else:
        raise _unknown_camera(camera, "project")
    return jnp.stack([u, v, depth], axis=-1)


def unproject(camera: Camera, projected) -> jax.Array:
    """Inverse of ``project``: pixel coordinates and depth back to camera-frame points.

    Args:
      camera: one ``PerspectiveCamera`` or ``WeakPerspectiveCamera``.
      projected: ``[..., 3]`` ``(x, y, depth)`` as returned by ``project``.

    Returns:
      ``[..., 3]`` camera-frame points with ``z = -depth``.
    """
    projected = as_float(projected)
    check_trailing(projected, (3,), "projected", "unproject")
    u, v, depth = projected[..., 0], projected[..., 1], projected[..., 2]
    if isinstance(camera, PerspectiveCamera):
        x = (u - camera.principal_point[0]) * depth / camera.focal[0]
        y = (camera.principal_point[1] - v) * depth / camera.focal[1]
    elif isinstance(camera, WeakPerspectiveCamera):
        x = (u - camera.translation[0]) / camera.scale
        y = (camera.translation[1] - v) / camera.scale
    else:
        raise _unknown_camera(camera, "unproject")
    return jnp.stack([x, y, -depth], axis=-1)


def normalized_depth(camera: PerspectiveCamera, depth) -> jax.Array:
    """Depth mapped linearly to [0, 1] between the near and far planes.

    Linear (not OpenGL's hyperbolic ``1/z`` mapping) so that depth resolution, and the weight a
    soft z-buffer gives to a depth difference, is the same at every distance.

    Args:
      camera: a ``PerspectiveCamera``.
      depth: ``[...]`` depths (the last output of ``project``).

    Returns:
      ``[...]``: 0 at ``near``, 1 at ``far``; outside [0, 1] beyond the planes (not clipped).
    """
    if not isinstance(camera, PerspectiveCamera):
        raise TypeError(
            f"normalized_depth: needs a PerspectiveCamera (near/far), got {type(camera).__name__}"
        )
    return (as_float(depth) - camera.near) / (camera.far - camera.near)


def look_at(eye, target, up=(0.0, 1.0, 0.0)) -> tuple[jax.Array, jax.Array]:
    """World-to-camera transform of a camera at ``eye`` looking at ``target``.

    The camera's -z axis points from ``eye`` to ``target`` and its y axis is as close to ``up``
    as possible, so ``x_camera = R @ x_world + t`` with ``t = -R @ eye``.

    Args:
      eye: ``[..., 3]`` camera centre in world coordinates.
      target: ``[..., 3]`` point to look at (must differ from ``eye``).
      up: ``[3]`` or ``[..., 3]`` world up direction, not parallel to ``target - eye``.

    Returns:
      ``(rotation [..., 3, 3], translation [..., 3])``.
    """
    eye, target = as_float(eye), as_float(target)
    check_trailing(eye, (3,), "eye", "look_at")
    check_trailing(target, (3,), "target", "look_at")
    up = jnp.broadcast_to(as_float(up).astype(eye.dtype), eye.shape)
    z_axis = safe_normalize(eye - target)
    x_axis = safe_normalize(jnp.cross(up, z_axis))
    y_axis = jnp.cross(z_axis, x_axis)
    rotation = jnp.stack([x_axis, y_axis, z_axis], axis=-2)  # rows: camera axes in world
    translation = -jnp.einsum("...ij,...j->...i", rotation, eye)
    return rotation, translation
