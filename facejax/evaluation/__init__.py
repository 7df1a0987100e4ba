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

Benchmark protocols (host-side numpy, float64):

* ``point_to_mesh``: exact point-to-triangle distance from points to a mesh surface.
* ``rigid_alignment``: landmark similarity (Umeyama) and ICP of a mesh onto scan points.
* ``now_protocol``: the NoW challenge's crop, alignment, scan-to-mesh errors and summary.
* ``micc_protocol``: MICC Florence per-subject RMSE and per-setting summary.
* ``aflw2000_protocol``: the AFLW2000-3D NME by yaw and the cumulative error distribution.
* ``video_verification``: YouTube Faces video-level verification.

Shape, landmark, pose and similarity functions are JAX (``jit``/``vmap``/``grad``, per-element
results: average them yourself); verification, identification and reports are host-side numpy
in float64. Definitions, and the published protocol each follows, are in
``docs/evaluation.md``. Verification pairs in folds and gallery / probe splits come from
``facejax.data.protocols``.
"""

from facejax.evaluation.aflw2000_protocol import aflw2000_nme, cumulative_error_distribution
from facejax.evaluation.consistency import identity_consistency
from facejax.evaluation.identification import (
    cmc_curve,
    identification_metrics,
    identification_ranks,
    rank_k_accuracy,
)
from facejax.evaluation.landmark_metrics import landmark_nme, landmark_normalizer, nme_by_yaw
from facejax.evaluation.micc_protocol import micc_rmse, micc_summary
from facejax.evaluation.now_protocol import (
    now_align,
    now_crop,
    now_face_sphere,
    now_scan_to_mesh_errors,
    now_summary,
)
from facejax.evaluation.point_to_mesh import closest_point_on_triangle, point_to_mesh_distances
from facejax.evaluation.pose_metrics import PoseError, pose_error_degrees
from facejax.evaluation.report import (
    ablation_runs,
    format_table,
    read_metrics,
    to_json,
    write_metrics,
)
from facejax.evaluation.rigid_alignment import (
    apply_similarity,
    icp_to_mesh,
    similarity_from_landmarks,
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
from facejax.evaluation.video_verification import video_features, ytf_verification

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
    # benchmark protocols
    "closest_point_on_triangle",
    "point_to_mesh_distances",
    "apply_similarity",
    "icp_to_mesh",
    "similarity_from_landmarks",
    "now_align",
    "now_crop",
    "now_face_sphere",
    "now_scan_to_mesh_errors",
    "now_summary",
    "micc_rmse",
    "micc_summary",
    "aflw2000_nme",
    "cumulative_error_distribution",
    "video_features",
    "ytf_verification",
    # reports
    "ablation_runs",
    "format_table",
    "read_metrics",
    "to_json",
    "write_metrics",
]
