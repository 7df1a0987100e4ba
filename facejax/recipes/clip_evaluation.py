"""A reconstruction predictor on the frames of held-out people's clips, beside baselines.

Any predictor of face codes can be scored here (the cycle recipe's network, a landmark fit):
it maps uint8 frames to shapes, landmarks and pose. Always: landmark NME on the frames with
landmarks. Where the clips carry the synthetic 3D truth (``facejax_synthetic_clips``, read
only here, never in training): identity and full shape RMSE with the mean face beside them,
NME by ground-truth yaw bin, pose error in degrees, the pose error and identity RMSE of a
landmark-only fit of the same frames, and the pose/expression leakage of
:mod:`facejax.recipes.cycle_leakage`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, fitting, morphable
from facejax.data.fixed_batches import map_fixed_batches
from facejax.evaluation import baselines
from facejax.recipes import cycle_leakage, datasets

# Per clip; the 3D truth below is read when the clips have it.
EVAL_FEATURES = ("frames", "landmarks", "has_landmarks", "identity")
TRUTH_EVAL_FEATURES = cycle_leakage.TRUTH_FEATURES + ("landmark_visibility",)
# The person's, stored once per clip.
PER_CLIP_TRUTH = ("identity_coeffs", "albedo_coeffs")


def read_clips(source) -> dict:
    """Every clip of ``source`` as arrays ``[C, T, ...]`` (per person ``[C, ...]``): the
    features the evaluation reads, with the synthetic truth when the clips carry it."""
    has_truth = all(name in source[0] for name in TRUTH_EVAL_FEATURES)
    return datasets.read_split(source, EVAL_FEATURES + (TRUTH_EVAL_FEATURES if has_truth else ()))


def frames_of_clips(clips: dict) -> dict:
    """Per-clip arrays ``[C, T, ...]`` (per-person ones ``[C, ...]``) to per-frame ones
    ``[C * T, ...]``, clip after clip."""
    num_clips, num_frames = clips["frames"].shape[:2]
    out = {}
    for name, value in clips.items():
        if name in PER_CLIP_TRUTH or name == "identity":
            out[name] = np.repeat(value, num_frames, axis=0)
        else:
            out[name] = value.reshape(num_clips * num_frames, *value.shape[2:])
    return out


def evaluate_clips(
    predict: Callable[[np.ndarray], dict],
    model3d,
    source,
    mean_identity,
    *,
    batch_size: int,
    leakage_pairs: int,
    landmark_fit_baseline: bool,
) -> dict[str, Any]:
    """Metrics of every frame of every clip of ``source`` (module docstring).

    Args:
      predict: uint8 frames ``[B, S, S, 3]`` -> ``{"identity_shape", "shape": [B, V, 3] mm,
        "landmarks_2d": [B, 68, 2] px, "angles": [B, 3] rad ("xyz"), "rotation": [B, 3, 3],
        "expression": [B, Ke]}`` (arrays).
      model3d: the morphable model of the predictions and of the truth.
      source: random-access clips (a test split).
      mean_identity: ``[Ki]`` the training people's mean identity (the mean-face baseline).
      batch_size: frames per call of ``predict`` (the last call padded).
      leakage_pairs: frames (rounded up to whole clips) the leakage is measured on.
      landmark_fit_baseline: also fit the frames' 2D landmarks alone and report its pose error
        and identity RMSE.

    Returns:
      ``{name: float or int}``: ``landmark_nme``, ``num_test_images``,
      ``num_test_identities``; with truth also ``{identity,shape}_rmse_{head,face}_{mm,
      mean_face_mm,ratio}``, ``landmark_nme_yaw_*``, ``pose_error_*_deg``,
      ``landmark_fit_pose_error_*_deg``, ``landmark_fit_identity_rmse_*`` and the leakage
      metrics.
    """
    clips = read_clips(source)
    has_truth = all(name in clips for name in TRUTH_EVAL_FEATURES)
    num_clips, num_frames = clips["frames"].shape[:2]
    data = frames_of_clips(clips)
    batch_size = min(batch_size, len(data["frames"]))
    pred = jax.tree.map(np.asarray, map_fixed_batches(predict, data["frames"], batch_size))
    visibility = data["has_landmarks"][:, None] & np.ones((1, 68), bool)
    if has_truth:
        visibility = visibility & data["landmark_visibility"]
    nme = np.asarray(
        evaluation.landmark_nme(pred["landmarks_2d"], data["landmarks"], visibility=visibility)
    )
    valid = np.isfinite(nme)
    metrics: dict[str, Any] = {"landmark_nme": float(np.mean(nme[valid]))}
    metrics["num_test_images"] = len(data["frames"])
    metrics["num_test_identities"] = len(np.unique(data["identity"]))
    if not has_truth:
        return metrics

    neutral = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))(
        model3d, jnp.asarray(data["identity_coeffs"])
    )
    full = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0, 0)))(
        model3d, jnp.asarray(data["identity_coeffs"]), jnp.asarray(data["expression_coeffs"])
    )
    mean_face = morphable.shape(model3d, jnp.asarray(mean_identity))
    regions = baselines.shape_regions(model3d)
    metrics.update(
        baselines.shape_rmse_with_baseline(
            "identity", pred["identity_shape"], neutral, mean_face, regions
        )
    )
    metrics.update(
        baselines.shape_rmse_with_baseline("shape", pred["shape"], full, mean_face, regions)
    )
    yaw = np.rad2deg(data["pose"][:, 1])
    for key, value in evaluation.nme_by_yaw(nme[valid], yaw[valid]).items():
        metrics[f"landmark_nme_{key}"] = value
    metrics.update(_pose_error("pose_error", pred["angles"], data["pose"]))
    if landmark_fit_baseline:
        metrics.update(_landmark_fit_baseline(model3d, data, neutral, mean_face, regions))
    count = min(int(leakage_pairs), num_clips * num_frames)
    keep = -(-count // num_frames) * num_frames  # whole clips: every partner is kept
    partner = cycle_leakage.clip_partners(num_clips, num_frames)[:keep]
    truth = {name: data[name][:keep] for name in cycle_leakage.TRUTH_FEATURES}
    metrics.update(
        cycle_leakage.leakage_metrics(
            predict, model3d, truth, data["frames"][:keep], partner, batch_size=batch_size
        )
    )
    return metrics


def _pose_error(prefix: str, angles, truth) -> dict[str, float]:
    errors = evaluation.pose_error_degrees(jnp.asarray(angles), jnp.asarray(truth))
    return {
        f"{prefix}_{key}_deg": float(np.mean(np.asarray(value)))
        for key, value in errors._asdict().items()
    }


def _landmark_fit_baseline(model3d, data, neutral, mean_face, regions) -> dict[str, float]:
    """What the frames' 2D landmarks alone give, fitted (``facejax.fitting.fit_landmarks``,
    default camera) frame by frame: ``landmark_fit_pose_error_{pitch,yaw,roll,geodesic}_deg``
    and ``landmark_fit_identity_rmse_{head,face}_{mm,mean_face_mm,ratio}``. The fit needs the
    landmarks at test time, the network does not."""
    size = data["frames"].shape[1]
    weights = np.broadcast_to(data["has_landmarks"][:, None], data["landmarks"].shape[:2])
    fit = fitting.fit_landmarks(
        model3d,
        jnp.asarray(data["landmarks"]),
        jnp.asarray(weights, jnp.float32),
        image_size=(size, size),
    )
    fitted = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))(model3d, fit.params.identity)
    metrics = _pose_error("landmark_fit_pose_error", fit.params.rotation, data["pose"])
    identity = baselines.shape_rmse_with_baseline("identity", fitted, neutral, mean_face, regions)
    metrics.update({f"landmark_fit_{key}": value for key, value in identity.items()})
    return metrics
