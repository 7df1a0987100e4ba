"""Accuracy of landmark fitting on synthetic faces with known truth; prints JSON.

    python benchmarks/fitting_accuracy.py                     # 50 persons, 1/2/5/10 images
    python benchmarks/fitting_accuracy.py --persons 10 --quick

For each person: identity ~ N(0, 1) (every component of the embedded "synthetic" model), and
per image an expression ~ N(0, 0.5^2) (jaw_open and eye closing non-negative), pitch / yaw / roll
uniform in +-20 / +-70 / +-15 degrees, a translation jittered by ~20 mm around 1 m, the default
224 px camera. Target landmarks are the truth's projected 68 landmarks plus Gaussian noise
(``--noise`` px per coordinate); landmarks hidden by the face itself (z-buffer of the facejax
renderer) get weight 0. Images 1..N of each person are fitted (N = 1: fit_landmarks; N > 1:
fit_joint) and compared with the truth:

* pose error (degrees): mean absolute pitch / yaw / roll error and geodesic angle per image;
* identity shape error (mm): per-vertex RMSE between the fitted and the true *neutral*
  identity shapes (mean + identity; no expression) after a similarity alignment
  (facejax.evaluation.vertex_rmse), over the whole head and over the face region
  (model.face_mask); also for the mean face (identity 0), the no-information baseline;
* landmark error (px) of the fit, over the visible points.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from facejax import evaluation, fitting, morphable
from facejax.formats import load_model
from facejax.render.face import render_face

IMAGE_SIZE = 224
MAX_ANGLES_DEG = (20.0, 70.0, 15.0)
EXPRESSION_SCALE = 0.5
# Expressions that are faces only one way round (docs/synthetic_model.md).
ONE_SIDED = ("jaw_open", "eye_close_left", "eye_close_right")


def sample_truth(model, persons: int, images: int, seed: int):
    """Truth parameters ``[P, I]`` (identity shared per person) as a batched FaceParams."""
    rng = np.random.default_rng(seed)
    identity = rng.normal(size=(persons, 1, model.num_identity))
    expression = EXPRESSION_SCALE * rng.normal(size=(persons, images, model.num_expression))
    for name in ONE_SIDED:
        if name in model.expression_names:
            k = model.expression_names.index(name)
            expression[..., k] = np.abs(expression[..., k])
    angles = np.deg2rad(MAX_ANGLES_DEG) * rng.uniform(-1, 1, size=(persons, images, 3))
    translation = np.stack(
        [
            rng.normal(0, 20, (persons, images)),
            rng.normal(0, 20, (persons, images)),
            -1000 + rng.normal(0, 30, (persons, images)),
        ],
        axis=-1,
    )
    base = morphable.neutral_params(model, image_size=IMAGE_SIZE)

    def one(ident, expr, rot, trans):
        return base.replace(identity=ident, expression=expr, rotation=rot, translation=trans)

    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    identity = np.broadcast_to(identity, (persons, images, model.num_identity))
    return jax.vmap(jax.vmap(one))(f32(identity), f32(expression), f32(angles), f32(translation))


def observe(model, truth, noise: float, seed: int):
    """Noisy target landmarks ``[P, I, 68, 2]`` and visibility weights ``[P, I, 68]``."""

    @jax.jit
    def landmarks_and_visibility(params):
        rendering = render_face(model, params, IMAGE_SIZE, IMAGE_SIZE)
        return rendering.landmarks_2d[:, :2], rendering.landmark_visibility

    flat = jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:]), truth)
    points, visible = jax.lax.map(landmarks_and_visibility, flat, batch_size=16)
    shape = truth.identity.shape[:2]
    points = np.asarray(points).reshape(*shape, -1, 2)
    visible = np.asarray(visible).reshape(*shape, -1)
    rng = np.random.default_rng(seed + 1)
    return points + noise * rng.normal(size=points.shape), visible


def evaluate(model, fitted_identity, truth_identity, fitted_rotation, truth_rotation, result):
    """Shape and pose errors of a fit, as floats (mean and median over persons / images)."""
    shapes = jax.vmap(lambda a: morphable.shape(model, a))
    fitted, true = shapes(fitted_identity), shapes(truth_identity)
    mean = jnp.broadcast_to(jnp.asarray(model.mean_shape), true.shape)
    face = jnp.asarray(model.face_mask) > 0.5
    rmse = {
        "head": evaluation.vertex_rmse(fitted, true),
        "face": evaluation.vertex_rmse(fitted, true, weights=face),
        "mean_face_head": evaluation.vertex_rmse(mean, true),
        "mean_face_face": evaluation.vertex_rmse(mean, true, weights=face),
    }
    pose = evaluation.pose_error_degrees(fitted_rotation, truth_rotation)
    stats = {f"rmse_{k}_mm": float(jnp.mean(v)) for k, v in rmse.items()}
    stats.update({f"rmse_{k}_mm_median": float(jnp.median(v)) for k, v in rmse.items()})
    for name in ("pitch", "yaw", "roll", "geodesic"):
        stats[f"{name}_error_deg"] = float(jnp.mean(getattr(pose, name)))
    stats["geodesic_error_deg_median"] = float(jnp.median(pose.geodesic))
    stats["landmark_error_px"] = float(jnp.nanmean(result.landmark_error))
    return stats


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="synthetic")
    parser.add_argument("--persons", type=int, default=50)
    parser.add_argument("--images", type=int, nargs="+", default=[1, 2, 5, 10])
    parser.add_argument("--noise", type=float, default=1.0, help="landmark noise, px (std)")
    parser.add_argument("--optimizer", default="lbfgs", choices=fitting.FIT_OPTIMIZERS)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--identity-prior", type=float, default=None)
    parser.add_argument("--expression-prior", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="fewer steps")
    args = parser.parse_args()

    model = morphable.to_device(load_model(args.model))
    config = fitting.FitConfig(optimizer=args.optimizer)
    overrides = {}
    if args.steps is not None:
        overrides["steps"] = args.steps
    elif args.quick:
        overrides["steps"] = config.steps // 4
    if args.identity_prior is not None:
        overrides["identity_prior"] = args.identity_prior
    if args.expression_prior is not None:
        overrides["expression_prior"] = args.expression_prior
    config = fitting.FitConfig(**{**config.__dict__, **overrides})

    most = max(args.images)
    truth = sample_truth(model, args.persons, most, args.seed)
    landmarks, visible = observe(model, truth, args.noise, args.seed)
    rows = []
    for count in args.images:
        start = time.perf_counter()
        lm, w = jnp.asarray(landmarks[:, :count]), jnp.asarray(visible[:, :count])
        if count == 1:
            result = fitting.fit_landmarks(
                model, lm[:, 0], w[:, 0], image_size=(IMAGE_SIZE, IMAGE_SIZE), config=config
            )
            identity = result.params.identity
            rotation = result.params.rotation
            true_rotation = truth.rotation[:, 0]
        else:
            result = fitting.fit_joint(
                model, lm, w, image_size=(IMAGE_SIZE, IMAGE_SIZE), config=config
            )
            identity = result.params.identity[:, 0]
            rotation = result.params.rotation.reshape(-1, 3)
            true_rotation = truth.rotation[:, :count].reshape(-1, 3)
        jax.block_until_ready(result.loss)
        seconds = time.perf_counter() - start
        stats = evaluate(model, identity, truth.identity[:, 0], rotation, true_rotation, result)
        rows.append(
            {
                "images_per_person": count,
                "method": "single" if count == 1 else "joint",
                **stats,
                "seconds_with_compile": round(seconds, 2),
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    report = {
        "benchmark": "fitting_accuracy",
        "model": args.model,
        "persons": args.persons,
        "noise_px": args.noise,
        "image_size": IMAGE_SIZE,
        "max_angles_deg": MAX_ANGLES_DEG,
        "expression_scale": EXPRESSION_SCALE,
        "visible_landmarks_mean": float(visible.sum(-1).mean()),
        "config": config.__dict__,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "jax_backend": jax.default_backend(),
        },
        "rows": rows,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
