"""Where a trained run's identity error comes from: held-out identity RMSE by head yaw.

    python experiments/disentangle/error_by_yaw.py --workdir runs/ablation/joint_disentangled/0

For each held-out image of the run's test split: the identity (neutral) shape RMSE over the
face region after similarity alignment (as ``facejax evaluate`` reports it), of the run's
prediction and of the training people's mean face, binned by |yaw| of the face in the crop.
Prints JSON: per bin the image count, both mean RMSEs (mm) and their ratio.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, morphable
from facejax.evaluation import baselines
from facejax.recipes.joint_losses import target_shapes
from facejax.recipes.trained_run import held_out_predictions

YAW_BINS_DEG = (0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    run = held_out_predictions(args.workdir, ("identity_coeffs", "pose"), args.batch_size)
    model3d, data, mean_identity = run.model3d, run.data, run.mean_identity_coeffs
    predicted = run.predictions["identity_shape"]
    neutral, _ = jax.jit(target_shapes)(
        model3d,
        jnp.asarray(data["identity_coeffs"]),
        jnp.zeros((len(predicted), model3d.num_expression), jnp.float32),
    )
    mean_face = np.broadcast_to(morphable.shape(model3d, jnp.asarray(mean_identity)), neutral.shape)
    face = baselines.shape_regions(model3d)["face"]
    rmse = jax.jit(lambda p, t: evaluation.vertex_rmse(p, t, weights=face))
    ours = np.asarray(rmse(jnp.asarray(predicted), neutral))
    base = np.asarray(rmse(jnp.asarray(mean_face), neutral))
    yaw = np.degrees(np.abs(data["pose"][:, 1]))
    report = {}
    for low, high in zip(YAW_BINS_DEG[:-1], YAW_BINS_DEG[1:], strict=True):
        inside = (yaw >= low) & (yaw < high if high < YAW_BINS_DEG[-1] else yaw <= high)
        if not inside.any():
            continue
        report[f"{low:g}-{high:g}"] = {
            "count": int(inside.sum()),
            "identity_rmse_face_mm": float(ours[inside].mean()),
            "identity_rmse_face_mean_face_mm": float(base[inside].mean()),
            "identity_rmse_face_ratio": float(ours[inside].mean() / base[inside].mean()),
        }
    report["all"] = {
        "count": len(ours),
        "identity_rmse_face_mm": float(ours.mean()),
        "identity_rmse_face_mean_face_mm": float(base.mean()),
        "identity_rmse_face_ratio": float(ours.mean() / base.mean()),
    }
    print(json.dumps({"workdir": str(args.workdir), "by_abs_yaw_deg": report}, indent=1))


if __name__ == "__main__":
    main()
