"""The ablation of experiments/siamese/README.md: with and without the contrastive loss, with
and without the identity (classification) loss, over several seeds.

    python experiments/siamese/ablation.py --workdir runs/siamese_ablation --seeds 0 1 2

Each run is ``facejax train --config experiments/siamese/config.py:small`` with the variant's
overrides (a finished run is skipped, a stopped one resumes); the script then prints the
markdown table of the mean and standard deviation over seeds of every metric.
"""

from __future__ import annotations

from pathlib import Path

from facejax.cli.ablation import run_ablation

CONFIG = str(Path(__file__).with_name("config.py")) + ":small"

VARIANTS = {
    "contrastive + identity": [],
    "identity only": ["loss.w_contrastive=0"],
    "contrastive only": ["loss.w_identification=0"],
    "neither": ["loss.w_contrastive=0", "loss.w_identification=0"],
}
COLUMNS = (
    ("identity_consistency_ratio", "consistency ratio"),
    ("identity_consistency_ratio_yaw_0_15", "ratio, yaw diff. <15"),
    ("identity_consistency_ratio_yaw_45_180", "ratio, yaw diff. >=45"),
    ("identity_consistency_between_mm", "between (mm)"),
    ("identity_rmse_face_mm", "identity RMSE face (mm)"),
    ("identity_rmse_face_mean_face_mm", "mean face (mm)"),
    ("identity_rmse_face_ratio", "ratio"),
    ("shape_rmse_face_ratio", "shape ratio"),
    ("landmark_nme_yaw_0_30", "NME 0-30"),
    ("landmark_nme_yaw_30_60", "NME 30-60"),
    ("landmark_nme", "NME"),
    ("pose_error_geodesic_degrees", "pose err. (deg)"),
    ("pose_error_geodesic_frontal_degrees", "frontal (deg)"),
    ("verification_accuracy", "verif. acc."),
    ("verification_auc", "AUC (chance 0.5)"),
    ("verification_tar_at_far_1e-2", "TAR@1e-2"),
    ("rank_1", "rank-1"),
    ("rank_1_chance", "rank-1 chance"),
)


def main() -> None:
    run_ablation(CONFIG, VARIANTS, COLUMNS, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
