"""``facejax fit --model MODEL IMG:LANDMARKS [...] --out DIR``: a 3DMM fitted to one person.

All images are of one person: one identity is fitted to all of them jointly, with a pose and an
expression per image (``facejax.fitting.fit_joint``), in each image's own pixel coordinates.
Writes into DIR:

* ``identity.obj``: the neutral face (mean + identity, model frame, mm; coloured by the fitted
  albedo with ``--photometric``);
* ``<stem>.obj`` per image: the posed face in that image's camera frame (mm);
* ``<stem>_overlay.png`` per image: the image with the fitted mesh (shaded or wireframe), the
  given landmarks (red) and the fitted ones (green);
* ``params.json``: every coefficient, the pose in degrees with its Euler convention, the
  translation in mm, the camera and the landmark errors (docs/fitting.md).

A bad input (missing or unreadable image, landmark file with a wrong count, missing or NaN
points) is reported by name on stderr, nothing is written for it, the others are fitted, and the
exit code is 1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

RESERVED_STEMS = ("identity", "params")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit a morphable model to landmarks of one or more images of one person",
        description="Fits a morphable model (a file of any supported format, or 'synthetic') "
        "to the 2D landmarks of one or more images of one person: one shared identity, a pose "
        "and an expression per image. Landmark files: .pts, .npy, .json, 300W-LP/AFLW2000-3D "
        ".mat (docs/formats.md). Angles in params.json are degrees.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="IMG:LANDMARKS",
        help="an image and its landmark file, joined by ':' (the last ':' splits them); with "
        "--detect, an image alone",
    )
    parser.add_argument("--model", required=True, help="model file, or 'synthetic'")
    parser.add_argument("--out", required=True, help="output folder (created if needed)")
    parser.add_argument("--format", default=None, help="model format when the file does not tell")
    parser.add_argument("--optimizer", choices=("adam", "lbfgs"), default="lbfgs")
    parser.add_argument("--steps", type=int, default=None, help="optimizer iterations")
    parser.add_argument(
        "--camera",
        choices=("perspective", "weak_perspective"),
        default="perspective",
        help="perspective with a known focal (default) or scaled orthographic",
    )
    parser.add_argument(
        "--focal",
        type=float,
        default=None,
        help="focal length in pixels (default 1015/224 x the longer image side)",
    )
    parser.add_argument("--photometric", action="store_true", help="refine on the pixels")
    parser.add_argument(
        "--photometric-size", type=int, default=128, help="side of the photometric fit (px)"
    )
    parser.add_argument("--overlay", choices=("shaded", "wireframe"), default="shaded")
    parser.add_argument(
        "--detect",
        action="store_true",
        help="detect landmarks for images given without a landmark file ('detect' extra)",
    )
    parser.set_defaults(run=run)


def split_input(item: str, detect: bool) -> tuple[str, str | None]:
    """``"IMG:LANDMARKS"`` -> ``(IMG, LANDMARKS)``; a bare image with --detect: ``(IMG, None)``."""
    if detect and (":" not in item or os.path.exists(item)):
        return item, None
    image, sep, landmarks = item.rpartition(":")
    if not sep or not image or not landmarks:
        raise ValueError(f"{item!r}: expected IMG:LANDMARKS (or pass --detect for an image alone)")
    return image, landmarks


def unique_stems(paths: list[str]) -> list[str]:
    """Output names per image: the file stem, made unique and kept off the reserved names."""
    taken = set(RESERVED_STEMS)
    stems = []
    for path in paths:
        stem = Path(path).stem or "image"
        candidate, k = stem, 1
        while candidate in taken:
            k += 1
            candidate = f"{stem}_{k}"
        taken.add(candidate)
        stems.append(candidate)
    return stems


def read_image(path: str) -> np.ndarray:
    """``[H, W, 3]`` uint8 RGB; errors name the file."""
    from PIL import Image, UnidentifiedImageError

    if not os.path.exists(path):
        raise FileNotFoundError(f"image not found: {path}")
    try:
        with Image.open(path) as image:
            image.load()  # decodes now, so a truncated file fails here
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable image ({err})") from err


def read_input(item: str, detect: bool, num_points: int):
    """Reads one input: ``(image_path, landmarks_path, image [H, W, 3], landmarks [L, 2])``."""
    from facejax.formats import read_landmarks

    image_path, landmarks_path = split_input(item, detect)
    image = read_image(image_path)
    if landmarks_path is None:
        from facejax.face_detection import detect_landmarks

        try:
            landmarks = detect_landmarks(image)
        except ValueError as err:
            raise ValueError(f"{image_path}: {err}") from err
        if num_points != landmarks.shape[0]:
            raise ValueError(
                f"{image_path}: the detector gives 68 points, the model has {num_points}"
            )
    else:
        landmarks = read_landmarks(landmarks_path, num_points=num_points)[:, :2]
    return image_path, landmarks_path, image, landmarks


def _floats(array, digits: int = 6):
    return np.round(np.asarray(array, np.float64), digits).tolist()


def camera_json(camera) -> dict:
    from facejax.geometry import PerspectiveCamera

    if isinstance(camera, PerspectiveCamera):
        return {
            "type": "perspective",
            "focal_px": _floats(camera.focal),
            "principal_point_px": _floats(camera.principal_point),
        }
    return {
        "type": "weak_perspective",
        "scale_px_per_mm": float(camera.scale),
        "translation_px": _floats(camera.translation),
    }


def image_json(params, stem, image_path, landmarks_path, image, error, errors, photometric):
    """The ``params.json`` entry of one image (unbatched params)."""
    pitch, yaw, roll = np.rad2deg(np.asarray(params.rotation, np.float64)).tolist()
    entry = {
        "image": image_path,
        "landmarks": landmarks_path,
        "mesh": f"{stem}.obj",
        "overlay": f"{stem}_overlay.png",
        "width": int(image.shape[1]),
        "height": int(image.shape[0]),
        "expression": _floats(params.expression),
        "pose_degrees": {"pitch": pitch, "yaw": yaw, "roll": roll},
        "translation_mm": _floats(params.translation),
        "camera": camera_json(params.camera),
        "landmark_error_px": float(error),
        "landmark_errors_px": _floats(errors, 4),
    }
    if photometric:
        entry["sh_coeffs"] = _floats(params.sh_coeffs)
    return entry


def run(args) -> int:
    import jax
    from PIL import Image
    from tqdm import tqdm

    from facejax import fitting, geometry, morphable
    from facejax.fitting.overlay import draw_overlay
    from facejax.formats import load_model, write_obj

    if args.steps is not None and args.steps < 1:
        raise ValueError(f"--steps {args.steps}: must be >= 1")
    model = morphable.to_device(load_model(args.model, format=args.format))
    fitting.landmark_model(model)  # a model without landmarks fails here, with its name
    out = Path(args.out)

    good, failed = [], []
    for item in tqdm(args.inputs, desc="reading", unit="image", disable=None):
        try:
            good.append(read_input(item, args.detect, model.num_landmarks))
        except (OSError, ValueError, ImportError) as err:
            failed.append({"input": item, "error": str(err)})
            print(f"facejax fit: skipped {item}: {err}", file=sys.stderr)
    if not good:
        print("facejax fit: no usable image; nothing written", file=sys.stderr)
        return 1

    overrides = {"optimizer": args.optimizer, "camera": args.camera}
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = fitting.FitConfig(**overrides)
    landmarks = np.stack([entry[3] for entry in good])
    cameras = [
        fitting.image_camera(img.shape[0], img.shape[1], focal=args.focal) for _, _, img, _ in good
    ]
    camera = jax.tree_util.tree_map(lambda *leaves: np.stack(leaves), *cameras)
    print(f"fitting {len(good)} image(s) with {config.optimizer}, {config.steps} steps ...")
    result = fitting.fit_joint(model, landmarks, camera=camera, config=config)
    if args.photometric:
        result = fitting.refine_photometric(
            model,
            result.params,
            [entry[2] for entry in good],
            landmarks,
            config=fitting.PhotometricConfig(size=args.photometric_size),
        )

    out.mkdir(parents=True, exist_ok=True)
    params = result.params
    first = jax.tree_util.tree_map(lambda a: a[0], params)
    triangles = np.asarray(model.triangles)
    albedo = None
    if args.photometric:
        albedo = np.clip(np.asarray(morphable.albedo(model, first.albedo)), 0.0, 1.0)
    write_obj(
        out / "identity.obj",
        np.asarray(morphable.shape(model, first.identity)),
        triangles,
        colors=albedo,
    )
    decode = jax.jit(morphable.decode)
    errors = np.linalg.norm(np.asarray(result.landmarks_2d) - landmarks, axis=-1)
    stems = unique_stems([entry[0] for entry in good])
    images = []
    for n, (image_path, landmarks_path, image, points) in enumerate(
        tqdm(good, desc="writing", unit="image", disable=None)
    ):
        one = jax.tree_util.tree_map(lambda a, n=n: a[n], params)
        face = decode(model, one)
        write_obj(
            out / f"{stems[n]}.obj", np.asarray(face.camera_vertices), triangles, colors=albedo
        )
        overlay = draw_overlay(
            model,
            one,
            image,
            given=points,
            fitted=np.asarray(result.landmarks_2d[n]),
            style=args.overlay,
            photometric=args.photometric,
        )
        Image.fromarray(overlay).save(out / f"{stems[n]}_overlay.png")
        error = float(result.landmark_error[n])
        images.append(
            image_json(
                one, stems[n], image_path, landmarks_path, image, error, errors[n], args.photometric
            )
        )
        print(f"{image_path}: landmark error {error:.2f} px -> {stems[n]}.obj")

    summary = {
        "model": {
            "source": args.model,
            "name": model.name,
            "fingerprint": morphable.fingerprint(model),
            "landmarks": model.num_landmarks,
        },
        "units": {
            "length": "mm",
            "angles": "degrees",
            "coefficients": "standard deviations",
            "image": "pixels, x right, y down, pixel centres at +0.5 (docs/conventions.md)",
        },
        "rotation_convention": fitting.ROTATION_CONVENTION,
        "rotation_convention_description": geometry.EULER_CONVENTIONS[
            fitting.ROTATION_CONVENTION
        ].description,
        "pose": "x_camera = R @ x_model + t; camera at the origin looking down -z, y up",
        "fit": {**config.__dict__, "photometric": bool(args.photometric)},
        "identity": _floats(first.identity),
        "albedo": _floats(first.albedo) if args.photometric else None,
        "images": images,
        "mean_landmark_error_px": float(np.mean([entry["landmark_error_px"] for entry in images])),
        "failed": failed,
    }
    with open(out / "params.json", "w") as f:
        json.dump(summary, f, indent=2)
    print(
        f"mean landmark error {summary['mean_landmark_error_px']:.2f} px over {len(images)} "
        f"image(s); wrote {out}"
    )
    if failed:
        print(f"facejax fit: {len(failed)} input(s) failed (listed above)", file=sys.stderr)
        return 1
    return 0
