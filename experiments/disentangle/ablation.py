"""The ablation of experiments/disentangle/README.md: joint vs reconstruction-only vs
identification-only losses, and disentangled vs entangled latents, over several seeds.

    python experiments/disentangle/ablation.py --workdir runs/ablation --seeds 0 1 2 \\
        --set num_steps=400 --set data.batch_size=32

Each run is ``facejax train --config experiments/disentangle/config.py:small`` with the
variant's overrides (a finished run is skipped, a stopped one resumes); the script then prints
the markdown table of the mean and standard deviation over seeds of every metric.
"""

from __future__ import annotations

from pathlib import Path

from facejax.cli.ablation import run_ablation

CONFIG = str(Path(__file__).with_name("config.py")) + ":small"

VARIANTS = {
    "joint, disentangled": [],
    "reconstruction only": ["loss.w_identification=0"],
    "identification only": ["loss.w_identity_shape=0", "loss.w_shape=0", "loss.w_landmarks=0"],
    "joint, entangled": ["model.entangled=True"],
}
COLUMNS = (
    ("identity_rmse_face_mm", "identity RMSE face (mm)"),
    ("identity_rmse_face_mean_face_mm", "mean face (mm)"),
    ("identity_rmse_face_ratio", "ratio"),
    ("identity_rmse_head_ratio", "head ratio"),
    ("shape_rmse_face_ratio", "shape ratio"),
    ("landmark_nme", "NME"),
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
