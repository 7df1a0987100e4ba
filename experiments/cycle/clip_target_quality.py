"""How good the targets fitted from the training clips' 2D landmarks are (a clip's identity, each
frame's expression and pose), and what they cost: ``facejax.recipes.clip_fit_targets`` on the
first clips of a split, scored against the synthetic truth (read here only, for the report;
training never sees it).

    python experiments/cycle/clip_target_quality.py --data-dir ~/facejax_data --clips 200

Prints JSON: clips fitted, seconds (first batch, with the compile, and the rest), the share of
valid fits, the median landmark error (pixels), the fitted identity's face-region and whole-head
RMSE with the mean-face baseline (the split's own mean identity) and their ratios, the same
in each metric the fitted identity term can train with (``loss.shape_loss`` / ``shape_region``:
``identity_loss_<kind>_<region>_mm``, the root of the term's mean, no similarity); of the valid
frames, the fitted expression's RMSE (its vertex offsets against the true ones, mm, no
alignment) beside the neutral face's (a zero expression) and their ratio, and the fitted pose's
error in degrees (mean absolute pitch, yaw, roll; geodesic) beside a frontal pose's.
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, morphable
from facejax.evaluation import baselines
from facejax.formats import load_model
from facejax.recipes import clip_fit_targets, cycle, datasets


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
        [source[i] for i in range(count)],
        ("landmarks", "has_landmarks", "identity_coeffs", "expression_coeffs", "pose"),
    )
    batch = args.clips_per_batch
    start = time.perf_counter()
    first = clip_fit_targets.fit_clip_targets(
        model3d, clips["landmarks"][:batch], clips["has_landmarks"][:batch], args.image_size,
        clips_per_batch=batch,
    )  # fmt: skip
    first_s = time.perf_counter() - start
    start = time.perf_counter()
    rest = clip_fit_targets.fit_clip_targets(
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
    loss_rmse = _identity_in_loss_metrics(model3d, fitted, truth, mean_face)
    frames = targets.frame_valid
    expression = _expression_quality(
        model3d, targets.expression[frames], clips["expression_coeffs"][frames]
    )
    pose = _pose_quality(targets.angles[frames], clips["pose"][frames])
    print(json.dumps({
        "config": args.config, "split": args.split, "clips": count,
        "frames_per_clip": int(clips["landmarks"].shape[1]),
        "seconds_first_batch_with_compile": round(first_s, 1),
        "seconds_rest": round(rest_s, 1),
        "clips_per_second_after_compile": round((count - batch) / rest_s, 2) if rest_s else None,
        "valid_share": float(valid.mean()),
        "median_landmark_error_px": float(np.nanmedian(targets.landmark_error)),
        **{k: float(v) for k, v in rmse.items()},
        **loss_rmse,
        "valid_frame_share": float(frames.sum() / clips["has_landmarks"].sum()),
        **expression, **pose,
    }, indent=1))  # fmt: skip


# What the fitted identity term sees: the raw distance over the head (the default), and over the
# face after the best translation and scale (recipes/cycle.py, fitted_identity_loss).
IDENTITY_LOSS_METRICS = (("squared", "head"), ("scale_aligned", "face"))


def _identity_in_loss_metrics(model3d, fitted, truth, mean_face) -> dict[str, float]:
    """The fitted identities' and the mean face's error in the fitted identity term's metrics,
    mm (the root of the term's mean over clips), and their ratio."""
    out = {}
    for kind, region in IDENTITY_LOSS_METRICS:
        loss = cycle.fitted_identity_loss(model3d, {"shape_loss": kind, "shape_region": region})
        name = f"identity_loss_{kind}_{region}"
        fit_mm = float(jnp.sqrt(jnp.mean(loss(fitted, truth))))
        mean_mm = float(jnp.sqrt(jnp.mean(loss(jnp.broadcast_to(mean_face, truth.shape), truth))))
        out.update({
            f"{name}_mm": fit_mm, f"{name}_mean_face_mm": mean_mm, f"{name}_ratio": fit_mm / mean_mm
        })  # fmt: skip
    return out


def _expression_quality(model3d, fitted, truth) -> dict[str, float]:
    """RMS over frames of the expression offsets' vertex RMSE (mm, no alignment: the offsets
    are the expression's alone), of the fit and of a neutral face, and their ratio."""
    offset = jax.jit(jax.vmap(morphable.expression_offset, in_axes=(None, 0)))
    target = offset(model3d, jnp.asarray(truth))
    err = evaluation.vertex_rmse(offset(model3d, jnp.asarray(fitted)), target, align=None)
    neutral = evaluation.vertex_rmse(jnp.zeros_like(target), target, align=None)
    fit_mm = float(jnp.sqrt(jnp.mean(jnp.square(err))))
    neutral_mm = float(jnp.sqrt(jnp.mean(jnp.square(neutral))))
    return {
        "expression_rmse_mm": fit_mm,
        "expression_rmse_neutral_mm": neutral_mm,
        "expression_rmse_ratio": fit_mm / neutral_mm,
    }


def _pose_quality(fitted, truth) -> dict[str, float]:
    """Mean pose errors (degrees) of the fit and of a frontal pose (zero angles)."""
    out = {}
    for name, angles in (("fit", fitted), ("frontal", np.zeros_like(truth))):
        errors = evaluation.pose_error_degrees(jnp.asarray(angles), jnp.asarray(truth))
        for part in ("pitch", "yaw", "roll", "geodesic"):
            out[f"pose_error_{part}_deg_{name}"] = float(jnp.mean(getattr(errors, part)))
    return out


if __name__ == "__main__":
    main()
