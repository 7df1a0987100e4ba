"""How many pixels an expression change moves the landmarks, beside a pose change, the
identity, and a cycle run's own landmark error, on its held-out frames.

    python experiments/cycle/expression_visibility.py --workdir runs/cycle_small

The cycles separate pose from expression; they can only do so where the images show the
expression. Here the test frames' ground truth is decoded (``morphable.decode``, the dataset's
camera) as it is, with only the expression or only the pose of the frame half a clip away (the
pairs of the leakage measure, ``facejax.recipes.cycle_leakage``), and with the training people's
mean identity in place of the person's. Prints JSON: for each change the RMS displacement of
the 68 landmarks in pixels, as it is and after the best in-plane similarity
(``losses.similarity_aligned_landmark_loss``: what no head position, size or roll explains);
and the same two figures for the run's predicted landmarks against the true ones.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp

from facejax import losses, morphable
from facejax.data.fixed_batches import map_fixed_batches
from facejax.recipes import clip_evaluation, cycle, cycle_leakage, datasets
from facejax.recipes.trained_run import load_run_config


def displacement_px(moved, base) -> dict:
    """Mean over frames of the RMS landmark displacement (pixels), raw and similarity-aligned."""
    moved, base = jnp.asarray(moved, jnp.float32), jnp.asarray(base, jnp.float32)
    raw = jnp.sqrt(jnp.mean(jnp.sum(jnp.square(moved - base), -1), -1))
    aligned = jnp.sqrt(losses.similarity_aligned_landmark_loss(moved, base))
    return {"rms_px": float(jnp.mean(raw)), "rms_px_after_similarity": float(jnp.mean(aligned))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--frames", type=int, default=480, help="held-out frames (whole clips)")
    args = parser.parse_args()

    config = load_run_config(args.workdir, recipe="cycle")
    predict, model3d = cycle.load_predictor(config, args.workdir)
    builder = datasets.prepare_dataset(config)[0]
    clips = clip_evaluation.read_clips(builder.as_data_source("test"))
    num_frames = clips["frames"].shape[1]
    num_clips = max(1, min(len(clips["frames"]), args.frames // num_frames))
    clips = {name: value[:num_clips] for name, value in clips.items()}
    data = clip_evaluation.frames_of_clips(clips)
    size = data["frames"].shape[1]

    params = cycle_leakage.truth_params(data, size)
    pairs = cycle_leakage.single_change_pairs(
        params, jnp.asarray(cycle_leakage.clip_partners(num_clips, num_frames))
    )
    mean_identity = jnp.asarray(datasets.mean_identity_coeffs(builder.as_data_source("train")))
    pairs["identity"] = params.replace(
        identity=jnp.broadcast_to(mean_identity, params.identity.shape)
    )
    landmarks = jax.jit(jax.vmap(lambda p: morphable.decode(model3d, p).landmarks_2d[:, :2]))
    base = landmarks(params)
    predicted = map_fixed_batches(predict, data["frames"], 120)["landmarks_2d"]
    report = {
        "workdir": args.workdir,
        "frames": len(data["frames"]),
        "image_size": size,
        # The decoded truth against the dataset's stored landmarks: 0 up to rounding.
        "decoded_vs_stored_px": displacement_px(base, data["landmarks"])["rms_px"],
        **{f"{name}_change": displacement_px(landmarks(p), base) for name, p in pairs.items()},
        "network_error": displacement_px(predicted, data["landmarks"]),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
