"""Does the identification loss inflate the identity latent? Its size beside the truth's.

    python experiments/disentangle/latent_scale.py --workdir runs/ablation/joint_disentangled/0

With the ``basis`` decoders the identity latent is the identity coefficients (units of standard
deviation), so it can be set beside the held-out people's true coefficients. Both are taken
relative to the training people's mean coefficients; over the test split the script prints
(JSON) the mean norm of each, their ratio, the least-squares slope of the prediction on the
truth (1: right size; above 1: inflated; below 1: shrunk towards the mean) and the cosine
between them (how much of the direction is right).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from facejax.recipes.trained_run import held_out_predictions, load_run_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    config = load_run_config(args.workdir)
    if config.model.decoder != "basis" or config.model.entangled:
        raise SystemExit(
            f"{args.workdir}: the latent is coefficients only with disentangled basis decoders"
        )
    run = held_out_predictions(args.workdir, ("identity_coeffs",), args.batch_size)
    mean = run.mean_identity_coeffs
    predicted = np.asarray(run.predictions["embedding"], np.float64) - mean
    truth = np.asarray(run.data["identity_coeffs"], np.float64) - mean
    if predicted.shape != truth.shape:
        raise SystemExit(f"latent {predicted.shape} is not the coefficients {truth.shape}")
    dot = (predicted * truth).sum()
    norms = np.linalg.norm(predicted, axis=1), np.linalg.norm(truth, axis=1)
    report = {
        "workdir": str(args.workdir),
        "images": len(truth),
        "predicted_norm": float(norms[0].mean()),
        "true_norm": float(norms[1].mean()),
        "norm_ratio": float(norms[0].mean() / norms[1].mean()),
        "slope": float(dot / (truth**2).sum()),
        "cosine": float(np.mean((predicted * truth).sum(1) / (norms[0] * norms[1] + 1e-12))),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
