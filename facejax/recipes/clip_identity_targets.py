"""Identity targets of training clips, fitted from their 2D landmarks alone.

The cycle recipe's network reads a person's identity from images and 2D landmarks, and in short
training it barely does (experiments/cycle/README.md: 0.94 of the mean face's error after 6,000
steps). The 2D landmarks of a clip's frames, fitted jointly (one identity, a pose and an
expression per frame, ``facejax.fitting.fit_joint``), hold much more of it: 0.39 of the mean
face's error on the ``small_frontal`` clips' held-out people. As Liu et al. train on 3DMM fits of
several photos of one person, the recipe can pull the identity branch towards its clip's fitted
identity (``loss.w_fitted_identity``). The fit reads nothing but the landmarks and whether a frame
has them: no 3D ground truth.

* :func:`fit_clip_identities`: the fit, pure arrays in and out;
* :func:`read_clip_landmarks`: the landmarks of every clip of a source (padded with missing
  frames to the longest clip);
* :func:`cached_clip_identities`: both, cached in a folder (the run's) under a name that is a
  hash of the landmarks and the fit's settings, written whole; a resumed run reads it back;
* :func:`true_clip_identities`: the clips' 3D ground-truth identities in the same form, for the
  diagnostic of how far the fit's error limits training (the recipe's
  ``loss.identity_targets = "truth"``; never the method);
* :class:`ClipTargetPairs`: frame pairs (``facejax.data.pipeline.frame_pair_source``) with their
  clip's target attached (:data:`FEATURES`).
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

# What ClipTargetPairs adds to a frame pair.
FEATURES = ("fitted_identity", "fitted_identity_valid")


class ClipIdentities(NamedTuple):
    """Fitted identities of ``C`` clips.

    Attributes:
      identity: ``[C, K]`` float32 identity coefficients (standard deviations); 0 where not valid.
      valid: ``[C]`` bool: the fit is finite and its mean landmark error at most the limit.
      landmark_error: ``[C]`` float32 mean landmark error of the fit over the clip's frames,
        pixels (NaN for a clip without landmarks).
    """

    identity: np.ndarray
    valid: np.ndarray
    landmark_error: np.ndarray


def fit_clip_identities(
    model3d,
    landmarks,
    has_landmarks,
    image_size: int,
    *,
    clips_per_batch: int = 64,
    max_landmark_error: float = 0.05,
    config: fitting.FitConfig | None = None,
) -> ClipIdentities:
    """One identity per clip, fitted jointly to the clip's frames' 2D landmarks.

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
      :class:`ClipIdentities`.
    """
    landmarks = np.asarray(landmarks, np.float32)
    has = np.asarray(has_landmarks, bool)
    if landmarks.ndim != 4 or landmarks.shape[-1] != 2 or has.shape != landmarks.shape[:2]:
        raise ValueError(
            "fit_clip_identities: need landmarks [C, T, L, 2] and has_landmarks [C, T], got "
            f"{landmarks.shape} and {has.shape}"
        )
    config = fitting.FitConfig() if config is None else config
    weights = has[..., None] & np.all(np.isfinite(landmarks), axis=-1)
    landmarks = np.where(weights[..., None], landmarks, 0.0)
    num_clips = len(landmarks)
    identity = np.zeros((num_clips, model3d.num_identity), np.float32)
    error = np.full((num_clips,), np.nan, np.float32)

    for start in range(0, num_clips, clips_per_batch):
        stop = min(start + clips_per_batch, num_clips)
        pad = clips_per_batch - (stop - start)
        points = np.pad(landmarks[start:stop], ((0, pad), (0, 0), (0, 0), (0, 0)))
        w = np.pad(weights[start:stop], ((0, pad), (0, 0), (0, 0))).astype(np.float32)
        fitted, err = jax.device_get(_fit_batch(model3d, points, w, image_size, config))
        identity[start:stop], error[start:stop] = fitted[: stop - start], err[: stop - start]
    valid = (
        np.all(np.isfinite(identity), axis=-1)
        & np.isfinite(error)
        & (error <= max_landmark_error * image_size)
    )
    identity[~valid] = 0.0
    return ClipIdentities(identity, valid, error)


@functools.partial(jax.jit, static_argnames=("image_size", "config"))
def _fit_batch(model3d, points, weights, image_size: int, config: fitting.FitConfig):
    """``(identity [P, K], mean landmark error [P] px)`` of a batch of clips, fitted jointly;
    compiled once per model structure, batch shape, image size and config (not per call)."""
    result = fitting.fit_joint(
        model3d, points, weights, image_size=(image_size, image_size), config=config
    )
    has = weights.any(-1)
    error = jnp.nanmean(jnp.where(has, result.landmark_error, jnp.nan), axis=-1)
    return result.params.identity[:, 0], error


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


def cached_clip_identities(
    model3d, source, image_size: int, folder: str, *, model_name: str, **fit_kwargs
) -> ClipIdentities:
    """:func:`fit_clip_identities` of :func:`read_clip_landmarks` of ``source``, kept in
    ``folder/clip_identity_targets_<hash>.npz`` (the hash of the landmarks, the model's name, the
    image size and the fit's settings): read back when it is there, else fitted and written
    whole."""
    landmarks, has = read_clip_landmarks(source)
    digest = hashlib.sha256(landmarks.tobytes())
    digest.update(has.tobytes())
    digest.update(repr((model_name, int(image_size), sorted(fit_kwargs.items()))).encode())
    path = os.path.join(folder, f"clip_identity_targets_{digest.hexdigest()[:16]}.npz")
    if os.path.exists(path):
        with np.load(path) as data:
            return ClipIdentities(data["identity"], data["valid"], data["landmark_error"])
    targets = fit_clip_identities(model3d, landmarks, has, image_size, **fit_kwargs)
    os.makedirs(folder, exist_ok=True)
    with atomic_write(path, "wb") as f:
        np.savez(f, **targets._asdict())
    _log.info(
        "clip identity targets: %d of %d clips fitted within the limit, median landmark error "
        "%.2f px; written to %s",
        int(targets.valid.sum()), len(targets.valid),
        float(np.nanmedian(targets.landmark_error)), path,
    )  # fmt: skip
    return targets


def true_clip_identities(source) -> ClipIdentities:
    """The 3D ground truth ``identity_coeffs`` of every clip of ``source``, as
    :class:`ClipIdentities` (all valid, landmark error 0): what a perfect fit would give.

    A diagnostic, not the method: with these as targets, 3D ground truth enters the loss. Training
    with them against training with :func:`fit_clip_identities` measures how much of what the
    network misses is the fit's error (experiments/cycle/README.md)."""
    if len(source) == 0:
        raise ValueError("true_clip_identities: the clip source is empty")
    identity = []
    for i in range(len(source)):
        clip = source[i]
        if "identity_coeffs" not in clip:
            raise ValueError(
                f"true_clip_identities: clip {i} has no 'identity_coeffs' (3D ground truth); "
                "only synthetic clips carry it"
            )
        identity.append(np.asarray(clip["identity_coeffs"], np.float32).reshape(-1))
    identity = np.stack(identity)
    if not np.all(np.isfinite(identity)):
        raise ValueError("true_clip_identities: non-finite identity_coeffs in the source")
    return ClipIdentities(
        identity, np.ones(len(identity), bool), np.zeros(len(identity), np.float32)
    )


class ClipTargetPairs:
    """Frame pairs with their clip's fitted identity: ``pairs[i]`` plus ``fitted_identity``
    (``[K]`` float32) and ``fitted_identity_valid`` (bool) of the clip ``pairs[i]["clip_index"]``.
    """

    def __init__(self, pairs, targets: ClipIdentities):
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
        pair["fitted_identity"] = self.targets.identity[clip]
        pair["fitted_identity_valid"] = np.bool_(self.targets.valid[clip])
        return pair
