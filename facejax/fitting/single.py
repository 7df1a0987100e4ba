"""Fitting a morphable model to the landmarks of single images, many at once."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from facejax.fitting.config import FitConfig
from facejax.fitting.contour import ContourCandidates
from facejax.fitting.joint import fit_people, prepare_inputs
from facejax.fitting.result import FitResult
from facejax.morphable.model import MorphableModel


def fit_landmarks(
    model: MorphableModel,
    landmarks,
    weights=None,
    *,
    image_size=None,
    camera=None,
    config: FitConfig | None = None,
    contour: ContourCandidates | None = None,
) -> FitResult:
    """Fits identity, expression, pose (and a weak-perspective camera) to 2D landmarks.

    Each face is fitted on its own (a batch of ``B`` faces is ``B`` independent fits, run
    together with ``jax.vmap`` in one compiled program). The start is the closed-form pose of
    :func:`facejax.fitting.initial_pose`; then ``config.steps`` iterations of Adam or L-BFGS
    minimise the landmark objective of docs/fitting.md.

    Args:
      model: a morphable model with a landmark definition (usually the 68 iBUG points; any
        count ``L``, e.g. FLAME's 51 static points, as long as the targets follow it).
      landmarks: ``[L, 2]`` or ``[B, L, 2]`` target landmarks in the image's pixels
        (docs/conventions.md); a third column is ignored; NaN rows are missing points.
      weights: ``[L]`` / ``[B, L]`` non-negative weights (0: occluded or missing), or ``None``.
      image_size: ``(height, width)`` of the image(s), for the default perspective camera
        (:func:`facejax.fitting.image_camera`) when ``camera`` is not given.
      camera: a ``PerspectiveCamera`` (unbatched, or ``[B]``) with the images' intrinsics.
        Ignored by ``config.camera = "weak_perspective"``.
      config: :class:`facejax.fitting.FitConfig`.
      contour: sliding contour landmarks (:class:`facejax.fitting.ContourCandidates`): each
        face's jaw points are re-chosen among their candidates for its pose in every one of
        ``config.contour_rounds`` rounds (:mod:`facejax.fitting.contour`); ``None``: fixed.

    Returns:
      :class:`facejax.fitting.FitResult` with leading dims ``[]`` or ``[B]``.

    Raises:
      ValueError: if the model has no landmarks, the target count differs from the model's,
        or neither ``camera`` nor ``image_size`` is given for a perspective fit.
    """
    config = FitConfig() if config is None else config
    batched = jnp.ndim(landmarks) == 3
    batch_ndim = 1 if batched else 0
    landmarks, weights, camera = prepare_inputs(
        model, landmarks, weights, image_size, camera, config, batch_ndim
    )
    if not batched:
        landmarks, weights = landmarks[None], weights[None]
        camera = jax.tree_util.tree_map(lambda leaf: leaf[None], camera)
    # Each face is a person with one image: [B, 1, ...].
    camera = jax.tree_util.tree_map(lambda leaf: leaf[:, None], camera)
    result = fit_people(model, landmarks[:, None], weights[:, None], camera, config, contour)
    result = FitResult(
        params=jax.tree_util.tree_map(lambda leaf: leaf[:, 0], result.params),
        loss=result.loss,
        landmark_error=result.landmark_error[:, 0],
        landmarks_2d=result.landmarks_2d[:, 0],
        loss_history=result.loss_history,
        iterations=result.iterations,
    )
    if not batched:
        result = jax.tree_util.tree_map(lambda leaf: leaf[0], result)
    return result
