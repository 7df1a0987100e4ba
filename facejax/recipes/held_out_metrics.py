"""Metrics of a joint reconstruction + recognition model on the held-out people of a dataset.

Every number stands beside what a trivial predictor scores on the same images
(``facejax.evaluation.baselines``): shape RMSE beside the training people's mean face,
verification and rank-1 beside chance. The recipes predict; the functions here score what they
predicted against the test split's arrays (:func:`facejax.recipes.datasets.read_split`), under
flat metric names that tables can address (no dots).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, geometry, morphable
from facejax.data import protocols
from facejax.evaluation import baselines
from facejax.recipes.joint_losses import target_shapes


def image_keys(data) -> list[str]:
    """The split's image paths as ``str`` (the keys its protocols name images by)."""
    return [k.decode() if isinstance(k, bytes) else str(k) for k in data["image_path"]]


def reconstruction_metrics(
    model3d, identity_shape, shape, landmarks, data, mean_identity
) -> dict[str, float]:
    """Shape RMSE beside the mean face, and landmark NME.

    Args:
      model3d: the morphable model of the dataset's coefficients.
      identity_shape: ``[N, V, 3]`` predicted neutral shapes (mm).
      shape: ``[N, V, 3]`` predicted shapes with expression (mm).
      landmarks: ``[N, 68, 2]`` predicted 2D landmarks (pixels).
      data: the split's arrays, with ``identity_coeffs``, ``expression_coeffs``,
        ``landmarks`` and ``landmark_visibility``.
      mean_identity: ``[Ki]`` the training people's mean identity (the mean face).

    Returns:
      ``{identity,shape}_rmse_{head,face}_{mm,mean_face_mm,ratio}`` (after similarity
      alignment) and ``landmark_nme`` (box-normalised, visible landmarks).
    """
    neutral, full = jax.jit(target_shapes)(
        model3d, jnp.asarray(data["identity_coeffs"]), jnp.asarray(data["expression_coeffs"])
    )
    mean_face = morphable.shape(model3d, jnp.asarray(mean_identity))
    regions = baselines.shape_regions(model3d)
    metrics = {
        **baselines.shape_rmse_with_baseline(
            "identity", identity_shape, neutral, mean_face, regions
        ),
        **baselines.shape_rmse_with_baseline("shape", shape, full, mean_face, regions),
    }
    metrics["landmark_nme"] = float(np.mean(landmark_nme_per_face(landmarks, data)))
    return metrics


def landmark_nme_per_face(landmarks, data) -> np.ndarray:
    """``[N]`` box-normalised NME of predicted ``landmarks`` ``[N, 68, 2]`` over the visible
    ground-truth landmarks of ``data``."""
    visibility = data["landmark_visibility"].astype(np.float32)
    return np.asarray(evaluation.landmark_nme(landmarks, data["landmarks"], visibility=visibility))


def recognition_metrics(features, data, metadata) -> dict:
    """Verification (the dataset's 10-fold pairs) and rank-1 identification, beside chance.

    Args:
      features: ``[N, D]`` recognition features of the split's images, compared by cosine.
      data: the split's arrays, with ``image_path`` and ``identity``.
      metadata: the dataset's metadata, with ``verification_pairs`` and ``identification``.

    Returns:
      ``verification_{accuracy,accuracy_std,auc,eer,tar_at_far_1e-2,tar_at_far_1e-3}`` (a TAR
      the impostor pairs cannot resolve is None, with the reason in ``verification_notes``),
      ``verification_num_impostor_pairs``, ``rank_1``, the chance levels of
      :func:`facejax.evaluation.baselines.recognition_chance`, ``num_test_images`` and
      ``num_test_identities``.
    """
    keys = image_keys(data)
    pairs = protocols.VerificationPairs.from_records(metadata["verification_pairs"]["pairs"], keys)
    scores = np.asarray(
        evaluation.cosine_similarity(features[pairs.index_a], features[pairs.index_b])
    )
    verification = evaluation.verification_metrics(
        scores, pairs.same, pairs.fold, include_roc=False
    )
    metrics: dict = {}
    for name in ("accuracy", "accuracy_std", "auc", "eer"):
        metrics[f"verification_{name}"] = float(verification[name])
    # Keys without dots, so tables can address them as paths.
    metrics["verification_tar_at_far_1e-2"] = float(verification["tar_at_far_0.01"])
    metrics["verification_tar_at_far_1e-3"] = float(verification["tar_at_far_0.001"])
    metrics["verification_num_impostor_pairs"] = verification["num_impostor"]
    metrics["verification_notes"] = list(verification["notes"])
    split = protocols.GalleryProbe.from_records(metadata["identification"], keys)
    labels = data["identity"]
    ranks = evaluation.rank_k_accuracy(
        features[split.gallery], labels[split.gallery], features[split.probe], labels[split.probe],
        k=(1,),
    )  # fmt: skip
    metrics["rank_1"] = float(ranks["rank_1"])
    metrics.update(baselines.recognition_chance(len(np.unique(labels[split.gallery]))))
    metrics["num_test_images"] = len(keys)
    metrics["num_test_identities"] = len(np.unique(labels))
    return metrics


def landmark_nme_by_yaw(nme, yaw_radians) -> dict[str, float]:
    """``landmark_nme_yaw_{0_30,30_60,60_90}``, the mean of the three bins
    ``landmark_nme_yaw_balanced`` (AFLW2000-3D's "Mean") and the face counts
    ``landmark_nme_count_*``, from per-face NME ``[N]`` and the ground-truth yaw ``[N]`` in
    radians (:func:`facejax.evaluation.nme_by_yaw`; an empty bin gives NaN)."""
    by_yaw = evaluation.nme_by_yaw(nme, np.rad2deg(np.asarray(yaw_radians, np.float64)))
    by_yaw["yaw_balanced"] = by_yaw.pop("balanced")
    return {f"landmark_nme_{k}": v for k, v in by_yaw.items() if k != "all"}


def pose_error_metrics(
    pred_angles, true_angles, *, pred_convention: str = "xyz", true_convention: str = "xyz"
) -> dict[str, float]:
    """Mean head-pose errors in degrees beside a frontal face's.

    Args:
      pred_angles: ``[N, 3]`` predicted ``(pitch, yaw, roll)`` radians in ``pred_convention``.
      true_angles: ``[N, 3]`` ground truth in ``true_convention`` (a dataset's
        ``metadata["pose_convention"]``); the prediction is converted to it through its
        rotation matrix before the angles are compared
        (:func:`facejax.evaluation.pose_error_degrees`).

    Returns:
      ``pose_error_{pitch,yaw,roll,geodesic}_degrees`` and, as the baseline, the errors of
      predicting every face frontal (all angles 0): ``pose_error_*_frontal_degrees``.
    """
    pred = jnp.asarray(pred_angles, jnp.float32)
    true = jnp.asarray(true_angles, jnp.float32)
    if pred_convention != true_convention:
        pred = geometry.euler_from_rotation(
            geometry.rotation_from_euler(pred, pred_convention), true_convention
        )
    metrics = {}
    for suffix, prediction in (("", pred), ("_frontal", jnp.zeros_like(true))):
        errors = evaluation.pose_error_degrees(prediction, true, convention=true_convention)
        for name, value in errors._asdict().items():
            metrics[f"pose_error_{name}{suffix}_degrees"] = float(np.mean(np.asarray(value)))
    return metrics


def identity_consistency_metrics(model3d, identity_shape, data) -> dict[str, float]:
    """Identity consistency of predicted neutral shapes over the split's people
    (:func:`facejax.evaluation.identity_consistency` on the face region, each shape aligned
    onto the mean face by a similarity), under ``identity_consistency_*`` names.

    With the true ``pose`` in ``data``, the same-person pairs are also grouped by their yaw
    difference (``identity_consistency_ratio_yaw_45_180``, ...). Beside them,
    ``identity_consistency_between_true_mm``: the spread between people of the true neutral
    shapes (a prediction that collapses people towards the mean face has a smaller
    ``between``).

    Args:
      model3d: the morphable model (its face mask and mean shape).
      identity_shape: ``[N, V, 3]`` predicted neutral shapes (mm).
      data: the split's arrays with ``identity`` (and ``identity_coeffs`` for the true spread,
        ``pose`` for the yaw groups).
    """
    regions = baselines.shape_regions(model3d)
    weights = regions.get("face")
    reference = np.asarray(model3d.mean_shape)
    yaw = np.rad2deg(data["pose"][:, 1]) if "pose" in data else None
    consistency = evaluation.identity_consistency(
        identity_shape, data["identity"], weights=weights, yaw_degrees=yaw, reference=reference
    )
    metrics = {f"identity_consistency_{k}": v for k, v in consistency.items()}
    if "identity_coeffs" in data:
        true_shapes = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))(
            model3d, jnp.asarray(data["identity_coeffs"])
        )
        true = evaluation.identity_consistency(
            true_shapes, data["identity"], weights=weights, reference=reference
        )
        metrics["identity_consistency_between_true_mm"] = true["between_mm"]
    return metrics
