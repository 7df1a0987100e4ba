"""Photometric refinement: fitting the rendered face to the image's pixels.

After a landmark fit, the facejax renderer (:func:`facejax.render.face.render_face`) draws the
face and the objective compares it with the image inside a mask,

    sum_n [ mean_{pixels p in M_n} sqrt(|I_n(p) - R_n(p)|^2 + eps)
            + landmark_weight * E_n ]
    + identity_prior 0.5 |alpha|^2 + expression_prior sum_n 0.5 |beta_n|^2
    + albedo_prior 0.5 |gamma|^2,

the per-pixel colour distance of Deep3DFaceRecon (robust: an L2 norm, not its square), the
landmark term ``E_n`` of the landmark fit (so the shape cannot slide off the landmarks), and
the Gaussian priors. ``M_n`` is the rendered face's mask, times the model's ``face_mask``
region (hair, ears and neck are what the model describes worst), times an optional mask of the
image (occluders, background). Two stages with Adam: first the appearance alone (albedo
shared by the person's images, SH lighting per image), then everything (identity, expression,
pose, albedo, lighting).

Images are fitted small (``PhotometricConfig.size``): each is resized so that its longer side is
``size`` and placed in the top-left corner of a square canvas (the rest masked out), with the
camera and landmarks scaled to match; the result is scaled back to the original image.
Visibility (which triangle covers a pixel) is not differentiated, only the colours and the
positions inside visible triangles.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from facejax import geometry, lighting, morphable
from facejax.fitting.config import PhotometricConfig
from facejax.fitting.objective import face_size, landmark_data_term, landmark_error, sanitize
from facejax.fitting.result import FitResult
from facejax.fitting.solve import adam_schedule
from facejax.fitting.variables import image_pose
from facejax.morphable.model import MorphableModel
from facejax.morphable.params import FaceParams
from facejax.numerics import masked_mean
from facejax.render.face import render_face
from facejax.render.interpolate import interpolate

Array = Any

# Keeps the colour distance's gradient finite where the rendering matches exactly.
_PIXEL_EPS = 1e-6


def scale_camera(camera, scale_x, scale_y):
    """The camera of an image resized by ``(scale_x, scale_y)`` (pixels per original pixel)."""
    if isinstance(camera, geometry.WeakPerspectiveCamera):
        factor = jnp.stack([scale_x, scale_y])
        return camera.replace(
            scale=camera.scale * 0.5 * (scale_x + scale_y),
            translation=camera.translation * factor,
        )
    factor = jnp.stack([jnp.asarray(scale_x), jnp.asarray(scale_y)])
    return camera.replace(
        focal=camera.focal * factor, principal_point=camera.principal_point * factor
    )


def letterbox(image, size: int, mask=None) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Resizes an image so its longer side is ``size`` and puts it in a square canvas.

    Args:
      image: ``[H, W, 3]`` uint8 or float in ``[0, 1]`` (host array).
      size: canvas side, pixels.
      mask: optional ``[H, W]`` mask of the pixels to use (1) or ignore (0).

    Returns:
      ``(canvas [size, size, 3] float32 in [0, 1], mask [size, size] float32,
      (scale_x, scale_y))``: the image at the top-left, the mask 0 outside it, and the
      factors that map original pixel coordinates into the canvas.
    """
    from PIL import Image

    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    height, width = image.shape[:2]
    factor = size / max(height, width)
    new_w, new_h = max(1, round(width * factor)), max(1, round(height * factor))
    resized = np.stack(
        [
            np.asarray(
                Image.fromarray(image[..., c].astype(np.float32), mode="F").resize(
                    (new_w, new_h), Image.Resampling.BILINEAR, reducing_gap=2.0
                )
            )
            for c in range(3)
        ],
        axis=-1,
    )
    canvas = np.zeros((size, size, 3), np.float32)
    canvas[:new_h, :new_w] = np.clip(resized, 0.0, 1.0)
    valid = np.zeros((size, size), np.float32)
    if mask is None:
        valid[:new_h, :new_w] = 1.0
    else:
        small = Image.fromarray(np.asarray(mask, np.float32), mode="F").resize(
            (new_w, new_h), Image.Resampling.BILINEAR
        )
        valid[:new_h, :new_w] = (np.asarray(small) > 0.5).astype(np.float32)
    return canvas, valid, (new_w / width, new_h / height)


def _render_region(model, params, size: int, face_region: bool):
    """Rendered image ``[S, S, 3]`` and the weight ``[S, S]`` of each pixel in the loss."""
    rendering = render_face(model, params, size, size)
    weight = rendering.mask
    if face_region and model.face_mask is not None:
        region = interpolate(rendering.fragments, model.triangles, model.face_mask[:, None])
        weight = weight * (region[..., 0] > 0.5).astype(weight.dtype)
    return rendering.image, jax.lax.stop_gradient(weight), rendering.landmarks_2d[:, :2]


def _pixel_term(rendered, image, weight):
    # facejax.losses.photometric_loss(kind="l2") with the eps of Deep3DFaceRecon's
    # sqrt(|d|^2 + eps) (a smooth gradient at an exact match) instead of a safe norm.
    distance = jnp.sqrt(jnp.sum(jnp.square(rendered - image), axis=-1) + _PIXEL_EPS)
    return masked_mean(distance, weight, axis=(-2, -1))


_APPEARANCE = ("albedo", "sh")


def _two_stage_adam(objective, variables: dict, config: PhotometricConfig):
    """Adam over both stages in one ``scan``: the first ``appearance_steps`` update only the
    albedo and lighting (the other gradients are zeroed), the rest update everything; each
    stage has its own cosine-decayed learning rate. One scan compiles the rendering objective
    once instead of once per stage."""
    first, second = config.appearance_steps, config.shape_steps
    schedules = [s for s in (first, second) if s]
    schedule = optax.join_schedules(
        [adam_schedule(config.learning_rate, steps) for steps in schedules],
        [first] if len(schedules) == 2 else [],
    )
    optimizer = optax.adam(schedule)

    def step(carry, index):
        x, state = carry
        value, grad = jax.value_and_grad(objective)(x)
        shape_stage = (index >= first).astype(value.dtype)
        grad = {k: g if k in _APPEARANCE else g * shape_stage for k, g in grad.items()}
        updates, state = optimizer.update(grad, state, x)
        return (optax.apply_updates(x, updates), state), value

    total = first + second
    (variables, _), history = jax.lax.scan(
        step, (variables, optimizer.init(variables)), jnp.arange(total)
    )
    return variables, history


@functools.partial(jax.jit, static_argnames=("config",))
def photometric_fit(
    model: MorphableModel,
    params: FaceParams,
    images,
    masks,
    landmarks,
    weights,
    config: PhotometricConfig | None = None,
) -> FitResult:
    """Refines one person's fit on images already at the fitting size (see the module docstring).

    Args:
      model: the morphable model.
      params: ``[N]`` batched FaceParams of the person's images (a landmark fit; the identity of
        image 0 is the start of the shared identity), cameras for these images.
      images: ``[N, S, S, 3]`` float RGB in ``[0, 1]``.
      masks: ``[N, S, S]`` 1 where pixels may be used.
      landmarks: ``[N, L, 2]`` target landmarks in these images (NaN: missing).
      weights: ``[N, L]`` landmark weights.
      config: options (static).

    Returns:
      A :class:`FitResult` with ``[N]`` params (shared identity and albedo), the final loss
      (``[]``), landmark errors ``[N]`` and the loss history of both stages.
    """
    config = PhotometricConfig() if config is None else config
    size = images.shape[-2]
    landmarks, weights = sanitize(landmarks, weights)
    sizes = jax.vmap(face_size)(landmarks, weights)
    start_rotation = geometry.rotation_from_euler(params.rotation, params.rotation_convention)
    num_images = images.shape[0]
    dtype = images.dtype

    # Lighting starts as the ambient light that gives the rendered albedo the image's mean colour.
    def ambient_start(p, image, mask):
        rendered, weight, _ = _render_region(
            model, p.replace(sh_coeffs=lighting.ambient(1.0, dtype)), size, config.face_region_only
        )
        weight = weight * mask
        ratio = jnp.einsum("hw,hwc->c", weight, image) / jnp.maximum(
            jnp.einsum("hw,hwc->c", weight, rendered), 1e-6
        )
        return lighting.ambient(jnp.where(jnp.sum(weight) > 0, ratio, 1.0), dtype)

    sh_start = jax.vmap(ambient_start)(params, images, masks)
    variables = {
        "identity": params.identity[0],
        "expression": params.expression,
        "albedo": params.albedo[0],
        "sh": sh_start,
        "rotation": jnp.zeros((num_images, 3), dtype),
        "translation": jnp.zeros((num_images, 3), dtype),
    }

    def face(v, n):
        rotation, translation, camera = image_pose(
            v["rotation"][n],
            v["translation"][n],
            start_rotation[n],
            params.translation[n],
            jax.tree_util.tree_map(lambda a: a[n], params.camera),
            sizes[n],
        )
        p = jax.tree_util.tree_map(lambda a: a[n], params)
        return p.replace(
            identity=v["identity"],
            expression=v["expression"][n],
            albedo=v["albedo"],
            sh_coeffs=v["sh"][n],
            rotation=geometry.euler_from_rotation(rotation, params.rotation_convention),
            translation=translation,
            camera=camera,
        )

    def objective(v):
        def per_image(n):
            rendered, weight, projected = _render_region(
                model, face(v, n), size, config.face_region_only
            )
            pixels = _pixel_term(rendered, images[n], weight * masks[n])
            marks = landmark_data_term(projected, landmarks[n], weights[n], sizes[n])
            return pixels + config.landmark_weight * marks

        data = jnp.sum(jax.lax.map(per_image, jnp.arange(num_images)))
        prior = config.identity_prior * jnp.sum(jnp.square(v["identity"]))
        prior += config.expression_prior * jnp.sum(jnp.square(v["expression"]))
        prior += config.albedo_prior * jnp.sum(jnp.square(v["albedo"]))
        return data + 0.5 * prior

    variables, history = _two_stage_adam(objective, variables, config)

    fitted = jax.vmap(lambda n: face(variables, n))(jnp.arange(num_images))
    projected = jax.vmap(lambda p: morphable.decode(model, p).landmarks_2d[:, :2])(fitted)
    return FitResult(
        params=fitted,
        loss=objective(variables),
        landmark_error=landmark_error(projected, landmarks, weights),
        landmarks_2d=projected,
        loss_history=history,
        iterations=config.appearance_steps + config.shape_steps,
    )


def refine_photometric(
    model: MorphableModel,
    params: FaceParams,
    images,
    landmarks,
    weights=None,
    *,
    masks=None,
    config: PhotometricConfig | None = None,
) -> FitResult:
    """Refines a landmark fit of one person's images through the renderer (module docstring).

    Args:
      model: the morphable model that was fitted.
      params: the landmark fit's params: one image's ``FaceParams`` (unbatched) or ``[N]`` for
        ``N`` images of one person (e.g. ``fit_joint(...).params``), cameras in the images'
        own pixels.
      images: one ``[H, W, 3]`` image or a sequence of ``N`` (any sizes), uint8 or float in
        ``[0, 1]``.
      landmarks: ``[L, 2]`` / ``[N, L, 2]`` (or a sequence) target landmarks, original pixels.
      weights: ``[L]`` / ``[N, L]`` landmark weights, or ``None``.
      masks: optional ``[H, W]`` mask per image (1: use the pixel), or ``None``.
      config: :class:`facejax.fitting.PhotometricConfig`.

    Returns:
      A :class:`FitResult` in the original images' pixels (unbatched for one unbatched image,
      else ``[N]``), with albedo and lighting estimated.
    """
    single = jnp.ndim(params.translation) == 1
    if single:
        params = jax.tree_util.tree_map(lambda a: a[None], params)
        images, landmarks = [images], [landmarks]
        weights = None if weights is None else [weights]
        masks = None if masks is None else [masks]
    num_images = params.translation.shape[0]
    if len(images) != num_images or len(landmarks) != num_images:
        raise ValueError(
            f"refine_photometric: {num_images} params but {len(images)} images and "
            f"{len(landmarks)} landmark arrays"
        )
    canvases, valid, factors = [], [], []
    for n, image in enumerate(images):
        if np.ndim(image) != 3 or np.shape(image)[-1] != 3:
            raise ValueError(f"image {n} must be [H, W, 3] RGB, got shape {np.shape(image)}")
        canvas, mask, factor = letterbox(image, config.size, None if masks is None else masks[n])
        canvases.append(canvas)
        valid.append(mask)
        factors.append(factor)
    factors = jnp.asarray(factors, params.translation.dtype)  # [N, 2]
    points = jnp.asarray(np.stack([np.asarray(lm, np.float64)[:, :2] for lm in landmarks]))
    points = points.astype(params.translation.dtype)
    if weights is None:
        weights = jnp.ones(points.shape[:-1], points.dtype)
    weights = jnp.asarray(np.stack([np.asarray(w) for w in weights]), points.dtype)
    small_params = params.replace(
        camera=jax.vmap(scale_camera)(params.camera, factors[:, 0], factors[:, 1])
    )
    result = photometric_fit(
        model,
        small_params,
        jnp.asarray(np.stack(canvases)),
        jnp.asarray(np.stack(valid)),
        points * factors[:, None, :],
        weights,
        config,
    )
    # Back to the original pixels: the 3D pose is unchanged, the camera scales back.
    fitted = result.params.replace(
        camera=jax.vmap(scale_camera)(
            result.params.camera, 1.0 / factors[:, 0], 1.0 / factors[:, 1]
        )
    )
    projected = result.landmarks_2d / factors[:, None, :]
    clean, clean_weights = sanitize(points, weights)
    result = result.replace(
        params=fitted,
        landmarks_2d=projected,
        landmark_error=landmark_error(projected, clean, clean_weights),
    )
    if single:
        result = result.replace(
            params=jax.tree_util.tree_map(lambda a: a[0], result.params),
            landmark_error=result.landmark_error[0],
            landmarks_2d=result.landmarks_2d[0],
        )
    return result
