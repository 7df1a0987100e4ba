"""Targets of training clips fitted from their 2D landmarks alone: an identity per clip, an
expression and a pose per frame.

The cycle recipe's network reads a person's identity from images and 2D landmarks, and in short
training it barely does (experiments/cycle/README.md: 0.94 of the mean face's error after 6,000
steps). The 2D landmarks of a clip's frames, fitted jointly (one identity, a pose and an
expression per frame, ``facejax.fitting.fit_joint``), hold much more of it: 0.39 of the mean
face's error on the ``small_frontal`` clips' held-out people. As Liu et al. train on 3DMM fits of
several photos of one person, the recipe can pull the identity branch towards its clip's fitted
identity (``loss.w_fitted_identity``), and the expression and pose branches towards each frame's
fitted expression and pose (``loss.w_fitted_expression``, ``loss.w_fitted_pose``). The fit reads
nothing but the landmarks and whether a frame has them: no 3D ground truth.

* :func:`fit_clip_targets`: the fit, pure arrays in and out;
* :func:`read_clip_landmarks`: the landmarks of every clip of a source (padded with missing
  frames to the longest clip);
* :func:`cached_clip_targets`: both, cached in a folder (the run's) under a name that is a
  hash of the landmarks and the fit's settings, written whole; a resumed run reads it back;
* :func:`true_clip_targets`: the clips' 3D ground truth in the same form, for the diagnostic of
  how far the fit's error limits training (the recipe's ``loss.targets = "truth"``; never the
  method);
* :class:`ClipTargetPairs`: frame pairs (``facejax.data.pipeline.frame_pair_source``) with their
  clip's and frames' targets attached (:data:`FEATURES`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from facejax import fitting
from facejax.formats.atomic_files import atomic_write

_log = logging.getLogger(__name__)

# What ClipTargetPairs adds to a frame pair: the clip's identity and whether it is valid, and
# per frame (``<name>_a``, ``<name>_b``: the views of augmentation) its expression, its pose
# angles and whether they are valid.
FRAME_FEATURES = ("fitted_expression", "fitted_angles", "fitted_frame_valid")
FEATURES = ("fitted_identity", "fitted_identity_valid") + tuple(
    f"{name}_{side}" for name in FRAME_FEATURES for side in ("a", "b")
)
# Bumped when what the cache holds changes, so that an older file is not read as a newer one.
_CACHE_FORMAT = 2


class ClipTargets(NamedTuple):
    """Fitted targets of ``C`` clips of at most ``T`` frames.

    Attributes:
      identity: ``[C, K]`` float32 identity coefficients (standard deviations); 0 where not valid.
      valid: ``[C]`` bool: the fit is finite and its mean landmark error at most the limit.
      landmark_error: ``[C]`` float32 mean landmark error of the fit over the clip's frames,
        pixels (NaN for a clip without landmarks).
      expression: ``[C, T, E]`` float32 each frame's expression coefficients (standard
        deviations); 0 where the frame is not valid.
      angles: ``[C, T, 3]`` float32 each frame's rotation, Euler ``(pitch, yaw, roll)`` radians,
        convention ``"xyz"`` (that of ``facejax.fitting.FitResult`` and of the networks' pose);
        0 where the frame is not valid.
      frame_valid: ``[C, T]`` bool: the clip is valid, the frame has landmarks and its own mean
        landmark error is at most the limit.
    """

    identity: np.ndarray
    valid: np.ndarray
    landmark_error: np.ndarray
    expression: np.ndarray
    angles: np.ndarray
    frame_valid: np.ndarray


def fit_clip_targets(
    model3d,
    landmarks,
    has_landmarks,
    image_size: int,
    *,
    clips_per_batch: int = 64,
    max_landmark_error: float = 0.05,
    config: fitting.FitConfig | None = None,
) -> ClipTargets:
    """One identity per clip and an expression and a pose per frame, fitted jointly to the clip's
    frames' 2D landmarks.

    Args:
      model3d: the morphable model (with its landmark definition).
      landmarks: ``[C, T, L, 2]`` pixels of the ``S x S`` frames (NaN: missing).
      has_landmarks: ``[C, T]`` whether a frame has landmarks (``False``: padding or none).
      image_size: the frames' side ``S``, for the default camera (``fitting.image_camera``).
      clips_per_batch: clips per compiled fit (the last batch is padded; one compile serves all).
      max_landmark_error: a fit whose mean landmark error exceeds this fraction of the image side
        is not valid.
      config: the fit's settings (default ``fitting.FitConfig()``).

    Returns:
      :class:`ClipTargets`.
    """
    landmarks = np.asarray(landmarks, np.float32)
    has = np.asarray(has_landmarks, bool)
    if landmarks.ndim != 4 or landmarks.shape[-1] != 2 or has.shape != landmarks.shape[:2]:
        raise ValueError(
            "fit_clip_targets: need landmarks [C, T, L, 2] and has_landmarks [C, T], got "
            f"{landmarks.shape} and {has.shape}"
        )
    config = fitting.FitConfig() if config is None else config
    weights = has[..., None] & np.all(np.isfinite(landmarks), axis=-1)
    landmarks = np.where(weights[..., None], landmarks, 0.0)
    num_clips, num_frames = landmarks.shape[:2]
    identity = np.zeros((num_clips, model3d.num_identity), np.float32)
    error = np.full((num_clips,), np.nan, np.float32)
    expression = np.zeros((num_clips, num_frames, model3d.num_expression), np.float32)
    angles = np.zeros((num_clips, num_frames, 3), np.float32)
    frame_error = np.full((num_clips, num_frames), np.nan, np.float32)

    for start in range(0, num_clips, clips_per_batch):
        stop = min(start + clips_per_batch, num_clips)
        pad = clips_per_batch - (stop - start)
        points = np.pad(landmarks[start:stop], ((0, pad), (0, 0), (0, 0), (0, 0)))
        w = np.pad(weights[start:stop], ((0, pad), (0, 0), (0, 0))).astype(np.float32)
        fitted = jax.device_get(_fit_batch(model3d, points, w, image_size, config))
        for out, value in zip(
            (identity, error, expression, angles, frame_error), fitted, strict=True
        ):
            out[start:stop] = value[: stop - start]
    limit = max_landmark_error * image_size
    valid = np.all(np.isfinite(identity), axis=-1) & np.isfinite(error) & (error <= limit)
    frame_valid = (
        valid[:, None]
        & np.any(weights, axis=-1)
        & np.isfinite(frame_error)
        & (frame_error <= limit)
        & np.all(np.isfinite(expression), axis=-1)
        & np.all(np.isfinite(angles), axis=-1)
    )
    identity[~valid] = 0.0
    expression[~frame_valid] = 0.0
    angles[~frame_valid] = 0.0
    return ClipTargets(identity, valid, error, expression, angles, frame_valid)


@functools.partial(jax.jit, static_argnames=("image_size", "config"))
def _fit_batch(model3d, points, weights, image_size: int, config: fitting.FitConfig):
    """``(identity [P, K], mean landmark error [P] px, expression [P, T, E], angles [P, T, 3],
    each frame's mean landmark error [P, T] px)`` of a batch of clips, fitted jointly; compiled
    once per model structure, batch shape, image size and config (not per call)."""
    result = fitting.fit_joint(
        model3d, points, weights, image_size=(image_size, image_size), config=config
    )
    frame_error = jnp.where(weights.any(-1), result.landmark_error, jnp.nan)
    error = jnp.nanmean(frame_error, axis=-1)
    params = result.params
    return params.identity[:, 0], error, params.expression, params.rotation, frame_error


def read_clip_landmarks(source) -> tuple[np.ndarray, np.ndarray]:
    """``(landmarks [C, T, L, 2], has_landmarks [C, T])`` of every clip of ``source``, in its
    order; clips shorter than the longest are padded with frames without landmarks. Only the
    fields ``landmarks`` and ``has_landmarks`` are read."""
    points, has = [], []
    for i in range(len(source)):
        clip = source[i]
        points.append(np.asarray(clip["landmarks"], np.float32))
        has.append(np.asarray(clip["has_landmarks"], bool).reshape(-1))
    if not points:
        raise ValueError("read_clip_landmarks: the clip source is empty")
    longest = max(len(p) for p in points)
    out = np.full((len(points), longest) + points[0].shape[1:], np.nan, np.float32)
    flags = np.zeros((len(points), longest), bool)
    for i, (p, h) in enumerate(zip(points, has, strict=True)):
        out[i, : len(p)], flags[i, : len(h)] = p, h
    return out, flags


def cached_clip_targets(
    model3d, source, image_size: int, folder: str, *, model_name: str, **fit_kwargs
) -> ClipTargets:
    """:func:`fit_clip_targets` of :func:`read_clip_landmarks` of ``source``, kept in
    ``folder/clip_fit_targets_<hash>.npz`` (the hash of the landmarks, the model's name, the
    image size, the fit's settings and the file's format): read back when it is there, else
    fitted and written whole."""
    landmarks, has = read_clip_landmarks(source)
    digest = hashlib.sha256(landmarks.tobytes())
    digest.update(has.tobytes())
    key = (_CACHE_FORMAT, model_name, int(image_size), sorted(fit_kwargs.items()))
    digest.update(repr(key).encode())
    path = os.path.join(folder, f"clip_fit_targets_{digest.hexdigest()[:16]}.npz")
    if os.path.exists(path):
        with np.load(path) as data:
            return ClipTargets(**{name: data[name] for name in ClipTargets._fields})
    targets = fit_clip_targets(model3d, landmarks, has, image_size, **fit_kwargs)
    os.makedirs(folder, exist_ok=True)
    with atomic_write(path, "wb") as f:
        np.savez(f, **targets._asdict())
    _log.info(
        "clip fit targets: %d of %d clips fitted within the limit (%d of %d frames), median "
        "landmark error %.2f px; written to %s",
        int(targets.valid.sum()), len(targets.valid), int(targets.frame_valid.sum()),
        int(has.sum()), float(np.nanmedian(targets.landmark_error)), path,
    )  # fmt: skip
    return targets


def true_clip_targets(source) -> ClipTargets:
    """The 3D ground truth of every clip of ``source`` (``identity_coeffs``, and per frame
    ``expression_coeffs`` and ``pose``), as :class:`ClipTargets` (all valid, landmark error 0;
    clips shorter than the longest padded with frames that are not valid): what a perfect fit
    would give.

    A diagnostic, not the method: with these as targets, 3D ground truth enters the loss. Training
    with them against training with :func:`fit_clip_targets` measures how much of what the
    network misses is the fit's error (experiments/cycle/README.md)."""
    if len(source) == 0:
        raise ValueError("true_clip_targets: the clip source is empty")
    fields = {"identity_coeffs": [], "expression_coeffs": [], "pose": []}
    for i in range(len(source)):
        clip = source[i]
        for name, values in fields.items():
            if name not in clip:
                raise ValueError(
                    f"true_clip_targets: clip {i} has no {name!r} (3D ground truth); only "
                    "synthetic clips carry it"
                )
            values.append(np.asarray(clip[name], np.float32))
    identity = np.stack([v.reshape(-1) for v in fields["identity_coeffs"]])
    frames = [len(v) for v in fields["expression_coeffs"]]
    if frames != [len(v) for v in fields["pose"]]:
        raise ValueError("true_clip_targets: a clip's expression_coeffs and pose differ in frames")
    num_frames = max(frames)
    expression = np.zeros((len(identity), num_frames, fields["expression_coeffs"][0].shape[-1]))
    angles = np.zeros((len(identity), num_frames, 3))
    frame_valid = np.zeros((len(identity), num_frames), bool)
    for i, (e, a) in enumerate(zip(fields["expression_coeffs"], fields["pose"], strict=True)):
        expression[i, : len(e)], angles[i, : len(a)], frame_valid[i, : len(e)] = e, a, True
    if not all(np.all(np.isfinite(x)) for x in (identity, expression, angles)):
        raise ValueError("true_clip_targets: non-finite ground truth in the source")
    return ClipTargets(
        identity,
        np.ones(len(identity), bool),
        np.zeros(len(identity), np.float32),
        expression.astype(np.float32),
        angles.astype(np.float32),
        frame_valid,
    )


class ClipTargetPairs:
    """Frame pairs with their clip's and frames' fitted targets: ``pairs[i]`` plus
    :data:`FEATURES`: ``fitted_identity`` (``[K]`` float32) and ``fitted_identity_valid`` (bool)
    of the clip ``pairs[i]["clip_index"]``, and ``fitted_expression_a/_b`` (``[E]``),
    ``fitted_angles_a/_b`` (``[3]`` radians) and ``fitted_frame_valid_a/_b`` of its frames at
    ``pairs[i]["position_a/_b"]``.
    """

    def __init__(self, pairs, targets: ClipTargets):
        if len(targets.identity) != len(pairs.clip_source):
            raise ValueError(
                f"ClipTargetPairs: {len(targets.identity)} targets for "
                f"{len(pairs.clip_source)} clips"
            )
        self.pairs, self.targets = pairs, targets

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> dict:
        pair = self.pairs[i]
        clip = int(pair["clip_index"])
        targets = self.targets
        pair["fitted_identity"] = targets.identity[clip]
        pair["fitted_identity_valid"] = np.bool_(targets.valid[clip])
        for side in ("a", "b"):
            t = int(pair[f"position_{side}"])
            if t >= targets.frame_valid.shape[1]:
                raise ValueError(
                    f"ClipTargetPairs: frame {t} of clip {clip} has no target (the targets have "
                    f"{targets.frame_valid.shape[1]} frames)"
                )
            pair[f"fitted_expression_{side}"] = targets.expression[clip, t]
            pair[f"fitted_angles_{side}"] = targets.angles[clip, t]
            pair[f"fitted_frame_valid_{side}"] = np.bool_(targets.frame_valid[clip, t])
        return pair
