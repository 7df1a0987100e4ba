"""Evaluation: 3D shape, landmark and pose errors, face verification and identification, reports.

* ``shape_metrics``: per-vertex RMSE (mm) after similarity / rigid alignment.
* ``landmark_metrics``: 68-landmark NME (AFLW2000-3D box normaliser, inter-ocular,
  inter-pupil) and the AFLW2000-3D breakdown by yaw.
* ``pose_metrics``: head-pose errors in degrees (per Euler angle, geodesic).
* ``similarity``: cosine similarity of recognition features.
* ``verification``: LFW 10-fold accuracy, ROC, AUC, EER, TAR at FAR.
* ``identification``: closed-set rank-k accuracy and CMC.
* ``consistency``: identity consistency, the spread of one person's reconstructed identity
  shapes against the spread between people (overall and by yaw difference).
* ``report``: ``metrics.json`` and markdown tables (mean ± std over seeds).

Shape, landmark, pose and similarity functions are JAX (``jit``/``vmap``/``grad``, per-element
results: average them yourself); verification, identification and reports are host-side numpy
in float64. Definitions, and the published protocol each follows, are in
``docs/evaluation.md``. Verification pairs in folds and gallery / probe splits come from
``facejax.data.protocols``.
"""

from facejax.evaluation.consistency import identity_consistency
from facejax.evaluation.identification import (
    cmc_curve,
    identification_metrics,
    identification_ranks,
    rank_k_accuracy,
)
from facejax.evaluation.landmark_metrics import landmark_nme, landmark_normalizer, nme_by_yaw
from facejax.evaluation.pose_metrics import PoseError, pose_error_degrees
from facejax.evaluation.report import (
    ablation_runs,
    format_table,
    read_metrics,
    to_json,
    write_metrics,
)
from facejax.evaluation.shape_metrics import aligned_vertex_errors, vertex_rmse
from facejax.evaluation.similarity import cosine_similarity
from facejax.evaluation.verification import (
    best_threshold,
    equal_error_rate,
    kfold_accuracy,
    roc_auc,
    roc_curve,
    tar_at_far,
    verification_metrics,
)

__all__ = [
    # shape
    "aligned_vertex_errors",
    "vertex_rmse",
    # landmarks
    "landmark_nme",
    "landmark_normalizer",
    "nme_by_yaw",
    # pose
    "PoseError",
    "pose_error_degrees",
    # recognition
    "cosine_similarity",
    "best_threshold",
    "equal_error_rate",
    "kfold_accuracy",
    "roc_auc",
    "roc_curve",
    "tar_at_far",
    "verification_metrics",
    "identity_consistency",
    "cmc_curve",
    "identification_metrics",
    "identification_ranks",
    "rank_k_accuracy",
    # reports
    "ablation_runs",
    "format_table",
    "read_metrics",
    "to_json",
    "write_metrics",
]
