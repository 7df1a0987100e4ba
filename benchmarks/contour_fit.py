"""Fixed versus sliding contour landmarks by yaw, on synthetic faces and real photos; prints JSON.

    python benchmarks/contour_fit.py                       # 30 faces per yaw bin
    python benchmarks/contour_fit.py --faces 8 --no-real   # quick

**Synthetic** (known truth): faces of the embedded model (identity ~ N(0, 1), expression ~
N(0, 0.5^2)), |yaw| uniform in each bin (0-30, 30-60, 60-90 degrees, either side), pitch and roll
within +-10 / +-5 degrees, ~1 m from the default 224 px camera. Their 68 landmarks are drawn as
a 300-W annotator draws them (``facejax.fitting.outline_landmarks``: the jaw points of the side
turned away on the face's silhouette, everything else on the model's points), plus Gaussian
noise (``--noise`` px per coordinate). Each face is fitted (``fit_landmarks``, L-BFGS) with the
model's fixed jaw vertices and with the sliding contour (``facejax.fitting.synthetic_contour``).
Per bin and method: landmark error (px, mean over the 68 against the noisy targets, and
against the noise-free ones), yaw error (degrees), and the identity RMSE over the face region
after similarity alignment with the mean face's beside it
(``facejax.evaluation.shape_rmse_with_baseline``).

**Real** (``--real-faces``, default ../shared/real-faces; skipped when absent): the four photos
with hand-annotated 68 points, fitted with the embedded model, fixed versus sliding: the fit's
landmark error in pixels and as a fraction of the face size (RMS distance of the annotations
from their centroid), and the fitted yaw.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from facejax import fitting, morphable
from facejax.evaluation.baselines import shape_rmse_with_baseline
from facejax.formats import load_model, read_image_size, read_landmarks

IMAGE_SIZE = 224
YAW_BINS = ((0.0, 30.0), (30.0, 60.0), (60.0, 90.0))
MAX_PITCH_DEG, MAX_ROLL_DEG = 10.0, 5.0
EXPRESSION_SCALE = 0.5
ONE_SIDED = ("jaw_open", "eye_close_left", "eye_close_right")
DEFAULT_REAL_FACES = Path(__file__).resolve().parents[1] / ".." / "shared" / "real-faces"
REAL_PHOTOS = ("einstein.pts", "breakingbad.pts", "takeo.pts", "lenna.ljson")


def sample_truth(model, count: int, yaw_bin, seed: int):
    """``count`` faces with |yaw| in ``yaw_bin`` (degrees), as a batched FaceParams."""
    rng = np.random.default_rng(seed)
    identity = rng.normal(size=(count, model.num_identity))
    expression = EXPRESSION_SCALE * rng.normal(size=(count, model.num_expression))
    for name in ONE_SIDED:
        if name in model.expression_names:
            k = model.expression_names.index(name)
            expression[:, k] = np.abs(expression[:, k])
    yaw = rng.uniform(*yaw_bin, size=count) * rng.choice([-1.0, 1.0], size=count)
    angles = np.stack(
        [
            rng.uniform(-MAX_PITCH_DEG, MAX_PITCH_DEG, count),
            yaw,
            rng.uniform(-MAX_ROLL_DEG, MAX_ROLL_DEG, count),
        ],
        axis=-1,
    )
    translation = np.stack(
        [rng.normal(0, 15, count), rng.normal(0, 15, count), -1000 + rng.normal(0, 30, count)],
        axis=-1,
    )
    base = morphable.neutral_params(model, image_size=IMAGE_SIZE)
    f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
    return jax.vmap(
        lambda i, e, r, t: base.replace(identity=i, expression=e, rotation=r, translation=t)
    )(f32(identity), f32(expression), f32(np.deg2rad(angles)), f32(translation))


def synthetic_rows(model, contour, config, faces: int, noise: float, seed: int):
    outline = jax.jit(jax.vmap(fitting.outline_landmarks, (None, 0, None)))
    rows = []
    for b, yaw_bin in enumerate(YAW_BINS):
        truth = sample_truth(model, faces, yaw_bin, seed + b)
        clean = np.asarray(outline(model, truth, contour))
        rng = np.random.default_rng(seed + 100 + b)
        targets = clean + noise * rng.normal(size=clean.shape)
        true_yaw = np.rad2deg(np.asarray(truth.rotation[:, 1]))
        true_shapes = jax.vmap(lambda a: morphable.shape(model, a))(truth.identity)
        for method, candidates in (("fixed", None), ("sliding", contour)):
            start = time.perf_counter()
            result = fitting.fit_landmarks(
                model,
                jnp.asarray(targets, jnp.float32),
                image_size=(IMAGE_SIZE, IMAGE_SIZE),
                config=config,
                contour=candidates,
            )
            jax.block_until_ready(result.loss)
            seconds = time.perf_counter() - start
            fitted = np.asarray(result.landmarks_2d)
            shapes = jax.vmap(lambda a: morphable.shape(model, a))(result.params.identity)
            shape_metrics = shape_rmse_with_baseline(
                "identity",
                shapes,
                true_shapes,
                model.mean_shape,
                {"face": np.asarray(model.face_mask) > 0.5},
            )
            yaw_error = np.abs(np.rad2deg(np.asarray(result.params.rotation[:, 1])) - true_yaw)
            row = {
                "yaw_bin_deg": list(yaw_bin),
                "contour": method,
                "faces": faces,
                "landmark_error_px": float(np.mean(np.linalg.norm(fitted - targets, axis=-1))),
                "landmark_error_vs_clean_px": float(
                    np.mean(np.linalg.norm(fitted - clean, axis=-1))
                ),
                "jaw_error_vs_clean_px": float(
                    np.mean(np.linalg.norm(fitted[:, :17] - clean[:, :17], axis=-1))
                ),
                "yaw_error_deg": float(np.mean(yaw_error)),
                "yaw_error_deg_median": float(np.median(yaw_error)),
                **{k: round(v, 4) for k, v in shape_metrics.items()},
                "seconds_with_compile": round(seconds, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def read_real_landmarks(path: Path) -> np.ndarray:
    """``[68, 2]`` facejax pixels of a .pts (300-W, 1-based) or menpo .ljson ([y, x], pixel
    indices: +0.5) file."""
    if path.suffix == ".ljson":
        points = json.loads(path.read_text())["groups"]["LJSON"]["landmarks"]["points"]
        return np.asarray(points, np.float64)[:, ::-1] + 0.5
    return read_landmarks(path)[:, :2]


def real_rows(model, contour, config, folder: Path):
    rows = []
    for name in REAL_PHOTOS:
        path = folder / name
        image = next(
            p for p in folder.glob(path.stem + ".*") if p.suffix in (".jpg", ".png", ".ppm")
        )
        landmarks = read_real_landmarks(path)
        height, width = read_image_size(image)
        size = float(fitting.face_size(jnp.asarray(landmarks), jnp.ones(68)))
        row = {"photo": image.name, "width": width, "height": height, "face_size_px": size}
        for method, candidates in (("fixed", None), ("sliding", contour)):
            result = fitting.fit_landmarks(
                model,
                jnp.asarray(landmarks, jnp.float32),
                image_size=(height, width),
                config=config,
                contour=candidates,
            )
            fitted = np.asarray(result.landmarks_2d)
            error = np.linalg.norm(fitted - landmarks, axis=-1)
            row[f"{method}_landmark_error_px"] = float(error.mean())
            row[f"{method}_landmark_error_face_size"] = float(error.mean() / size)
            row[f"{method}_jaw_error_px"] = float(error[:17].mean())
            row[f"{method}_yaw_deg"] = float(np.rad2deg(result.params.rotation[1]))
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="synthetic")
    parser.add_argument("--faces", type=int, default=30, help="faces per yaw bin")
    parser.add_argument("--noise", type=float, default=1.0, help="landmark noise, px (std)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--real-faces", default=str(DEFAULT_REAL_FACES))
    parser.add_argument("--no-real", action="store_true")
    args = parser.parse_args()

    model = morphable.to_device(load_model(args.model))
    variant = args.model.partition(":")[2] or "default"
    contour = fitting.synthetic_contour(variant)
    config = fitting.FitConfig(**({"steps": args.steps} if args.steps else {}))
    report = {
        "benchmark": "contour_fit",
        "model": args.model,
        "faces_per_bin": args.faces,
        "noise_px": args.noise,
        "image_size": IMAGE_SIZE,
        "config": config.__dict__,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "jax_backend": jax.default_backend(),
        },
        "synthetic": synthetic_rows(model, contour, config, args.faces, args.noise, args.seed),
    }
    folder = Path(args.real_faces)
    if not args.no_real and folder.is_dir():
        report["real"] = real_rows(model, contour, config, folder)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
