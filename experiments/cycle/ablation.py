"""The ablation of experiments/cycle/README.md: no cycle, the pose cycle only, the expression
cycle only and both, over several seeds.

    python experiments/cycle/ablation.py --workdir runs/cycle_ablation --seeds 0 1 2

Each run is ``facejax train --config experiments/cycle/config.py:small`` with the variant's
overrides (a finished run is skipped, a stopped one resumes); the script then prints the
markdown table of the mean and standard deviation over seeds of every metric.
"""

from __future__ import annotations

from pathlib import Path

from facejax.cli.ablation import run_ablation

CONFIG = str(Path(__file__).with_name("config.py")) + ":small"

VARIANTS = {
    "both cycles": [],
    "no cycle": ["loss.pose_cycle=False", "loss.expression_cycle=False"],
    "pose cycle only": ["loss.expression_cycle=False"],
    "expression cycle only": ["loss.pose_cycle=False"],
}
COLUMNS = (
    ("identity_rmse_face_mm", "identity RMSE face (mm)"),
    ("identity_rmse_face_mean_face_mm", "mean face (mm)"),
    ("identity_rmse_face_ratio", "ratio"),
    ("landmark_fit_identity_rmse_face_ratio", "landmark fit ratio"),
    ("shape_rmse_face_ratio", "shape ratio"),
    ("landmark_nme_yaw_0_30", "NME 0-30"),
    ("landmark_nme_yaw_30_60", "NME 30-60"),
    ("landmark_nme", "NME"),
    ("pose_error_geodesic_deg", "pose err. (deg)"),
    ("landmark_fit_pose_error_geodesic_deg", "landmark fit (deg)"),
    ("leakage_expression_under_pose", "expr. leakage under pose"),
    ("response_expression_under_expression", "expr. response"),
    ("truth_expression_change", "expr. change (truth)"),
    ("leakage_pose_deg_under_expression", "pose leakage under expr. (deg)"),
    ("response_pose_deg_under_pose", "pose response (deg)"),
    ("truth_pose_change_deg", "pose change (truth, deg)"),
)


def main() -> None:
    run_ablation(CONFIG, VARIANTS, COLUMNS, description=__doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
