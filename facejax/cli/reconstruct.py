"""``facejax reconstruct --workdir DIR IMG... --out OUT``: a trained model on users' photos.

The work is the library's (``facejax.recipes.photos``: crops, batched predictions, the files);
this module parses the arguments, reads the photos and prints.

Each result is reported with the RMS contrast of the crop the network saw
(facejax.data.image_contrast): a batch user can filter on it. A flat crop (contrast under
``FLAT_CONTRAST``: a blank or uniform photo) holds no face and is skipped like an unreadable
photo, not reconstructed into a confident one. ``OUT/reconstruct.json`` lists every photo with
its contrast, output stem or error.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from facejax.cli.options import int_in
from facejax.cli.out_folder import check_out_folder

SUMMARY_NAME = "reconstruct.json"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "reconstruct",
        help="run a trained model (facejax train) on photos: meshes, landmarks, pose, embeddings",
        description="Restores the latest checkpoint of WORKDIR and, for each photo, writes "
        "<stem>.obj (the face, mm, model frame), <stem>_identity.obj (its neutral face), "
        "<stem>.json (68 landmarks in the photo's pixels and in 3D, pose in degrees), "
        "<stem>_embedding.npy (the identity feature) and <stem>_overlay.png (the crop the "
        "network saw, with the face and landmarks drawn), and reconstruct.json (each photo's "
        "crop contrast, outputs or error). A photo that cannot be read, is over the pixel "
        "limit or is flat (no contrast) is reported by name and the others go on.",
    )
    parser.add_argument("--workdir", required=True, help="run folder written by facejax train")
    parser.add_argument("images", nargs="+", metavar="IMG", help="photos (any Pillow format)")
    parser.add_argument("--out", required=True, help="output folder (new or empty)")
    parser.add_argument(
        "--force", action="store_true", help="write into an --out folder that holds files"
    )
    parser.add_argument(
        "--batch-size", type=int_in(1, 1024), default=16, help="photos per batch (1 to 1024)"
    )
    parser.add_argument(
        "--detect",
        action="store_true",
        help="find the face and its landmarks with the optional detector (facejax[detect]) and "
        "align the crop to them; without it the central square of each photo is used",
    )
    parser.add_argument("--format", choices=("obj", "ply"), default="obj", help="mesh format")
    parser.set_defaults(run=run)


def run(args) -> int:
    from facejax.data.image_contrast import FLAT_CONTRAST, rms_contrast
    from facejax.formats import read_image
    from facejax.formats.atomic_files import write_text_atomic
    from facejax.recipes import get_recipe, photos
    from facejax.recipes.trained_run import load_run_config

    out = check_out_folder(args.out, force=args.force)
    config = load_run_config(args.workdir)
    recipe = get_recipe(config.recipe)
    if not hasattr(recipe, "load_predictor"):
        raise ValueError(f"recipe {config.recipe!r} has no predictor for reconstruct")
    predict, model3d = recipe.load_predictor(config, args.workdir)
    size = int(config.data.image_size)

    crops, contrasts, references, failed = [], [], [], []
    for name in args.images:
        try:
            crop, transform, landmarks = photos.crop_photo(read_image(name), size, args.detect)
            contrast = rms_contrast(crop)
            if contrast < FLAT_CONTRAST:
                raise ValueError(
                    f"{name}: flat image (crop contrast {contrast:.4f} < {FLAT_CONTRAST}): "
                    f"no face to reconstruct"
                )
        except (OSError, ValueError) as err:
            failed.append({"image": name, "error": str(err)})
            print(f"facejax reconstruct: skipped {name}: {err}", file=sys.stderr)
            continue
        crops.append((Path(name), crop, transform))
        contrasts.append(contrast)
        references.append(landmarks)

    written = photos.write_reconstructions(
        predict, model3d, crops, out, batch_size=args.batch_size, mesh_format=args.format,
        reference_landmarks=references,
    )  # fmt: skip
    results = []
    for (name, _, _), result, contrast in zip(crops, written, contrasts, strict=True):
        if result.stem is None:  # the prediction was not finite: nothing written
            failed.append({"image": str(name), "error": result.error})
            print(f"facejax reconstruct: skipped {result.error}", file=sys.stderr)
            continue
        scores = {"contrast": contrast, **(result.scores or {})}
        results.append({"image": str(name), "output": result.stem.name, **scores})
        shown = ", ".join(f"{key} {value:.3f}" for key, value in scores.items())
        print(
            f"{name}: {shown}; wrote {result.stem}.{args.format} and its landmarks, pose, "
            f"embedding, overlay"
        )
    summary = {
        "contrast": "RMS contrast of the crop the network saw, 0 to 0.5 (faces: about 0.1 to "
        "0.3); see facejax.data.image_contrast",
        "flip_consistency_nme": "NME (box normaliser) between the predicted 2D landmarks and "
        "those predicted for the mirrored crop, mirrored back: low for faces, high for what is "
        "not a face (see facejax.recipes.photos.PhotoResult and docs/fitting.md)",
        "landmark_agreement_nme": "with --detect: NME (box normaliser) of the predicted 2D "
        "landmarks against the detector's; high when the reconstruction does not follow the "
        "face (see facejax.recipes.photos.PhotoResult)",
        "results": results,
        "failed": failed,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / SUMMARY_NAME, json.dumps(summary, indent=1))
    print(f"reconstructed {len(results)} of {len(args.images)} photos into {out}")
    return 1 if failed else 0
