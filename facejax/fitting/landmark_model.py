"""The morphable model restricted to its landmarks: what landmark fitting evaluates.

A landmark is a barycentric combination of the three corners of its triangle, and the shape is
linear in the coefficients, so the corners of every landmark's triangle are
``mean + identity @ alpha + expression @ beta`` with ``[L, 3, 3, K]`` bases taken once from the
full model. A landmark fit then costs nothing per vertex: fitting the 6,000-vertex default
model is as fast as fitting a 68-point one. Like ``facejax.morphable.decode``, image landmarks
interpolate the *projected* corners (perspective projection does not commute with
interpolation, by up to a few hundredths of a pixel), so a fit reproduces
``decode(model, params).landmarks_2d`` exactly.

Articulated models (FLAME) are evaluated at zero articulation here: the fit estimates the
linear identity and expression coefficients and the rigid pose, not joint rotations.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import struct

from facejax import geometry, morphable

Array = Any


@struct.dataclass
class LandmarkModel:
    """Linear model of the landmarks' triangle corners, in the model frame, millimetres.

    Attributes:
      mean: ``[L, 3, 3]`` corners (``[landmark, corner, xyz]``) of the mean face.
      identity: ``[L, 3, 3, Ki]`` corner displacement per identity coefficient (basis times its
        standard deviation, so coefficients are in standard deviations).
      expression: ``[L, 3, 3, Ke]`` the same for expression.
      barycentric: ``[L, 3]`` weights of the corners.
    """

    mean: Array
    identity: Array
    expression: Array
    barycentric: Array

    @property
    def num_landmarks(self) -> int:
        return self.mean.shape[0]

    @property
    def mean_landmarks(self) -> Array:
        """``[L, 3]`` landmarks of the mean face."""
        return jnp.einsum("lk,lkc->lc", self.barycentric, self.mean)


def check_landmark_model(model: morphable.MorphableModel) -> None:
    """Raises a ValueError naming the model if it has no landmark definition."""
    if model.num_landmarks == 0:
        raise ValueError(
            f"model '{model.name}' defines no landmarks, so it cannot be fitted to landmarks: "
            "load it with its 68-point iBUG definition (load_model(..., landmarks=FILE), see "
            "docs/formats.md)"
        )
    if model.num_landmarks < 4:
        raise ValueError(
            f"model '{model.name}' has {model.num_landmarks} landmarks; fitting a pose needs >= 4"
        )


def landmark_model(
    model: morphable.MorphableModel,
    identity_components: int | None = None,
    expression_components: int | None = None,
) -> LandmarkModel:
    """The landmark model of a morphable model, optionally with its first ``k`` components.

    Args:
      model: a model with a landmark definition (any ``L``; 68 iBUG points for most models).
      identity_components: keep the first ``k`` identity components (``None``: all).
      expression_components: keep the first ``k`` expression components (``None``: all).

    Returns:
      The :class:`LandmarkModel`; works under ``jax.jit`` (component counts static).

    Raises:
      ValueError: if the model has no landmarks or fewer components than asked for.
    """
    check_landmark_model(model)
    ki = _components(identity_components, model.num_identity, "identity")
    ke = _components(expression_components, model.num_expression, "expression")

    corners = jnp.asarray(model.triangles)[jnp.asarray(model.landmark_triangles)]  # [L, 3]

    def corner_basis(basis, std, k):
        return (jnp.asarray(basis)[..., :k] * jnp.asarray(std)[None, None, :k])[corners]

    return LandmarkModel(
        mean=jnp.asarray(model.mean_shape)[corners],
        identity=corner_basis(model.identity_basis, model.identity_std, ki),
        expression=corner_basis(model.expression_basis, model.expression_std, ke),
        barycentric=jnp.asarray(model.landmark_barycentric),
    )


def _components(requested: int | None, available: int, what: str) -> int:
    if requested is None:
        return available
    if requested > available:
        raise ValueError(f"cannot fit {requested} {what} components: the model has {available}")
    return requested


def landmark_corners(lmodel: LandmarkModel, identity, expression) -> Array:
    """Corners ``[L, 3, 3]`` (mm) of the landmarks' triangles, for ``identity [Ki]`` and
    ``expression [Ke]``."""
    return (
        lmodel.mean
        + jnp.einsum("lvck,k->lvc", lmodel.identity, identity)
        + jnp.einsum("lvck,k->lvc", lmodel.expression, expression)
    )


def shape_landmarks(lmodel: LandmarkModel, identity, expression) -> Array:
    """Canonical landmarks ``[L, 3]`` (mm) of ``identity [Ki]`` and ``expression [Ke]``."""
    corners = landmark_corners(lmodel, identity, expression)
    return jnp.einsum("lk,lkc->lc", lmodel.barycentric, corners)


def project_landmarks(lmodel: LandmarkModel, identity, expression, rotation, translation, camera):
    """Image landmarks ``[L, 2]`` of a posed face, as ``decode(...).landmarks_2d[:, :2]``.

    Args:
      lmodel: the landmark model.
      identity: ``[Ki]``; expression: ``[Ke]`` coefficients.
      rotation: ``[3, 3]``; translation: ``[3]`` mm (``x_camera = R @ x + t``).
      camera: one camera.
    """
    corners = landmark_corners(lmodel, identity, expression)
    posed = jnp.einsum("ij,lvj->lvi", rotation, corners) + translation[None, None, :]
    projected = geometry.project(camera, posed)[..., :2]
    return jnp.einsum("lk,lkc->lc", lmodel.barycentric, projected)
