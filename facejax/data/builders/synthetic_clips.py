"""``facejax_synthetic_clips``: short video clips rendered from a morphable model, with exact
per-frame ground truth, split by identity (for the cycle-consistency method).

Each identity has its own identity and albedo coefficients and ``clips_per_identity`` clips of
``num_frames`` frames. Within a clip the lighting, background, camera distance, framing and blur
are fixed, as in one shot of a video; the pose and the expression move smoothly: ``K =
num_keyframes`` keyframes are drawn (the first pose as for a still image, each next one within
``max_step_deg`` of the last, each expression as for a still image) and interpolated with the
smoothstep ``3u^2 - 2u^3`` between consecutive keyframes, so the motion stays inside the
keyframes' range (the expression limits hold) and stops at each keyframe. Each frame gets its
own pixel noise. Between consecutive frames an angle changes by at most ``1.5 (K - 1) / (T - 1)
max_step_deg`` (the largest slope of the smoothstep times the keyframe spacing).

Layout: the clip features of ``facejax.data.features.face_clip_features`` plus the ground truth
of ``facejax_synthetic_faces`` with a leading ``[T]`` (see :data:`PER_FRAME_FEATURES`), except
``identity_coeffs`` and ``albedo_coeffs``, which belong to the person. docs/synthetic_datasets.md
has the details.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import tensorflow_datasets as tfds

from facejax.data import features
from facejax.data import synthetic_scenes as scenes
from facejax.data.builders.synthetic_builder import (
    SyntheticBuilder,
    SyntheticConfig,
    ground_truth_features,
    padded_batches,
)
from facejax.data.synthetic_backgrounds import random_background
from facejax.data.synthetic_render import Scene

# Per-frame features beyond the clip layout's own (frames, landmarks, ...): pass them to
# facejax.data.pipeline.frame_pair_source(per_frame=...) so that each side gets its frame's.
PER_FRAME_FEATURES = (
    "mask",
    "landmark_visibility",
    "expression_coeffs",
    "pose",
    "translation",
    "camera_focal",
    "camera_principal_point",
    "sh_coeffs",
)


@dataclasses.dataclass(eq=False)
class SyntheticClipsConfig(SyntheticConfig):
    """Options of ``facejax_synthetic_clips`` (shared ones: ``SyntheticConfig``).

    Attributes:
      clips_per_identity: clips of each person.
      num_frames: frames ``T`` per clip.
      num_keyframes: keyframes ``K`` of the pose and expression trajectories (2 to ``T``).
      max_step_deg: ``(pitch, yaw, roll)``: largest change of each angle from one keyframe to
        the next, degrees (the angles stay within the scene's ranges).
    """

    clips_per_identity: int = 2
    num_frames: int = 8
    num_keyframes: int = 3
    max_step_deg: tuple[float, float, float] = (10.0, 30.0, 8.0)

    def __post_init__(self):
        super().__post_init__()
        if self.clips_per_identity < 1:
            raise ValueError(f"{self.name}: clips_per_identity must be >= 1")
        if self.num_frames < 2:
            raise ValueError(f"{self.name}: num_frames must be >= 2, got {self.num_frames}")
        if not 2 <= self.num_keyframes <= self.num_frames:
            raise ValueError(
                f"{self.name}: num_keyframes must be in [2, num_frames={self.num_frames}], got "
                f"{self.num_keyframes}"
            )
        self.max_step_deg = tuple(float(v) for v in self.max_step_deg)
        if len(self.max_step_deg) != 3 or min(self.max_step_deg) < 0:
            raise ValueError(f"{self.name}: max_step_deg must be 3 angles >= 0")

    def max_frame_step_deg(self) -> np.ndarray:
        """``[3]`` the largest change of each angle between consecutive frames, degrees."""
        spacing = (self.num_keyframes - 1) / (self.num_frames - 1)
        return 1.5 * spacing * np.asarray(self.max_step_deg)


def smoothstep_weights(num_frames: int, num_keyframes: int) -> tuple[np.ndarray, np.ndarray]:
    """Which keyframe segment each frame lies in and its smoothstep weight.

    Returns:
      ``segment [T]`` int32 (frame ``t`` is between keyframes ``segment`` and ``segment + 1``)
      and ``weight [T]`` float32 in ``[0, 1]``: ``value = key[s] + weight (key[s + 1] -
      key[s])``, with keyframes spread evenly from the first frame to the last.
    """
    position = np.arange(num_frames) * (num_keyframes - 1) / (num_frames - 1)
    segment = np.minimum(np.floor(position), num_keyframes - 2).astype(np.int32)
    u = position - segment
    return segment, (3.0 * u**2 - 2.0 * u**3).astype(np.float32)


def interpolate_keyframes(keys, segment, weight):
    """``keys [K, D]`` at the frames given by :func:`smoothstep_weights`: ``[T, D]``."""
    start, end = keys[segment], keys[segment + 1]
    return start + weight[:, None] * (end - start)


def sample_pose_keyframes(key, scene: scenes.SceneConfig, num_keyframes: int, max_step_deg):
    """``[K, 3]`` (pitch, yaw, roll) radians: a random start, then bounded steps, clipped to the
    scene's ranges."""
    k_start, k_steps = jax.random.split(key)
    limit = jnp.deg2rad(jnp.asarray([scene.pitch_deg, scene.yaw_deg, scene.roll_deg]))
    step = jnp.deg2rad(jnp.asarray(max_step_deg, jnp.float32))
    steps = jax.random.uniform(k_steps, (num_keyframes - 1, 3), jnp.float32, -1.0, 1.0)
    keys = [scenes.sample_rotation(k_start, scene)]
    for k in range(num_keyframes - 1):
        keys.append(jnp.clip(keys[-1] + steps[k] * step, -limit, limit))
    return jnp.stack(keys)


def clip_scenes(
    model,
    seed,
    identity,
    clip,
    anchor,
    extent,
    *,
    scene: scenes.SceneConfig,
    size: int,
    num_frames: int,
    num_keyframes: int,
    max_step_deg: tuple[float, float, float],
) -> Scene:
    """The scenes of the ``num_frames`` frames of one clip (module docstring).

    Args:
      model: the morphable model.
      seed: ``[]`` int32 dataset seed.
      identity, clip: ``[]`` int32 numbers.
      anchor, extent: the model's framing (:func:`facejax.data.synthetic_scenes.framing`).
      scene, size, num_frames, num_keyframes, max_step_deg: as in the config (static).

    Returns:
      A :class:`~facejax.data.synthetic_render.Scene` with a leading axis ``T``.
    """
    identity_coeffs, albedo = scenes.sample_identity(
        model, scenes.stream_key(seed, scenes.CLIP_IDENTITY_STREAM, identity), scene
    )
    key = scenes.stream_key(seed, scenes.CLIP_STREAM, identity, clip)
    k_pose, k_expr, k_light, k_place, k_bg, k_deg, k_noise = jax.random.split(key, 7)
    segment, weight = smoothstep_weights(num_frames, num_keyframes)
    pose_keys = sample_pose_keyframes(k_pose, scene, num_keyframes, max_step_deg)
    rotations = interpolate_keyframes(pose_keys, segment, weight)
    expression_keys = jax.vmap(lambda k: scenes.sample_expression(model, k, scene))(
        jax.random.split(k_expr, num_keyframes)
    )
    expressions = interpolate_keyframes(expression_keys, segment, weight)
    # Fixed in a clip: lighting, framing, background, blur and noise level.
    sh = scenes.sample_lighting(k_light, scene)
    fill, offset = scenes.sample_placement(k_place, scene)
    background = random_background(k_bg, size)
    blur, noise_std = scenes.sample_degradation(k_deg, scene, size)

    def frame(t, rotation, expression):
        params = scenes.face_params(
            model, identity_coeffs, albedo, expression, rotation, jnp.zeros((3,)), sh, size
        )
        translation = scenes.place_face(rotation, fill, offset, params.camera, anchor, extent, size)
        return Scene(
            params=params.replace(translation=translation),
            background=background,
            blur_sigma=blur,
            noise=scenes.pixel_noise(jax.random.fold_in(k_noise, t), noise_std, size),
        )

    return jax.vmap(frame)(jnp.arange(num_frames), rotations, expressions)


@functools.partial(
    jax.jit, static_argnames=("scene", "size", "num_frames", "num_keyframes", "max_step_deg")
)
def sample_clips(model, seed, identities, clips, anchor, extent, **static) -> Scene:
    """:func:`clip_scenes` of ``[B]`` ``(identity, clip)`` numbers, flattened to ``B * T``
    scenes (clip after clip) so that they render in one batch of images."""
    batch = jax.vmap(lambda i, c: clip_scenes(model, seed, i, c, anchor, extent, **static))(
        identities, clips
    )
    return jax.tree_util.tree_map(lambda x: x.reshape(-1, *x.shape[2:]), batch)


class SyntheticClips(SyntheticBuilder):
    """Synthetic face clips with smooth motion and exact per-frame 3DMM ground truth."""

    name = "facejax_synthetic_clips"
    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First facejax release."}
    BUILDER_CONFIGS = [
        SyntheticClipsConfig(
            name="tiny",
            description="Tests: 32x32, synthetic:small, 4 train + 2 test people x 2 clips x 4.",
            image_size=32,
            num_train_identities=4,
            num_test_identities=2,
            clips_per_identity=2,
            num_frames=4,
            num_keyframes=2,
            model="synthetic:small",
        ),
        SyntheticClipsConfig(
            name="small",
            description="CPU runs: 64x64, 100 train + 20 test people x 2 clips x 8 frames.",
            num_train_identities=100,
            num_test_identities=20,
        ),
        # Many people, one clip each, the head turned at most 45 degrees: the faces' small
        # benchmark (small_frontal) as clips. On `small`'s 100 people a network trained without
        # 3D labels learned the training people, not shape (experiments/cycle/README.md).
        SyntheticClipsConfig(
            name="small_frontal",
            description=(
                "CPU runs: 64x64, 1,500 train + 200 test people x 1 clip x 8 frames, |yaw| <= 45 "
                "degrees."
            ),
            num_train_identities=1500,
            num_test_identities=200,
            clips_per_identity=1,
            scene=scenes.SceneConfig(yaw_deg=45.0),
        ),
        # small_frontal with 4,000 training people: with identity targets a network learned
        # small_frontal's 1,500 training people rather than shape (experiments/cycle/README.md).
        SyntheticClipsConfig(
            name="medium_frontal",
            description=(
                "CPU runs: 64x64, 4,000 train + 200 test people x 1 clip x 8 frames, |yaw| <= 45 "
                "degrees."
            ),
            num_train_identities=4000,
            num_test_identities=200,
            clips_per_identity=1,
            scene=scenes.SceneConfig(yaw_deg=45.0),
        ),
        SyntheticClipsConfig(
            name="full",
            description="GPUs: 112x112, 2,000 train + 200 test people x 4 clips x 8 frames.",
            image_size=112,
            num_train_identities=2000,
            num_test_identities=200,
            clips_per_identity=4,
            batch_size=128,
        ),
    ]

    def _features(self) -> dict:
        config = self.builder_config
        size, frames = config.image_size, config.num_frames
        per_frame = ground_truth_features(self.model, shape=(frames,))
        per_person = ground_truth_features(self.model)
        return {
            **features.face_clip_features(size),
            "mask": tfds.features.Tensor(shape=(frames, size, size), dtype=np.bool_),
            **per_frame,
            "identity_coeffs": per_person["identity_coeffs"],
            "albedo_coeffs": per_person["albedo_coeffs"],
            "model_fingerprint": tfds.features.Text(),
        }

    def _split_generators(self, dl_manager):
        del dl_manager  # nothing to download
        config = self.builder_config
        metadata = self._common_metadata()
        metadata.update(
            {
                "num_frames": config.num_frames,
                "clips_per_identity": config.clips_per_identity,
                "num_keyframes": config.num_keyframes,
                "max_step_deg": list(config.max_step_deg),
                "max_frame_step_deg": config.max_frame_step_deg().tolist(),
                "per_frame_features": list(PER_FRAME_FEATURES),
            }
        )
        self.info.metadata.update(metadata)
        names = metadata["identity_names"]
        labels = {name: i for i, name in enumerate(names)}
        return {
            split: self._generate_split(
                split,
                [(labels[n], c) for n in people for c in range(config.clips_per_identity)],
                names,
            )
            for split, people in metadata["split_identities"].items()
        }

    @staticmethod
    def clip_key(identity_name: str, clip: int) -> str:
        """The ``clip_name`` (and tfds key) of a clip: ``synthetic_00012/clip01``."""
        return f"{identity_name}/clip{clip:02d}"

    def _generate_split(self, split, items, names):
        config = self.builder_config
        frames = config.num_frames
        anchor, extent = self._framing_arrays()
        seed = jnp.asarray(config.seed, jnp.int32)
        crops = np.broadcast_to(np.eye(2, 3, dtype=np.float32), (frames, 2, 3))
        # Whole clips per rendered batch, about batch_size images.
        clips_per_batch = max(1, config.batch_size // frames)
        bar = self._progress_bar(split, len(items), " clips")
        for chunk, (identities, clips) in padded_batches(items, clips_per_batch):
            scene_batch = sample_clips(
                self.model,
                seed,
                identities,
                clips,
                anchor,
                extent,
                scene=config.scene,
                size=config.image_size,
                num_frames=frames,
                num_keyframes=config.num_keyframes,
                max_step_deg=config.max_step_deg,
            )
            images = list(self._render(scene_batch, len(chunk) * frames))
            for c, (identity, clip) in enumerate(chunk):
                clip_frames = images[c * frames : (c + 1) * frames]
                arrays = {k: np.stack([f[k] for f in clip_frames]) for k in clip_frames[0]}
                arrays["frames"] = arrays.pop("image")
                name = self.clip_key(names[identity], clip)
                yield (
                    name,
                    {
                        **arrays,
                        "identity_coeffs": arrays["identity_coeffs"][0],
                        "albedo_coeffs": arrays["albedo_coeffs"][0],
                        "identity": identity,
                        "identity_name": names[identity],
                        "clip_name": name,
                        "frame_paths": [f"{name}/{t:03d}" for t in range(frames)],
                        "frame_indices": np.arange(frames, dtype=np.int64),
                        "crop_transforms": crops,
                        "has_landmarks": np.ones((frames,), bool),
                        "model_fingerprint": self.fingerprint,
                    },
                )
            bar.set_postfix_str("", refresh=False)
            bar.update(len(chunk))
        bar.close()
