"""A Siamese run's metrics on its own training people, beside the held-out ones of
metrics.json: how much of what it learned is the people it saw.

    python experiments/siamese/train_split_metrics.py --workdir runs/siamese_md/... --images 800

Evaluates the run's latest checkpoint (``facejax.recipes.siamese.evaluate_split``) on the first
``--images`` training images (the synthetic faces store a person's images together, so 800 are
200 people x 4), with the training people's mean face as the baseline, and prints JSON: the
step, the identity and shape face-region ratios to the mean face, the landmark NME, the pose
error and the identity consistency. The training split has no verification protocol, so no
recognition figures.
"""

from __future__ import annotations

import argparse
import json

from facejax.recipes import datasets, siamese
from facejax.recipes.trained_run import load_run_config

KEYS = ("identity_rmse_face_ratio", "shape_rmse_face_ratio", "landmark_nme",
        "pose_error_geodesic_degrees", "identity_consistency_ratio",
        "identity_consistency_ratio_yaw_45_180")  # fmt: skip


def train_split_metrics(workdir: str, num_images: int = 800) -> dict:
    """The checkpoint's metrics (``KEYS``) on the first ``num_images`` training images."""
    config = load_run_config(workdir, recipe="siamese")
    net, variables, model3d, step = siamese.restore(config, workdir)
    builder, metadata = datasets.prepare_dataset(config)
    train = builder.as_data_source("train")
    mean_identity = datasets.mean_identity_coeffs(train)
    images = [train[i] for i in range(min(num_images, len(train)))]
    no_protocols = {
        k: v for k, v in metadata.items() if k not in ("verification_pairs", "identification")
    }
    metrics = siamese.evaluate_split(
        net, variables, model3d, images, no_protocols, config, mean_identity
    )
    return {
        "workdir": str(workdir), "step": int(step), "split": "train", "images": len(images),
        **{key: float(metrics[key]) for key in KEYS if key in metrics},
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--images", type=int, default=800, help="training images evaluated")
    args = parser.parse_args()
    print(json.dumps(train_split_metrics(args.workdir, args.images), indent=1))


if __name__ == "__main__":
    main()
