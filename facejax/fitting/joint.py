"""Fitting several images of one person: one identity, a pose and expression per image.

This is the engine of every landmark fit: a single image is a person with one image
(:func:`facejax.fitting.fit_landmarks`). For a person with ``N`` images the objective is

    sum_n E_n + identity_prior * 0.5 |alpha|^2 + expression_prior * sum_n 0.5 |beta_n|^2

(``E_n`` the data term of image ``n``, :mod:`facejax.fitting.objective`): each image adds
evidence about the one identity ``alpha`` while its prior is counted once, so more images pin
the identity down better (the maximum a posteriori estimate under Gaussian priors and
independent landmark noise). Persons are batched with ``jax.vmap``; persons with fewer images
are padded with images whose weights are all zero, which add nothing to the objective.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from facejax import geometry
from facejax.fitting.config import FitConfig
from facejax.fitting.contour import (
    ContourCandidates,
    candidate_model,
    nearest_candidates,
    project_candidates,
    with_contour,
)
from facejax.fitting.initialize import image_camera, initial_pose
from facejax.fitting.landmark_model import (
    LandmarkModel,
    check_landmark_model,
    landmark_model,
    project_landmarks,
)
from facejax.fitting.objective import face_size, landmark_data_term, landmark_error, sanitize
from facejax.fitting.result import FitResult, face_params
from facejax.fitting.solve import minimize
from facejax.fitting.variables import FitVariables, Start, image_pose, zero_variables
from facejax.morphable.model import MorphableModel

Array = Any

# Floor of the preconditioner's curvature, for a component that moves no landmark and has no
# prior (it then stays where it starts).
_MIN_CURVATURE = 1e-8


def _poses(variables: FitVariables, start: Start):
    return jax.vmap(image_pose)(
        variables.rotation,
        variables.translation,
        start.rotation,
        start.translation,
        start.camera,
        start.face_size,
    )


def coefficient_scales(lmodel: LandmarkModel, num_images, config: FitConfig):
    """Diagonal preconditioner of the coefficients: ``sqrt(curvature)`` of the objective.

    One standard deviation of component ``k`` moves the landmarks by ``g_k`` face sizes (RMS
    over the landmarks, relative to the mean face's RMS radius), so the data term's curvature
    along it is about ``g_k^2`` per image, and the prior adds its weight. The optimiser works
    on ``coefficient * sqrt(curvature)``, in which every direction has curvature ~1: the
    components span four orders of magnitude in ``g_k^2`` (a nose trait barely moves the
    landmarks, a head-size trait moves them all), which plain L-BFGS converges on very slowly.

    Returns:
      ``(identity_scale [Ki], expression_scale [Ke])``.
    """
    mean = lmodel.mean_landmarks
    centred = mean - jnp.mean(mean, axis=0, keepdims=True)
    radius = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(centred), axis=-1)))

    def gain(basis):
        moved = jnp.einsum("lv,lvck->lck", lmodel.barycentric, basis)
        return jnp.mean(jnp.sum(jnp.square(moved), axis=1), axis=0) / jnp.square(radius)

    identity = jnp.sqrt(num_images * gain(lmodel.identity) + config.identity_prior + _MIN_CURVATURE)
    expression = jnp.sqrt(gain(lmodel.expression) + config.expression_prior + _MIN_CURVATURE)
    return identity, expression


def solve_person(
    lmodel: LandmarkModel,
    landmarks,
    weights,
    camera,
    config: FitConfig,
    contour: ContourCandidates | None = None,
    candidates: LandmarkModel | None = None,
):
    """Fits one person's ``N`` images (unbatched over persons; vmap for several).

    Args:
      lmodel: the landmark model (its component counts are the fitted ones).
      landmarks: ``[N, L, 2]`` finite targets, pixels.
      weights: ``[N, L]`` non-negative weights (0: missing, occluded or padding).
      camera: ``[N]`` cameras (perspective: fixed intrinsics; weak perspective: ignored).
      config: the fit options (static).
      contour: the sliding landmarks (:mod:`facejax.fitting.contour`), or ``None`` for fixed
        landmarks. With them, the start pose is solved without the sliding points, and
        ``config.contour_rounds`` rounds each choose every image's contour points for the
        current pose (:func:`~facejax.fitting.contour.nearest_candidates`) and then run the
        solver on that choice.
      candidates: the candidates' landmark model (:func:`~facejax.fitting.contour.candidate_model`),
        given with ``contour``.

    Returns:
      ``(variables, start, values [steps], final_loss [], projected [N, L, 2])``.
    """
    sizes = jax.vmap(face_size)(landmarks, weights)
    start_weights = weights
    if contour is not None:
        # Fixed jaw points of a turned face lie off the photo's outline: start without them.
        inner = weights.at[:, contour.landmarks].set(0.0)
        enough = jnp.sum(inner > 0, axis=-1, keepdims=True) >= 6
        start_weights = jnp.where(enough, inner, weights)
    rotation, translation, camera = jax.vmap(
        lambda lm, w, cam: initial_pose(lmodel.mean_landmarks, lm, w, cam, config.init_iterations)
    )(landmarks, start_weights, camera)
    start = Start(rotation=rotation, translation=translation, camera=camera, face_size=sizes)
    num_images = landmarks.shape[0]
    x0 = zero_variables(
        num_images, lmodel.identity.shape[-1], lmodel.expression.shape[-1], landmarks.dtype
    )
    # Padding images (no weighted point) add no curvature.
    used_images = jnp.maximum(jnp.sum(jnp.any(weights > 0, axis=-1)), 1).astype(landmarks.dtype)
    identity_scale, expression_scale = coefficient_scales(lmodel, used_images, config)

    def natural(y: FitVariables) -> FitVariables:
        return y.replace(
            identity=y.identity / identity_scale,
            expression=y.expression / expression_scale[None, :],
        )

    def project_all(lmodels, x: FitVariables, lmodel_axis):
        rotations, translations, cameras = _poses(x, start)
        return jax.vmap(project_landmarks, in_axes=(lmodel_axis, None, 0, 0, 0, 0))(
            lmodels, x.identity, x.expression, rotations, translations, cameras
        )

    def objective_of(lmodels, lmodel_axis):
        def objective(y: FitVariables):
            x = natural(y)
            projected = project_all(lmodels, x, lmodel_axis)
            data = jax.vmap(
                functools.partial(
                    landmark_data_term, loss=config.loss, loss_scale=config.loss_scale
                )
            )(projected, landmarks, weights, sizes)
            prior = 0.5 * config.identity_prior * jnp.sum(jnp.square(x.identity))
            prior = prior + 0.5 * config.expression_prior * jnp.sum(jnp.square(x.expression))
            return jnp.sum(data) + prior

        return objective

    def run(objective, y0, steps):
        return minimize(
            objective,
            y0,
            method=config.optimizer,
            steps=steps,
            learning_rate=config.learning_rate,
            memory_size=config.lbfgs_memory,
            linesearch_steps=config.linesearch_steps,
        )

    if contour is None:
        objective = objective_of(lmodel, None)
        y, values = run(objective, x0, config.steps)
        return natural(y), start, values, objective(y), project_all(lmodel, natural(y), None)

    targets = landmarks[:, contour.landmarks]  # [N, C, 2]

    def contour_models(y: FitVariables):
        x = natural(y)
        rotations, translations, cameras = _poses(x, start)
        projected = jax.vmap(project_candidates, in_axes=(None, None, 0, 0, 0, 0))(
            candidates, x.identity, x.expression, rotations, translations, cameras
        )
        choice = jax.vmap(nearest_candidates)(projected, targets)
        return jax.vmap(with_contour, in_axes=(None, None, None, 0))(
            lmodel, candidates, contour.landmarks, choice
        )

    steps = -(-config.steps // config.contour_rounds)

    def round_(y, _):
        lmodels = contour_models(y)
        y, values = run(objective_of(lmodels, 0), y, steps)
        return y, values

    y, values = jax.lax.scan(round_, x0, None, length=config.contour_rounds)
    lmodels = contour_models(y)
    x = natural(y)
    return x, start, values.reshape(-1), objective_of(lmodels, 0)(y), project_all(lmodels, x, 0)


def batching_of(config: FitConfig) -> str:
    """How persons are batched: ``config.batching``, or for ``"auto"`` ``"map"`` (one after the
    other) for L-BFGS on CPU and ``"vmap"`` otherwise.

    Under ``vmap`` every line search runs as long as the longest one in the batch; on CPU, where
    a batch gains little from vectorising, fitting the faces one after the other is 8x (64
    faces) to 30x (1,000 faces) faster for L-BFGS (and vmap 2x faster for Adam, whose steps
    cost the same for every face).
    """
    if config.batching != "auto":
        return config.batching
    if config.optimizer == "lbfgs" and jax.default_backend() == "cpu":
        return "map"
    return "vmap"


@functools.partial(jax.jit, static_argnames=("config",))
def fit_people(
    model: MorphableModel,
    landmarks,
    weights,
    camera,
    config: FitConfig,
    contour: ContourCandidates | None = None,
):
    """``[P, N, L, 2]`` targets, ``[P, N, L]`` weights, ``[P, N]`` cameras -> FitResult."""
    ki = config.identity_components if config.fit_identity else 0
    ke = config.expression_components if config.fit_expression else 0
    lmodel = landmark_model(model, ki, ke)
    candidates = None if contour is None else candidate_model(model, contour, ki, ke)

    def solve(inputs):
        return solve_person(lmodel, *inputs, config, contour, candidates)

    if batching_of(config) == "vmap":
        x, start, values, loss, projected = jax.vmap(solve)((landmarks, weights, camera))
    else:
        x, start, values, loss, projected = jax.lax.map(solve, (landmarks, weights, camera))
    rotations, translations, cameras = jax.vmap(_poses)(x, start)
    identity = jnp.broadcast_to(
        x.identity[:, None, :], (*landmarks.shape[:2], x.identity.shape[-1])
    )
    params = jax.vmap(jax.vmap(functools.partial(face_params, model)))(
        identity, x.expression, rotations, translations, cameras
    )
    return FitResult(
        params=params,
        loss=loss,
        landmark_error=landmark_error(projected, landmarks, weights),
        landmarks_2d=projected,
        loss_history=values,
        iterations=config.steps,
    )


def _camera_batch_ndim(camera) -> int:
    if isinstance(camera, geometry.PerspectiveCamera):
        return jnp.ndim(camera.focal) - 1
    if isinstance(camera, geometry.WeakPerspectiveCamera):
        return jnp.ndim(camera.scale)
    raise TypeError(
        f"camera must be a PerspectiveCamera or WeakPerspectiveCamera, got {type(camera).__name__}"
    )


def prepare_inputs(model, landmarks, weights, image_size, camera, config, batch_ndim: int):
    """Checks and shapes the inputs of a fit into ``[P, N, L, 2]``, ``[P, N, L]``, ``[P, N]``.

    Args:
      model: the morphable model (its landmark count is checked against the targets).
      landmarks: ``[*batch, L, 2]`` (a third column, depth, is dropped).
      weights: ``[*batch, L]`` or ``None``.
      image_size: ``(height, width)`` for the default camera, if ``camera`` is ``None``.
      camera: a camera with leading dims broadcastable to ``batch``, or ``None``.
      config: the fit config.
      batch_ndim: how many leading dims ``landmarks`` has beyond ``[L, 2]`` in the canonical
        ``[P, N]`` layout (the caller adds the missing ones).

    Returns:
      ``(landmarks, weights, camera)`` with the leading dims ``batch``.

    Raises:
      ValueError: for a wrong landmark count or shape, or a missing camera / image size.
    """
    check_landmark_model(model)
    landmarks = jnp.asarray(landmarks)
    if landmarks.ndim != batch_ndim + 2 or landmarks.shape[-1] not in (2, 3):
        raise ValueError(
            f"landmarks must have {batch_ndim} batch dims before [L, 2], "
            f"got shape {tuple(landmarks.shape)}"
        )
    landmarks = landmarks[..., :2]
    if not jnp.issubdtype(landmarks.dtype, jnp.floating):
        landmarks = landmarks.astype(jnp.result_type(float))
    if landmarks.shape[-2] != model.num_landmarks:
        raise ValueError(
            f"{landmarks.shape[-2]} target landmarks, but model '{model.name}' defines "
            f"{model.num_landmarks} (the targets must follow the model's landmark definition, "
            "e.g. the 68 iBUG points)"
        )
    if weights is not None:
        weights = jnp.asarray(weights, landmarks.dtype)
        if weights.shape != landmarks.shape[:-1]:
            raise ValueError(
                f"weights must have shape {tuple(landmarks.shape[:-1])}, got {tuple(weights.shape)}"
            )
    landmarks, weights = sanitize(landmarks, weights)
    batch = landmarks.shape[:-2]
    if config.camera == "weak_perspective":
        camera = geometry.WeakPerspectiveCamera(
            scale=jnp.ones(batch, landmarks.dtype),
            translation=jnp.zeros((*batch, 2), landmarks.dtype),
        )
        return landmarks, weights, camera
    if camera is None:
        if image_size is None:
            raise ValueError(
                "a perspective fit needs the camera or the image_size=(height, width) that the "
                "landmarks' pixel coordinates refer to"
            )
        height, width = image_size
        camera = image_camera(height, width, dtype=landmarks.dtype)
    if not isinstance(camera, geometry.PerspectiveCamera):
        raise TypeError(
            f"config.camera='perspective' needs a PerspectiveCamera, got {type(camera).__name__}"
        )
    extra = _camera_batch_ndim(camera)
    if extra > len(batch):
        raise ValueError(f"camera has {extra} batch dims, the landmarks only {len(batch)}")
    camera = jax.tree_util.tree_map(
        lambda leaf: jnp.broadcast_to(
            jnp.asarray(leaf, landmarks.dtype), batch + jnp.shape(leaf)[extra:]
        ),
        camera,
    )
    return landmarks, weights, camera


def fit_joint(
    model: MorphableModel,
    landmarks,
    weights=None,
    *,
    image_size=None,
    camera=None,
    config: FitConfig | None = None,
    contour: ContourCandidates | None = None,
) -> FitResult:
    """Fits one identity to several images of a person (or of each of several persons).

    Args:
      model: a morphable model with a landmark definition (usually 68 iBUG points).
      landmarks: ``[N, L, 2]`` one person's ``N`` images, or ``[P, N, L, 2]`` for ``P``
        persons with ``N`` images each (pad persons with fewer images with weight-0 images);
        pixels in each image's own coordinates (docs/conventions.md). NaN rows are missing.
      weights: ``[N, L]`` / ``[P, N, L]`` non-negative per-landmark weights (0: occluded or
        missing), or ``None`` for ones.
      image_size: ``(height, width)`` of the images, for the default camera
        (:func:`facejax.fitting.image_camera`) when ``camera`` is not given.
      camera: a ``PerspectiveCamera`` with leading dims broadcastable to ``[N]`` / ``[P, N]``
        (images of different sizes: stack one per image). Ignored for a weak-perspective fit.
      config: :class:`facejax.fitting.FitConfig` (static: one compile per config and shape).
      contour: sliding contour landmarks (:class:`facejax.fitting.ContourCandidates`, e.g.
        ``facejax.fitting.synthetic_contour()`` for the embedded model), chosen
        anew for each image in every one of ``config.contour_rounds`` rounds; ``None`` keeps
        every landmark on its fixed vertex.

    Returns:
      :class:`facejax.fitting.FitResult` with leading dims ``[N]`` or ``[P, N]``; ``loss`` and
      ``loss_history`` are per person (with ``contour``, ``loss_history`` has
      ``contour_rounds * ceil(steps / contour_rounds)`` entries).
    """
    config = FitConfig() if config is None else config
    single_person = jnp.ndim(landmarks) == 3
    batch_ndim = 1 if single_person else 2
    landmarks, weights, camera = prepare_inputs(
        model, landmarks, weights, image_size, camera, config, batch_ndim
    )
    if single_person:
        landmarks, weights = landmarks[None], weights[None]
        camera = jax.tree_util.tree_map(lambda leaf: leaf[None], camera)
    result = fit_people(model, landmarks, weights, camera, config, contour)
    if single_person:
        result = jax.tree_util.tree_map(lambda leaf: leaf[0], result)
    return result
