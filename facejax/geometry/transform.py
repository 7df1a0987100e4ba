"""Rigid and similarity transforms of points: ``x' = s * R @ x + t``.

One transform (``rotation [3, 3]``, ``translation [3]``, ``scale []``) is applied to points with
any leading shape ``[..., 3]``; a batch of transforms is a ``jax.vmap`` away. Broadcasting is
written out, so the functions work under ``jax_numpy_rank_promotion="raise"``.
"""

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from facejax.geometry._validation import as_float, check_shape, check_trailing


def _check_rotation(rotation, fn):
    rotation = as_float(rotation)
    if rotation.shape != (3, 3):
        raise ValueError(
            f"{fn}: rotation must have shape [3, 3], got {tuple(rotation.shape)} "
            "(one transform; batch several with jax.vmap)"
        )
    return rotation


def _check_pose(rotation, translation, fn):
    rotation, translation = _check_rotation(rotation, fn), as_float(translation)
    check_shape(translation, (3,), "translation", fn)
    return rotation, translation


def _lift(vector: jax.Array, points: jax.Array) -> jax.Array:
    """Reshapes a ``[3]`` vector to broadcast against ``points [..., 3]`` explicitly."""
    return vector.reshape((1,) * (points.ndim - 1) + (3,))


@jax.custom_jvp
def _rotate(points: jax.Array, rotation: jax.Array) -> jax.Array:
    # R @ x as nine scalar multiply-adds, not a dot: XLA's CPU dot over a contraction of 3 is
    # slow (32 x 6,170 points under jax.vmap: 3.5 ms against 0.25, forward + backward 5.5
    # against 1.7).
    x, y, z = (points[..., j] for j in range(3))
    return jnp.stack(
        [x * rotation[i, 0] + y * rotation[i, 1] + z * rotation[i, 2] for i in range(3)], axis=-1
    )


def _rotate_jvp(primals, tangents):
    points, rotation = primals
    d_points, d_rotation = tangents
    terms = []
    if not isinstance(d_points, SymbolicZero):
        terms.append(_rotate(d_points, rotation))
    if not isinstance(d_rotation, SymbolicZero):
        # A dot here: its transpose, the rotation's gradient, sums over every point, and
        # there a dot is faster than nine separate reductions (the whole image formation's
        # forward + backward, 35,709 vertices x 32: 250-261 ms with the dot, 275-298 without;
        # the rotation's gradient alone 5.8 ms either way, the points' 0.35-0.48 against 11).
        terms.append(jnp.einsum("...j,ij->...i", points, d_rotation))
    return _rotate(points, rotation), sum(terms) if terms else jnp.zeros_like(points)


_rotate.defjvp(_rotate_jvp, symbolic_zeros=True)


def rotate_points(points, rotation) -> jax.Array:
    """Applies ``x' = R @ x`` to every point (or direction, such as a normal).

    Args:
      points: ``[..., 3]``.
      rotation: ``[3, 3]`` rotation acting on column vectors.

    Returns:
      ``[..., 3]`` rotated points.
    """
    points = as_float(points)
    check_trailing(points, (3,), "points", "rotate_points")
    return _rotate(points, _check_rotation(rotation, "rotate_points"))


def rigid_transform(points, rotation, translation) -> jax.Array:
    """Applies ``x' = R @ x + t`` to every point.

    Args:
      points: ``[..., 3]`` points (e.g. ``[V, 3]`` vertices or ``[3]`` one point).
      rotation: ``[3, 3]`` rotation acting on column vectors.
      translation: ``[3]``.

    Returns:
      ``[..., 3]`` transformed points.
    """
    points = as_float(points)
    check_trailing(points, (3,), "points", "rigid_transform")
    rotation, translation = _check_pose(rotation, translation, "rigid_transform")
    return _rotate(points, rotation) + _lift(translation, points)


def similarity_transform(points, scale, rotation, translation) -> jax.Array:
    """Applies ``x' = s * R @ x + t`` to every point.

    Args:
      points: ``[..., 3]`` points.
      scale: ``[]`` scale factor.
      rotation: ``[3, 3]``.
      translation: ``[3]``.

    Returns:
      ``[..., 3]`` transformed points.
    """
    points, scale = as_float(points), as_float(scale)
    check_trailing(points, (3,), "points", "similarity_transform")
    check_shape(scale, (), "scale", "similarity_transform")
    rotation, translation = _check_pose(rotation, translation, "similarity_transform")
    return scale * _rotate(points, rotation) + _lift(translation, points)


def inverse_rigid(rotation, translation) -> tuple[jax.Array, jax.Array]:
    """The rigid transform undoing ``(R, t)``: ``(R.T, -R.T @ t)``.

    Args:
      rotation: ``[3, 3]``.
      translation: ``[3]``.

    Returns:
      ``(rotation [3, 3], translation [3])`` of the inverse.
    """
    rotation, translation = _check_pose(rotation, translation, "inverse_rigid")
    return rotation.T, -(rotation.T @ translation)


def inverse_similarity(scale, rotation, translation) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The similarity undoing ``(s, R, t)``: ``(1 / s, R.T, -R.T @ t / s)``.

    Args:
      scale: ``[]``, non-zero.
      rotation: ``[3, 3]``.
      translation: ``[3]``.

    Returns:
      ``(scale [], rotation [3, 3], translation [3])`` of the inverse.
    """
    scale = as_float(scale)
    check_shape(scale, (), "scale", "inverse_similarity")
    rotation, translation = _check_pose(rotation, translation, "inverse_similarity")
    return 1.0 / scale, rotation.T, -(rotation.T @ translation) / scale


def compose_rigid(
    rotation_a, translation_a, rotation_b, translation_b
) -> tuple[jax.Array, jax.Array]:
    """The rigid transform "b, then a": ``x -> Ra @ (Rb @ x + tb) + ta``.

    Ordered like the matrix product ``A @ B`` of the homogeneous matrices.

    Args:
      rotation_a: ``[3, 3]`` of the transform applied second.
      translation_a: ``[3]``.
      rotation_b: ``[3, 3]`` of the transform applied first.
      translation_b: ``[3]``.

    Returns:
      ``(rotation [3, 3], translation [3])`` = ``(Ra @ Rb, Ra @ tb + ta)``.
    """
    rotation_a, translation_a = _check_pose(rotation_a, translation_a, "compose_rigid")
    rotation_b, translation_b = _check_pose(rotation_b, translation_b, "compose_rigid")
    return rotation_a @ rotation_b, rotation_a @ translation_b + translation_a


def compose_similarity(
    scale_a, rotation_a, translation_a, scale_b, rotation_b, translation_b
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The similarity "b, then a": ``x -> sa Ra (sb Rb x + tb) + ta``.

    Args:
      scale_a: ``[]`` of the transform applied second.
      rotation_a: ``[3, 3]``.
      translation_a: ``[3]``.
      scale_b: ``[]`` of the transform applied first.
      rotation_b: ``[3, 3]``.
      translation_b: ``[3]``.

    Returns:
      ``(scale [], rotation [3, 3], translation [3])`` =
      ``(sa * sb, Ra @ Rb, sa * Ra @ tb + ta)``.
    """
    scale_a, scale_b = as_float(scale_a), as_float(scale_b)
    check_shape(scale_a, (), "scale_a", "compose_similarity")
    check_shape(scale_b, (), "scale_b", "compose_similarity")
    rotation_a, translation_a = _check_pose(rotation_a, translation_a, "compose_similarity")
    rotation_b, translation_b = _check_pose(rotation_b, translation_b, "compose_similarity")
    return (
        scale_a * scale_b,
        rotation_a @ rotation_b,
        scale_a * (rotation_a @ translation_b) + translation_a,
    )
