"""What a synthetic face scene is: who, how posed, lit and framed, in front of what.

The synthetic datasets (``facejax.data.builders.synthetic_faces`` and ``synthetic_clips``) draw
every quantity here from ``jax.random`` keys made by ``fold_in`` of the dataset seed with the
identity, image or clip and frame number, so an example depends only on the seed and its own
numbers, never on the order or batch it was generated in. Everything is a pure JAX function of
its key, batched with ``jax.vmap`` by the builders.

A scene (ranges in :class:`SceneConfig`):

* **Identity**: identity and albedo coefficients ``~ N(0, 1)`` (standard-deviation units,
  docs/conventions.md), truncated at ``identity_truncation`` / ``albedo_truncation``.
* **Expression**: ``expression_scale * N(0, 1)`` truncated at ``expression_truncation``, except
  the movements named in ``limited_expressions`` (the embedded model's ``jaw_open`` and
  ``eye_close_*``, docs/synthetic_model.md "Limits"): a half-normal of scale ``limit / 2``
  truncated at ``limit``, never negative (a negative ``jaw_open`` pushes the lips into each
  other; ``eye_close`` beyond 2 turns the lid inside out).
* **Pose**: ``(pitch, yaw, roll)`` in facejax's ``"xyz"`` Euler convention, each uniform in
  ``+-`` its range (yaw over the full ``+-90`` degrees).
* **Framing**: the perspective camera of :func:`facejax.morphable.default_camera` (focal
  ``1015 S / 224`` px, principal point at the centre). The model's *anchor*, the centre of the
  bounding box of its mean-face landmarks, is placed on the optical axis at the distance where
  that box's larger side (chin to brows, ~144 mm for the embedded model) spans ``fill`` of the
  image (``fill`` uniform in ``fill_range``), then shifted by up to ``center_jitter * S``
  pixels in x and y. Turning the head about the anchor keeps the face in the crop at any yaw.
* **Lighting**: SH coefficients (``[9, 3]``, camera frame) of a uniform ambient plus one distant
  directional light from the front half-space, each tinted per channel by up to
  ``+-light_tint``.
* **Background** (:mod:`facejax.data.synthetic_backgrounds`) and **degradation**: a Gaussian
  blur of sigma uniform in ``[0, blur_sigma * S]`` pixels, then pixel noise of standard
  deviation uniform in ``[0, noise_std]`` (image values in ``[0, 1]``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from facejax import geometry, lighting, morphable

Array = Any

# Independent random streams of one dataset seed: fold_in(root, stream) then the numbers. The
# clips dataset has its own people (its identity stream), not the faces dataset's.
IDENTITY_STREAM = 1
IMAGE_STREAM = 2
CLIP_STREAM = 3
CLIP_IDENTITY_STREAM = 4


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """Ranges of the random scene (see the module docstring). Hashable: a static jit argument.

    Attributes:
      yaw_deg, pitch_deg, roll_deg: each angle is uniform in ``+-`` this, degrees.
      fill_range: ``(low, high)`` share of the image side spanned by the frontal mean face's
        landmark box.
      center_jitter: largest shift of the face from the centre, as a share of the side.
      identity_truncation: identity coefficients are ``N(0, 1)`` truncated at ``+-`` this.
      albedo_truncation: the same for albedo (the embedded model stays in ``[0, 1]`` to 3).
      expression_scale: standard deviation of the expression coefficients.
      expression_truncation: their truncation, in units of ``expression_scale``.
      limited_expressions: ``((name, limit), ...)``: expressions drawn in ``[0, limit]``.
      ambient_range: ``(low, high)`` of the ambient intensity.
      directional_range: ``(low, high)`` of the directional light's intensity.
      light_azimuth_deg: light direction's azimuth about the camera axis is uniform in ``+-``.
      light_elevation_deg: ``(low, high)`` elevation (positive: from above).
      light_tint: per-channel relative variation of each light's colour.
      blur_sigma: largest Gaussian blur sigma, as a share of the image side.
      noise_std: largest standard deviation of the pixel noise (image in ``[0, 1]``).
    """

    yaw_deg: float = 90.0
    pitch_deg: float = 25.0
    roll_deg: float = 15.0
    fill_range: tuple[float, float] = (0.6, 0.8)
    center_jitter: float = 0.04
    identity_truncation: float = 2.5
    albedo_truncation: float = 3.0
    expression_scale: float = 0.6
    expression_truncation: float = 2.5
    limited_expressions: tuple[tuple[str, float], ...] = (
        ("jaw_open", 1.5),
        ("eye_close_left", 1.2),
        ("eye_close_right", 1.2),
    )
    ambient_range: tuple[float, float] = (0.55, 0.9)
    directional_range: tuple[float, float] = (0.15, 0.6)
    light_azimuth_deg: float = 70.0
    light_elevation_deg: tuple[float, float] = (-25.0, 60.0)
    light_tint: float = 0.08
    blur_sigma: float = 0.01
    noise_std: float = 0.02

    def __post_init__(self):
        for name in ("fill_range", "ambient_range", "directional_range", "light_elevation_deg"):
            value = tuple(float(v) for v in getattr(self, name))
            if len(value) != 2 or value[0] > value[1]:
                raise ValueError(f"SceneConfig: {name} must be (low, high), got {value}")
            object.__setattr__(self, name, value)
        limited = tuple((str(n), float(v)) for n, v in self.limited_expressions)
        object.__setattr__(self, "limited_expressions", limited)
        if not 0.0 < self.fill_range[0] <= self.fill_range[1]:
            raise ValueError(f"SceneConfig: fill_range must be positive, got {self.fill_range}")
        for name in ("blur_sigma", "noise_std", "center_jitter", "light_tint"):
            if getattr(self, name) < 0:
                raise ValueError(f"SceneConfig: {name} must be >= 0, got {getattr(self, name)}")

    def blur_radius(self, image_size: int) -> int:
        """Half-width (pixels, static) of the blur kernel: three of the largest sigmas."""
        return max(1, math.ceil(3.0 * self.blur_sigma * image_size))


@dataclasses.dataclass(frozen=True)
class Framing:
    """Where a model's face sits (numpy, from its mean shape; see :func:`framing`).

    Attributes:
      anchor: ``[3]`` model-frame point put on the optical axis (mm).
      extent: the larger side of the mean-face landmark box (mm).
    """

    anchor: np.ndarray
    extent: float


def framing(model: morphable.MorphableModel) -> Framing:
    """The anchor and extent of ``model``'s mean-face landmarks.

    Raises:
      ValueError: if the model defines no landmarks (the datasets store them).
    """
    if model.num_landmarks == 0:
        raise ValueError(
            f"synthetic scenes need a model with 68 landmarks; '{model.name}' defines none"
        )
    points = np.asarray(morphable.landmarks(model, jnp.asarray(model.mean_shape)), np.float64)
    low, high = points.min(0), points.max(0)
    return Framing(anchor=(low + high) / 2.0, extent=float(max(high[:2] - low[:2])))


def stream_key(seed, stream: int, *numbers) -> jax.Array:
    """The key of ``(stream, *numbers)`` under ``seed``: ``fold_in`` one number at a time."""
    key = jax.random.fold_in(jax.random.key(seed), stream)
    for number in numbers:
        key = jax.random.fold_in(key, number)
    return key


# Each jax.random call compiles its own hash rounds: every sampler below makes one call (a
# scene drawn with one call per quantity compiled several times slower).


def sample_identity(model, key, config: SceneConfig) -> tuple[Array, Array]:
    """Identity ``[Ki]`` and albedo ``[Ka]`` coefficients of one person."""
    ki, ka = model.num_identity, model.num_albedo
    bound = jnp.concatenate(
        [
            jnp.full((ki,), config.identity_truncation, jnp.float32),
            jnp.full((ka,), config.albedo_truncation, jnp.float32),
        ]
    )
    draw = jax.random.truncated_normal(key, -bound, bound, (ki + ka,), jnp.float32)
    return draw[:ki], draw[ki:]


def sample_expression(model, key, config: SceneConfig) -> Array:
    """Expression coefficients ``[Ke]``.

    The movements of ``config.limited_expressions`` that the model names are drawn in
    ``[0, limit]`` as ``limit / 2`` times a normal truncated to ``[0, 2]`` (most often near
    0: a closed mouth, open eyes); the others as ``expression_scale`` times a normal truncated
    at ``+-expression_truncation``.
    """
    count = model.num_expression
    names = list(model.expression_names)
    lower = np.full((count,), -config.expression_truncation, np.float32)
    upper = np.full((count,), config.expression_truncation, np.float32)
    scale = np.full((count,), config.expression_scale, np.float32)
    for name, limit in config.limited_expressions:
        if name in names[:count]:
            i = names.index(name)
            lower[i], upper[i], scale[i] = 0.0, 2.0, limit / 2.0
    draw = jax.random.truncated_normal(
        key, jnp.asarray(lower), jnp.asarray(upper), (count,), jnp.float32
    )
    return draw * jnp.asarray(scale)


def sample_rotation(key, config: SceneConfig) -> Array:
    """``(pitch, yaw, roll)`` radians, ``"xyz"`` convention, uniform in the config's ranges."""
    half = np.deg2rad([config.pitch_deg, config.yaw_deg, config.roll_deg]).astype(np.float32)
    return jax.random.uniform(key, (3,), jnp.float32, -1.0, 1.0) * jnp.asarray(half)


def _lerp(u, bounds):
    low, high = bounds
    return low + (high - low) * u


def sample_lighting(key, config: SceneConfig) -> Array:
    """SH coefficients ``[9, 3]``: tinted ambient plus a tinted directional light."""
    u = jax.random.uniform(key, (10,), jnp.float32)
    azimuth = jnp.deg2rad(_lerp(u[0], (-config.light_azimuth_deg, config.light_azimuth_deg)))
    elevation = jnp.deg2rad(_lerp(u[1], config.light_elevation_deg))
    # Camera frame: +z points from the face towards the camera, so z > 0 lights the front.
    direction = jnp.stack(
        [
            jnp.sin(azimuth) * jnp.cos(elevation),
            jnp.sin(elevation),
            jnp.cos(azimuth) * jnp.cos(elevation),
        ]
    )
    tint = 1.0 + config.light_tint * (2.0 * u[4:10].reshape(2, 3) - 1.0)
    ambient = _lerp(u[2], config.ambient_range) * tint[0]
    directional = _lerp(u[3], config.directional_range) * tint[1]
    return lighting.directional(direction, directional, dtype=jnp.float32) + lighting.ambient(
        ambient, dtype=jnp.float32
    )


def sample_placement(key, config: SceneConfig) -> tuple[Array, Array]:
    """``fill`` ``[]`` and the image-plane offset ``[2]`` (share of the side, x right y down)."""
    u = jax.random.uniform(key, (3,), jnp.float32)
    return _lerp(u[0], config.fill_range), (2.0 * u[1:] - 1.0) * config.center_jitter


def place_face(rotation, fill, offset, camera, anchor, extent, image_size: int) -> Array:
    """The translation ``[3]`` (mm) that puts the rotated anchor where the framing asks.

    The anchor goes to depth ``d = focal * extent / (fill * S)`` on the ray through the pixel
    ``centre + offset * S``: ``R @ anchor + t = (ox d / f, -oy d / f, -d)`` (camera y is up).

    Args:
      rotation: ``[3]`` ``(pitch, yaw, roll)``, ``"xyz"`` convention.
      fill: ``[]`` share of the side spanned by ``extent``.
      offset: ``[2]`` shift of the anchor's image from the principal point, share of the side.
      camera: the ``PerspectiveCamera``.
      anchor: ``[3]`` model-frame point (:class:`Framing`).
      extent: ``[]`` mm (:class:`Framing`).
      image_size: ``S``.
    """
    focal = camera.focal
    distance = focal[0] * extent / (fill * image_size)
    shift = offset * image_size * distance / focal
    target = jnp.stack([shift[0], -shift[1], -distance])
    return target - geometry.rotation_from_euler(rotation, "xyz") @ anchor


def face_params(model, identity, albedo, expression, rotation, translation, sh, image_size):
    """A :class:`facejax.morphable.FaceParams` with the default camera for ``image_size``."""
    params = morphable.neutral_params(model, image_size=image_size, dtype=jnp.float32)
    return params.replace(
        identity=identity,
        expression=expression,
        albedo=albedo,
        rotation=rotation,
        translation=translation,
        sh_coeffs=sh,
    )


def sample_degradation(key, config: SceneConfig, image_size: int) -> tuple[Array, Array]:
    """Blur sigma ``[]`` (pixels) and pixel-noise standard deviation ``[]`` of one image."""
    u = jax.random.uniform(key, (2,), jnp.float32)
    return u[0] * config.blur_sigma * image_size, u[1] * config.noise_std


def pixel_noise(key, noise_std, image_size: int) -> Array:
    """``[S, S, 3]`` Gaussian noise of standard deviation ``noise_std``."""
    return noise_std * jax.random.normal(key, (image_size, image_size, 3), jnp.float32)
