"""``facejax reconstruct --workdir DIR IMG... --out OUT``: a trained model on users' photos."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "reconstruct",
        help="run a trained model (facejax train) on photos: meshes, landmarks, pose, embeddings",
        description="Restores the latest checkpoint of WORKDIR and, for each photo, writes "
        "<stem>.obj (the face, mm, model frame), <stem>_identity.obj (its neutral face), "
        "<stem>.json (68 landmarks in the photo's pixels and in 3D, pose in degrees), "
        "<stem>_embedding.npy (the identity feature) and <stem>_overlay.png (the crop the "
        "network saw, with the face and landmarks drawn). A photo that cannot be read is "
        "reported by name and the others go on.",
    )
    parser.add_argument("--workdir", required=True, help="run folder written by facejax train")
    parser.add_argument("images", nargs="+", metavar="IMG", help="photos (any Pillow format)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--batch-size", type=int, default=16, help="photos per batch")
    parser.add_argument(
        "--detect",
        action="store_true",
        help="find the face and its landmarks with the optional detector (facejax[detect]) and "
        "align the crop to them; without it the central square of each photo is used",
    )
    parser.add_argument("--format", choices=("obj", "ply"), default="obj", help="mesh format")
    parser.set_defaults(run=run)


def crop_photo(image: np.ndarray, size: int, detect: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(crop [size, size, 3] uint8, transform [2, 3] photo -> crop pixels)``."""
    from facejax.data import crop

    height, width = image.shape[:2]
    if detect:
        from facejax.face_detection import detect_landmarks

        transform = crop.template_transform(detect_landmarks(image), size, margin=1.25)
    else:
        transform = crop.box_transform(crop.central_box(width, height), size)
    return crop.warp_image(image, transform, size), transform


def overlay(crop_image, screen_vertices, triangles, landmarks) -> np.ndarray:
    """The crop with the predicted face (grey, lit from the front) and its landmarks drawn."""
    import jax.numpy as jnp
    from PIL import Image, ImageDraw

    from facejax import geometry, lighting
    from facejax.render import composite, rasterize, shade_vertices

    size = crop_image.shape[0]
    screen = jnp.asarray(screen_vertices)
    # Normals of the projected mesh: x right, y down, depth away = a left-handed frame; flip y
    # and depth back to a right-handed, y-up, z-towards-the-viewer frame for the light.
    viewer = screen * jnp.asarray([[1.0, -1.0, -1.0]])
    normals = geometry.vertex_normals(viewer, jnp.asarray(triangles))
    fragments = rasterize(screen, triangles, size, size, perspective_correct=False, near=None)
    light = lighting.directional(jnp.array([0.3, 0.4, 1.0]), 0.7, 0.35)
    grey = jnp.full(normals.shape, 0.75)
    colors = shade_vertices(fragments, triangles, grey, normals, light)
    background = jnp.asarray(crop_image, jnp.float32) / 255.0
    drawn = composite(colors, 0.6 * fragments.mask, background)
    picture = Image.fromarray(np.asarray(jnp.clip(drawn, 0, 1) * 255).astype(np.uint8))
    pen = ImageDraw.Draw(picture)
    for x, y in np.asarray(landmarks):
        pen.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(40, 220, 40))
    return np.asarray(picture)


def run(args) -> int:
    import ml_collections
    from PIL import Image, UnidentifiedImageError

    from facejax.data import crop
    from facejax.formats import write_obj, write_ply
    from facejax.recipes import get_recipe

    path = Path(args.workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a facejax training run (no config.json)")
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
    recipe = get_recipe(config.recipe)
    if not hasattr(recipe, "load_predictor"):
        raise ValueError(f"recipe {config.recipe!r} has no predictor for reconstruct")
    predict, model3d = recipe.load_predictor(config, args.workdir)
    size = int(config.data.image_size)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    triangles = np.asarray(model3d.triangles)

    crops, failed = [], []
    for name in args.images:
        try:
            with Image.open(name) as photo:
                image = np.asarray(photo.convert("RGB"))
            crops.append((Path(name), *crop_photo(image, size, args.detect)))
        except (OSError, UnidentifiedImageError, ValueError) as err:
            failed.append(name)
            print(f"facejax reconstruct: skipped {name}: {err}", file=sys.stderr)

    write_mesh = write_obj if args.format == "obj" else write_ply
    for start in range(0, len(crops), args.batch_size):
        batch = crops[start : start + args.batch_size]
        images = np.stack([c for _, c, _ in batch])
        padded = np.concatenate([images, np.repeat(images[-1:], args.batch_size - len(batch), 0)])
        pred = predict(padded)
        for i, (name, crop_image, transform) in enumerate(batch):
            stem = out / name.stem
            write_mesh(f"{stem}.{args.format}", pred["shape"][i], triangles)
            write_mesh(f"{stem}_identity.{args.format}", pred["identity_shape"][i], triangles)
            np.save(f"{stem}_embedding.npy", pred["embedding"][i])
            photo_landmarks = crop.apply_transform(
                crop.invert_transform(transform), pred["landmarks_2d"][i]
            )
            record = {
                "image": str(name),
                "landmarks_2d": np.round(photo_landmarks, 3).tolist(),
                "landmarks_2d_units": "pixels of the photo (x right, y down, pixel centres +0.5)",
                "landmarks_3d": np.round(pred["landmarks_3d"][i], 3).tolist(),
                "landmarks_3d_units": "mm, model frame (x left of the subject, y up, z out)",
                "pose_degrees": dict(
                    zip(
                        ("pitch", "yaw", "roll"),
                        np.degrees(pred["angles"][i]).round(3).tolist(),
                        strict=True,
                    )
                ),  # fmt: skip
                "rotation_convention": "xyz (R = Rz(roll) Ry(yaw) Rx(pitch))",
                "scale_pixels_per_mm_in_crop": float(pred["scale"][i]),
                "crop_transform": np.asarray(transform).round(6).tolist(),
            }
            Path(f"{stem}.json").write_text(json.dumps(record, indent=1))
            picture = overlay(crop_image, pred["screen_vertices"][i], triangles,
                              pred["landmarks_2d"][i])  # fmt: skip
            Image.fromarray(picture).save(f"{stem}_overlay.png")
            print(f"{name}: wrote {stem}.{args.format} and its landmarks, pose, embedding, overlay")
    print(f"reconstructed {len(crops)} of {len(args.images)} photos into {out}")
    return 1 if failed else 0
