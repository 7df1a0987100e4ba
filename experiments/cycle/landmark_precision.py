"""How much identity a cycle run's landmarks hold: landmark-only fits of its predicted 2D
landmarks and of the true ones with added noise, on its held-out frames.

    python experiments/cycle/landmark_precision.py --workdir runs/cycle_ablation/no_cycle/0

The recipe learns identity only through 2D landmarks and pixels. Here the frames' landmarks are
fitted alone (``facejax.fitting.fit_landmarks``, the default camera, as the evaluation's
landmark-fit baseline) three ways: the true landmarks, the true ones with Gaussian noise of
several sizes (per coordinate, pixels), and the network's own predicted landmarks. Prints JSON:
per input the landmark NME (box normaliser) and the fitted identity's face-region RMSE ratio to
the mean face. Noise of a given NME that leaves identity readable, beside the network's
landmarks of the same NME that do not, says the network's landmark error is not noise but the
identity it has not learned to see.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, fitting, morphable
from facejax.data.fixed_batches import map_fixed_batches
from facejax.evaluation import baselines
from facejax.recipes import clip_evaluation, cycle, datasets
from facejax.recipes.trained_run import load_run_config

NOISE_PX = (0.25, 0.5, 1.0, 2.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--frames", type=int, default=480, help="held-out frames fitted")
    parser.add_argument("--seed", type=int, default=0, help="of the added noise")
    args = parser.parse_args()

    config = load_run_config(args.workdir, recipe="cycle")
    predict, model3d = cycle.load_predictor(config, args.workdir)
    builder = datasets.prepare_dataset(config)[0]
    clips = clip_evaluation.read_clips(builder.as_data_source("test"))
    data = clip_evaluation.frames_of_clips(clips)
    data = {name: value[: args.frames] for name, value in data.items()}
    truth = data["landmarks"].astype(np.float32)
    predicted = map_fixed_batches(predict, data["frames"], 120)["landmarks_2d"]

    size = data["frames"].shape[1]
    neutral = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))(
        model3d, jnp.asarray(data["identity_coeffs"])
    )
    mean_identity = datasets.mean_identity_coeffs(builder.as_data_source("train"))
    mean_face = morphable.shape(model3d, jnp.asarray(mean_identity))
    regions = baselines.shape_regions(model3d)
    weights = jnp.ones(truth.shape[:2], jnp.float32)

    def fitted(points) -> dict:
        fit = fitting.fit_landmarks(model3d, jnp.asarray(points), weights, image_size=(size, size))
        shapes = jax.vmap(morphable.shape, in_axes=(None, 0))(model3d, fit.params.identity)
        rmse = baselines.shape_rmse_with_baseline("identity", shapes, neutral, mean_face, regions)
        nme = evaluation.landmark_nme(jnp.asarray(points), jnp.asarray(truth))
        return {
            "landmark_nme": float(np.mean(np.asarray(nme))),
            "identity_rmse_face_ratio": float(rmse["identity_rmse_face_ratio"]),
        }

    rng = np.random.default_rng(args.seed)
    results = {"truth": fitted(truth)}
    for sigma in NOISE_PX:
        noisy = truth + rng.normal(scale=sigma, size=truth.shape).astype(np.float32)
        results[f"truth + noise {sigma} px"] = fitted(noisy)
    results["network"] = fitted(np.asarray(predicted, np.float32))
    print(json.dumps({"workdir": args.workdir, "frames": len(truth), "fits": results}, indent=1))


if __name__ == "__main__":
    main()
