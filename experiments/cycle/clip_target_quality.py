"""How good the identity targets fitted from the training clips' 2D landmarks are, and what they
cost: ``facejax.recipes.clip_identity_targets`` on the first clips of a split, scored against the
synthetic truth (read here only, for the report; training never sees it).

    python experiments/cycle/clip_target_quality.py --data-dir ~/facejax_data --clips 200

Prints JSON: clips fitted, seconds (first batch, with the compile, and the rest), the share of
valid fits, the median landmark error (pixels) and the fitted identity's face-region and whole-head
RMSE with the mean-face baseline (the split's own mean identity) and their ratios.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from facejax import morphable
from facejax.evaluation import baselines
from facejax.formats import load_model
from facejax.recipes import clip_identity_targets, datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--config", default="small_frontal", help="synthetic clips config")
    parser.add_argument("--split", default="train")
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--clips-per-batch", type=int, default=64)
    parser.add_argument("--image-size", type=int, default=64)
    args = parser.parse_args()

    model3d = morphable.to_device(load_model("synthetic"))
    builder = datasets.prepare_builder(
        "facejax_synthetic_clips", args.config, args.data_dir, model="synthetic",
        image_size=args.image_size,
    )  # fmt: skip
    source = builder.as_data_source(args.split)
    count = min(args.clips, len(source))
    clips = datasets.read_split(
        [source[i] for i in range(count)], ("landmarks", "has_landmarks", "identity_coeffs")
    )
    batch = args.clips_per_batch
    start = time.perf_counter()
    first = clip_identity_targets.fit_clip_identities(
        model3d, clips["landmarks"][:batch], clips["has_landmarks"][:batch], args.image_size,
        clips_per_batch=batch,
    )  # fmt: skip
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    rest = clip_identity_targets.fit_clip_identities(
        model3d, clips["landmarks"][batch:], clips["has_landmarks"][batch:], args.image_size,
        clips_per_batch=batch,
    )  # fmt: skip
    rest_s = time.perf_counter() - start
    targets = jax.tree.map(lambda a, b: np.concatenate([a, b]), first, rest)

    decode = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))
    truth_coeffs = clips["identity_coeffs"]  # [C, K]: the clip's person
    valid = targets.valid
    truth = decode(model3d, jnp.asarray(truth_coeffs[valid]))
    fitted = decode(model3d, jnp.asarray(targets.identity[valid]))
    mean_face = morphable.shape(model3d, jnp.asarray(truth_coeffs.mean(0)))
    rmse = baselines.shape_rmse_with_baseline(
        "identity", fitted, truth, mean_face, baselines.shape_regions(model3d)
    )
    print(json.dumps({
        "config": args.config, "split": args.split, "clips": count,
        "frames_per_clip": int(clips["landmarks"].shape[1]),
        "seconds_first_batch_with_compile": round(first_s, 1),
        "seconds_rest": round(rest_s, 1),
        "clips_per_second_after_compile": round((count - batch) / rest_s, 2) if rest_s else None,
        "valid_share": float(valid.mean()),
        "median_landmark_error_px": float(np.nanmedian(targets.landmark_error)),
        **{k: float(v) for k, v in rmse.items()},
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
