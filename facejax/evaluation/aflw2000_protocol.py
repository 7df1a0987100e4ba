"""The AFLW2000-3D landmark benchmark of 3DDFA (Zhu et al., "Face Alignment Across Large Poses:
A 3D Solution", CVPR 2016 / TPAMI 2019; ``benchmark_aflw2000.py`` of its code release), as
PRNet, 3DDFA-V2, SynergyNet and most later tables report it.

Per image: the 68 landmarks in the image plane (x, y), the mean Euclidean error over landmarks
divided by ``sqrt(w h)`` of the ground-truth landmarks' bounding box
(:func:`~facejax.evaluation.landmark_nme`, ``normalizer="box"``). Over images: the mean in
each absolute-yaw bin ``|yaw| <= 30``, ``30 < |yaw| <= 60``, ``|yaw| > 60`` degrees
(:func:`~facejax.evaluation.nme_by_yaw`), and the reported mean is the mean of the three bin
means (the script also prints their standard deviation). The yaw is the ground truth's, from
``Pose_Para`` (radians there: convert to degrees). Host-side numpy results.
"""

import numpy as np

from facejax.evaluation.landmark_metrics import YAW_BIN_NAMES, landmark_nme, nme_by_yaw

AFLW2000_PROTOCOL = (
    "AFLW2000-3D (3DDFA benchmark): 68-point 2D NME / sqrt(w*h) of the ground-truth landmark "
    "box; |yaw| bins [0,30], (30,60], (60,90+] degrees; mean = mean of the three bin means"
)


def aflw2000_nme(pred_landmarks, true_landmarks, yaw_degrees) -> dict:
    """The AFLW2000-3D NME: per image, per yaw bin, and the balanced mean.

    Args:
      pred_landmarks: ``[N, 68, 2]`` predicted landmarks in pixels (a third column, depth, is
        ignored: the protocol is 2D).
      true_landmarks: ``[N, 68, 2]`` ground truth (``pt3d_68``'s x, y), same shape.
      yaw_degrees: ``[N]`` ground-truth yaw in degrees (sign ignored).

    Returns:
      ``{"nme": [N] per image, "yaw_0_30", "yaw_30_60", "yaw_60_90": bin means, "mean": the
      mean of the three bin means (NaN if a bin is empty), "std": their standard deviation
      (ddof 0, as the 3DDFA script), "all": the plain mean over images, "count_0_30",
      "count_30_60", "count_60_90", "protocol"}``; NME as fractions (times 100 for percent).
    """
    pred = np.asarray(pred_landmarks, dtype=np.float64)
    true = np.asarray(true_landmarks, dtype=np.float64)
    for name, x in (("pred_landmarks", pred), ("true_landmarks", true)):
        if x.ndim != 3 or x.shape[1] != 68 or x.shape[2] not in (2, 3):
            raise ValueError(f"aflw2000_nme: {name} must have shape [N, 68, 2], got {x.shape}")
    if pred.shape[:2] != true.shape[:2]:
        raise ValueError(
            f"aflw2000_nme: pred_landmarks {pred.shape} and true_landmarks {true.shape} differ"
        )
    nme = np.asarray(landmark_nme(pred[..., :2], true[..., :2], normalizer="box"), np.float64)
    by_yaw = nme_by_yaw(nme, yaw_degrees)
    bins = [by_yaw[name] for name in YAW_BIN_NAMES]
    result = {"nme": nme}
    result.update({name: by_yaw[name] for name in YAW_BIN_NAMES})
    result["mean"] = by_yaw["balanced"]
    result["std"] = float(np.std(bins))
    result["all"] = by_yaw["all"]
    result.update({k: v for k, v in by_yaw.items() if k.startswith("count")})
    result["protocol"] = AFLW2000_PROTOCOL
    return result


def cumulative_error_distribution(errors, thresholds) -> np.ndarray:
    """The fraction of errors at or below each threshold (a CED curve's values).

    Args:
      errors: ``[N]`` per-image errors (e.g. NME), finite, ``N >= 1``.
      thresholds: ``[K]`` thresholds.

    Returns:
      ``[K]`` float64 fractions in ``[0, 1]``: ``mean(errors <= threshold_k)``.
    """
    errors = np.asarray(errors, dtype=np.float64)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if errors.ndim != 1 or errors.size == 0 or thresholds.ndim != 1:
        raise ValueError(
            f"cumulative_error_distribution: errors must be [N], N >= 1, and thresholds [K], got "
            f"{errors.shape} and {thresholds.shape}"
        )
    if not np.all(np.isfinite(errors)):
        raise ValueError("cumulative_error_distribution: errors contain NaN or infinite values")
    return np.searchsorted(np.sort(errors), thresholds, side="right") / errors.size
