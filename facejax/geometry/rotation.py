"""Rotation matrices and the parameterisations that produce them.

Every matrix is ``[..., 3, 3]`` and acts on column vectors, ``x' = R @ x``; all functions
broadcast over the leading ``...`` dimensions. Parameterisations: Euler angles (named conventions,
see ``EULER_CONVENTIONS``), axis-angle (rotation vector), unit quaternions ``(w, x, y, z)`` and the
continuous 6D representation of Zhou et al. Conversions back from a matrix are written so that
values and gradients stay finite at their singular points (angle 0, angle pi, gimbal lock).
"""

import types
from collections.abc import Callable, Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp

from facejax.geometry._validation import as_float, check_trailing
from facejax.geometry.safe import safe_arccos, safe_arctan2, safe_norm, safe_normalize

# Below this squared angle the axis-angle maps use Taylor series in angle**2: the truncation
# error (angle**6 / 5040 at most) is below float64 round-off, and the series is smooth at zero.
_SMALL_ANGLE_SQ = 1e-4


def _matrix(rows) -> jax.Array:
    """Stacks a 3x3 nested list of ``[...]`` arrays into ``[..., 3, 3]``."""
    return jnp.stack([jnp.stack(row, axis=-1) for row in rows], axis=-2)


def _transpose(r: jax.Array) -> jax.Array:
    return jnp.swapaxes(r, -1, -2)


def _skew(v: jax.Array) -> jax.Array:
    """``[..., 3] -> [..., 3, 3]`` cross-product matrix: ``skew(v) @ u == cross(v, u)``."""
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    zero = jnp.zeros_like(x)
    return _matrix([[zero, -z, y], [z, zero, -x], [-y, x, zero]])


def _vee(m: jax.Array) -> jax.Array:
    """The vector of the antisymmetric part of ``m``: ``vee(skew(v)) == v``."""
    return 0.5 * jnp.stack(
        [m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]],
        axis=-1,
    )


# ----------------------------------------------------------------------------------------------
# Euler angles


def _matrix_xyz(angles: jax.Array) -> jax.Array:
    """``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` with right-handed elementary rotations."""
    cp, cy, cr = jnp.cos(angles[..., 0]), jnp.cos(angles[..., 1]), jnp.cos(angles[..., 2])
    sp, sy, sr = jnp.sin(angles[..., 0]), jnp.sin(angles[..., 1]), jnp.sin(angles[..., 2])
    return _matrix(
        [
            [cy * cr, sp * sy * cr - cp * sr, cp * sy * cr + sp * sr],
            [cy * sr, sp * sy * sr + cp * cr, cp * sy * sr - sp * cr],
            [-sy, sp * cy, cp * cy],
        ]
    )


def _angles_xyz(r: jax.Array) -> jax.Array:
    """Inverse of ``_matrix_xyz`` with yaw in [-pi/2, pi/2]; roll = 0 at gimbal lock."""
    cos_yaw = safe_norm(jnp.stack([r[..., 0, 0], r[..., 1, 0]], axis=-1))
    yaw = safe_arctan2(-r[..., 2, 0], cos_yaw)
    # When |cos(yaw)| is tiny the first column carries only round-off, and roll and pitch are
    # determined only through pitch -+ roll. Angles from the regular formulas then reconstruct R
    # with an error of about eps / cos(yaw), the lock formulas with about cos(yaw); the two meet at
    # cos(yaw) = sqrt(eps).
    locked = cos_yaw < jnp.sqrt(jnp.finfo(r.dtype).eps)
    pitch = jnp.where(
        locked,
        safe_arctan2(-r[..., 1, 2], r[..., 1, 1]),
        safe_arctan2(r[..., 2, 1], r[..., 2, 2]),
    )
    roll = jnp.where(locked, 0.0, safe_arctan2(r[..., 1, 0], r[..., 0, 0]))
    return jnp.stack([pitch, yaw, roll], axis=-1)


class EulerConvention(NamedTuple):
    """How ``(pitch, yaw, roll)`` angles ``[..., 3]`` map to a matrix ``[..., 3, 3]`` and back."""

    to_matrix: Callable[[jax.Array], jax.Array]
    from_matrix: Callable[[jax.Array], jax.Array]
    description: str


_XYZ = EulerConvention(
    to_matrix=_matrix_xyz,
    from_matrix=_angles_xyz,
    description=(
        "facejax default, identical to Deep3DFaceRecon (models/bfm.py compute_rotation): "
        "R = Rz(roll) @ Ry(yaw) @ Rx(pitch) with right-handed elementary rotations "
        "Rx(a) = [[1, 0, 0], [0, cos a, -sin a], [0, sin a, cos a]] (and likewise for y, z). "
        "Deep3DFaceRecon returns R.T because it multiplies row vectors."
    ),
)

# 300W-LP / AFLW2000-3D `Pose_Para` (and 3DDFA's RotationMatrix.m, face3d's angle2matrix_3ddfa):
# R = Rx'(pitch) @ Ry'(yaw) @ Rz'(roll) with the *transposed* elementary matrices
# Rx'(a) = [[1, 0, 0], [0, cos a, sin a], [0, -sin a, cos a]], Ry'(a) = [[cos a, 0, -sin a],
# [0, 1, 0], [sin a, 0, cos a]], Rz'(a) = [[cos a, sin a, 0], [-sin a, cos a, 0], [0, 0, 1]].
# Since Rx'(a) = Rx(a).T, the product is (Rz(roll) @ Ry(yaw) @ Rx(pitch)).T: the transpose of the
# facejax matrix for the same three numbers.
_3DDFA = EulerConvention(
    to_matrix=lambda angles: _transpose(_matrix_xyz(angles)),
    from_matrix=lambda r: _angles_xyz(_transpose(r)),
    description=(
        "300W-LP / AFLW2000-3D Pose_Para[0:3] (3DDFA RotationMatrix.m): "
        "R = Rx(pitch).T @ Ry(yaw).T @ Rz(roll).T = (Rz(roll) @ Ry(yaw) @ Rx(pitch)).T. "
        "The matrix maps the BFM model frame (y up) to an image-aligned frame with x to the "
        "right and y up; 300W-LP then flips y into rows, see rotation_from_euler."
    ),
)

EULER_CONVENTIONS: Mapping[str, EulerConvention] = types.MappingProxyType(
    {"xyz": _XYZ, "3ddfa": _3DDFA}
)
# The convention of every angle facejax computes (fits, network poses) unless told otherwise.
DEFAULT_EULER_CONVENTION = "xyz"


def _convention(name: str, fn: str) -> EulerConvention:
    try:
        return EULER_CONVENTIONS[name]
    except KeyError:
        known = ", ".join(repr(k) for k in EULER_CONVENTIONS)
        raise ValueError(f"{fn}: unknown Euler convention {name!r}; known: {known}") from None


def rotation_from_euler(angles, convention: str = DEFAULT_EULER_CONVENTION) -> jax.Array:
    """Rotation matrix from Euler angles ``(pitch, yaw, roll)`` in radians.

    Conventions (``EULER_CONVENTIONS``; add one there to support another dataset):

    * ``"xyz"`` (default, as Deep3DFaceRecon): ``R = Rz(roll) @ Ry(yaw) @ Rx(pitch)`` with
      right-handed elementary rotations, e.g. ``Rx(a) = [[1, 0, 0], [0, cos a, -sin a],
      [0, sin a, cos a]]``. In the model frame (x to the subject's left, y up, z out of the face)
      a positive yaw turns the face towards the subject's left (the viewer's right).
    * ``"3ddfa"``: the 300W-LP / AFLW2000-3D ``Pose_Para[0:3]`` convention of 3DDFA's
      ``RotationMatrix.m`` (face3d ``angle2matrix_3ddfa``): ``R = Rx'(pitch) @ Ry'(yaw) @
      Rz'(roll)`` with the transposed (left-handed) elementary matrices ``Rx'(a) = Rx(a).T``, so
      ``R_3ddfa(p, y, r) = R_xyz(p, y, r).T``; for a single axis the sign of the angle flips.
      300W-LP places a face with ``s * R @ X + t3d`` (``s = Pose_Para[6]``,
      ``t3d = Pose_Para[3:6]``, ``X`` BFM vertices) into an orthographic image frame whose x is
      the 1-based MATLAB column and whose y points *up*: the 1-based row is
      ``height + 1 - y``. The rotation is applied before that flip, so it is a proper rotation
      between two y-up frames and needs no extra sign change; in facejax pixel coordinates
      (``docs/conventions.md``) the point lands at ``(x - 0.5, height + 0.5 - y)``, i.e. a
      ``WeakPerspectiveCamera(scale=s, translation=(t3d[0] - 0.5, height + 0.5 - t3d[1]))``
      applied to ``R @ X``. (face3d's Python port flips with ``height - 1 - y`` instead, one
      pixel higher than 3DDFA's ``height + 1 - y``; the MATLAB fitting code is the reference.)

    Args:
      angles: ``[..., 3]`` ``(pitch, yaw, roll)`` in radians.
      convention: a key of ``EULER_CONVENTIONS``.

    Returns:
      ``[..., 3, 3]`` rotation matrices.

    Raises:
      ValueError: unknown convention, or ``angles`` not ``[..., 3]``.
    """
    conv = _convention(convention, "rotation_from_euler")
    angles = as_float(angles)
    check_trailing(angles, (3,), "angles", "rotation_from_euler")
    return conv.to_matrix(angles)


def euler_from_rotation(rotation, convention: str = DEFAULT_EULER_CONVENTION) -> jax.Array:
    """Euler angles ``(pitch, yaw, roll)`` of a rotation matrix; inverse of ``rotation_from_euler``.

    Yaw is returned in [-pi/2, pi/2], pitch and roll in [-pi, pi]; away from gimbal lock
    (``|yaw| = pi/2``) ``euler_from_rotation(rotation_from_euler(a)) == a`` for angles in those
    ranges. At gimbal lock only ``pitch - roll`` (yaw = pi/2) or ``pitch + roll`` (yaw = -pi/2) is
    determined: roll is set to 0 and pitch carries the whole in-plane angle, which reconstructs
    the matrix. The lock branch is used when ``cos(yaw) < sqrt(machine epsilon)`` (3.5e-4 in
    float32, 1.5e-8 in float64), where it reconstructs the matrix better than the regular one.
    Gradients are finite everywhere (zero across the ill-defined directions at lock).

    Args:
      rotation: ``[..., 3, 3]`` rotation matrices.
      convention: a key of ``EULER_CONVENTIONS``.

    Returns:
      ``[..., 3]`` angles in radians.
    """
    conv = _convention(convention, "euler_from_rotation")
    rotation = as_float(rotation)
    check_trailing(rotation, (3, 3), "rotation", "euler_from_rotation")
    return conv.from_matrix(rotation)


# ----------------------------------------------------------------------------------------------
# Axis-angle


def rotation_from_axis_angle(axis_angle) -> jax.Array:
    """Rodrigues' formula: rotation by ``|v|`` radians about ``v / |v|``.

    ``R = I + a K + b K @ K`` with ``K = skew(v)``, ``a = sin(t) / t``, ``b = (1 - cos t) / t**2``
    and ``t = |v|``. Near ``t = 0`` the coefficients use their Taylor series in ``t**2``, so the
    function and all its derivatives are finite at ``v = 0``.

    Args:
      axis_angle: ``[..., 3]`` rotation vectors (axis times angle in radians).

    Returns:
      ``[..., 3, 3]`` rotation matrices.
    """
    v = as_float(axis_angle)
    check_trailing(v, (3,), "axis_angle", "rotation_from_axis_angle")
    t2 = jnp.sum(v * v, axis=-1)
    small = t2 < _SMALL_ANGLE_SQ
    t = jnp.sqrt(jnp.where(small, 1.0, t2))
    half = 0.5 * t
    a = jnp.where(small, 1.0 - t2 / 6.0 + t2 * t2 / 120.0, jnp.sin(t) / t)
    # (1 - cos t) / t**2 written as 2 sin(t/2)**2 / t**2 avoids cancellation for small t.
    b = jnp.where(small, 0.5 - t2 / 24.0 + t2 * t2 / 720.0, 0.5 * (jnp.sin(half) / half) ** 2)
    k = _skew(v)
    eye = jnp.broadcast_to(jnp.eye(3, dtype=v.dtype), k.shape)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def axis_angle_from_rotation(rotation) -> jax.Array:
    """Rotation vector (axis times angle in [0, pi]) of a rotation matrix.

    The angle is ``atan2(|w|, (trace - 1) / 2)`` with ``w = vee(R - R.T) / 2 = sin(t) * axis``,
    accurate over the whole range. For angles below about 2.7 rad (``cos t > -0.9``) the vector
    is ``w * t / sin t`` (Taylor series near 0, so the gradient at the identity is finite and
    exact); closer to pi, where ``w`` vanishes, the axis is the largest column of the symmetric
    part ``(R + R.T) / 2 - cos(t) I = (1 - cos t) axis axis.T``, signed to agree with ``w``. At
    exactly pi both ``axis * pi`` and ``-axis * pi`` are the same rotation; either may be returned.

    Args:
      rotation: ``[..., 3, 3]`` rotation matrices.

    Returns:
      ``[..., 3]`` rotation vectors.
    """
    r = as_float(rotation)
    check_trailing(r, (3, 3), "rotation", "axis_angle_from_rotation")
    w = _vee(r)
    cos_t = 0.5 * (jnp.trace(r, axis1=-2, axis2=-1) - 1.0)
    sin_t = safe_norm(w)
    angle = safe_arctan2(sin_t, cos_t)

    # Regular branch: v = w * t / sin(t).
    s2 = jnp.sum(w * w, axis=-1)
    small = s2 < _SMALL_ANGLE_SQ
    # t / sin t as a series in sin(t)**2: 1 + s2/6 + 3 s2**2/40 (t = arcsin s near 0).
    factor = jnp.where(
        small, 1.0 + s2 / 6.0 + 3.0 * s2 * s2 / 40.0, angle / jnp.where(small, 1.0, sin_t)
    )
    regular = w * factor[..., None]

    # Near-pi branch: the axis from the symmetric part.
    eye = jnp.broadcast_to(jnp.eye(3, dtype=r.dtype), r.shape)
    sym = 0.5 * (r + _transpose(r)) - cos_t[..., None, None] * eye
    column = jnp.argmax(jnp.diagonal(sym, axis1=-2, axis2=-1), axis=-1)
    axis = jnp.take_along_axis(sym, column[..., None, None], axis=-1)[..., 0]
    axis = safe_normalize(axis)
    axis = jnp.where(jnp.sum(axis * w, axis=-1, keepdims=True) < 0, -axis, axis)
    near_pi = axis * angle[..., None]

    return jnp.where((cos_t < -0.9)[..., None], near_pi, regular)


# ----------------------------------------------------------------------------------------------
# Quaternions


def rotation_from_quaternion(quaternion) -> jax.Array:
    """Rotation matrix of a quaternion ``(w, x, y, z)`` (scalar first), normalised inside.

    ``q`` and ``-q`` give the same matrix. The zero quaternion has no direction and gives the
    identity (with zero gradient), rather than NaN.

    Args:
      quaternion: ``[..., 4]`` quaternions, any non-zero length.

    Returns:
      ``[..., 3, 3]`` rotation matrices.
    """
    q = as_float(quaternion)
    check_trailing(q, (4,), "quaternion", "rotation_from_quaternion")
    q = safe_normalize(q)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return _matrix(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def quaternion_from_rotation(rotation) -> jax.Array:
    """Unit quaternion ``(w, x, y, z)`` with ``w >= 0`` of a rotation matrix.

    Shepperd's method: of the four expressions for ``4 w**2``, ``4 x**2``, ``4 y**2``,
    ``4 z**2`` from the diagonal, the largest (at least 1 for a rotation) gives one component
    accurately and divides the off-diagonal sums and differences for the other three, so no branch
    ever divides by a small number. The sign is then chosen so that ``w >= 0`` (for ``w = 0``,
    a 180 degree rotation, ``q`` and ``-q`` are both valid and either may be returned).

    Args:
      rotation: ``[..., 3, 3]`` rotation matrices.

    Returns:
      ``[..., 4]`` quaternions.
    """
    r = as_float(rotation)
    check_trailing(r, (3, 3), "rotation", "quaternion_from_rotation")
    r00, r01, r02 = r[..., 0, 0], r[..., 0, 1], r[..., 0, 2]
    r10, r11, r12 = r[..., 1, 0], r[..., 1, 1], r[..., 1, 2]
    r20, r21, r22 = r[..., 2, 0], r[..., 2, 1], r[..., 2, 2]
    four_sq = jnp.stack(
        [
            1 + r00 + r11 + r22,
            1 + r00 - r11 - r22,
            1 - r00 + r11 - r22,
            1 - r00 - r11 + r22,
        ],
        axis=-1,
    )
    # Candidate i is (4 q_i q_j for j) / (2 |q_i|); the floor only touches unselected candidates
    # (the selected one is >= 1) and keeps their discarded gradients finite.
    two_abs = jnp.sqrt(jnp.maximum(four_sq, 0.1))
    candidates = jnp.stack(
        [
            jnp.stack([four_sq[..., 0], r21 - r12, r02 - r20, r10 - r01], axis=-1),
            jnp.stack([r21 - r12, four_sq[..., 1], r10 + r01, r02 + r20], axis=-1),
            jnp.stack([r02 - r20, r10 + r01, four_sq[..., 2], r12 + r21], axis=-1),
            jnp.stack([r10 - r01, r20 + r02, r21 + r12, four_sq[..., 3]], axis=-1),
        ],
        axis=-2,
    ) / (2.0 * two_abs[..., None])
    best = jnp.argmax(four_sq, axis=-1)
    q = jnp.take_along_axis(candidates, best[..., None, None], axis=-2)[..., 0, :]
    return jnp.where(q[..., :1] < 0, -q, q)


# ----------------------------------------------------------------------------------------------
# 6D representation


def rotation_from_6d(d6) -> jax.Array:
    """Rotation from the continuous 6D representation (Zhou et al., CVPR 2019).

    The six numbers are two 3-vectors ``a1 = d6[..., 0:3]``, ``a2 = d6[..., 3:6]``: the first two
    *columns* of the matrix before orthonormalisation (as in the paper; pytorch3d uses rows).
    Gram-Schmidt gives ``b1 = a1 / |a1|``, ``b2 = normalize(a2 - (b1 . a2) b1)``,
    ``b3 = b1 x b2``, and ``R = [b1 b2 b3]`` as columns. Degenerate inputs (``a1 = 0`` or
    ``a2`` parallel to ``a1``) give a zero column rather than NaN.

    Args:
      d6: ``[..., 6]`` network outputs.

    Returns:
      ``[..., 3, 3]`` rotation matrices.
    """
    d6 = as_float(d6)
    check_trailing(d6, (6,), "d6", "rotation_from_6d")
    a1, a2 = d6[..., 0:3], d6[..., 3:6]
    b1 = safe_normalize(a1)
    b2 = safe_normalize(a2 - jnp.sum(b1 * a2, axis=-1, keepdims=True) * b1)
    b3 = jnp.cross(b1, b2)
    return jnp.stack([b1, b2, b3], axis=-1)


def rotation_to_6d(rotation) -> jax.Array:
    """The 6D representation of a rotation: its first two columns, ``[R[:, 0], R[:, 1]]``.

    Args:
      rotation: ``[..., 3, 3]`` rotation matrices.

    Returns:
      ``[..., 6]``; ``rotation_from_6d(rotation_to_6d(R)) == R``.
    """
    r = as_float(rotation)
    check_trailing(r, (3, 3), "rotation", "rotation_to_6d")
    return jnp.concatenate([r[..., :, 0], r[..., :, 1]], axis=-1)


# ----------------------------------------------------------------------------------------------
# Distances


def geodesic_distance(rotation_a, rotation_b) -> jax.Array:
    """Angle in radians, in [0, pi], of the rotation ``rotation_a.T @ rotation_b``.

    Computed as ``arccos((trace(Ra.T Rb) - 1) / 2)`` with a finite gradient at zero distance.

    Args:
      rotation_a: ``[..., 3, 3]`` rotation matrices.
      rotation_b: ``[..., 3, 3]`` rotation matrices, same leading shape.

    Returns:
      ``[...]`` angles.
    """
    ra, rb = as_float(rotation_a), as_float(rotation_b)
    check_trailing(ra, (3, 3), "rotation_a", "geodesic_distance")
    check_trailing(rb, (3, 3), "rotation_b", "geodesic_distance")
    trace = jnp.sum(ra * rb, axis=(-2, -1))  # trace(Ra.T @ Rb) without the product
    return safe_arccos(0.5 * (trace - 1.0))
