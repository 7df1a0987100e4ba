"""``facejax reconstruct --workdir DIR IMG... --out OUT``: a trained model on users' photos.

The work is the library's (``facejax.recipes.photos``: crops, batched predictions, the files);
this module parses the arguments, reads the photos and prints.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


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


def run(args) -> int:
    import ml_collections

    from facejax.formats import read_image
    from facejax.recipes import get_recipe, photos

    path = Path(args.workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a facejax training run (no config.json)")
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
    recipe = get_recipe(config.recipe)
    if not hasattr(recipe, "load_predictor"):
        raise ValueError(f"recipe {config.recipe!r} has no predictor for reconstruct")
    predict, model3d = recipe.load_predictor(config, args.workdir)
    size = int(config.data.image_size)

    crops, failed = [], []
    for name in args.images:
        try:
            crops.append((Path(name), *photos.crop_photo(read_image(name), size, args.detect)))
        except (OSError, ValueError) as err:
            failed.append(name)
            print(f"facejax reconstruct: skipped {name}: {err}", file=sys.stderr)

    written = photos.write_reconstructions(
        predict, model3d, crops, args.out, batch_size=args.batch_size, mesh_format=args.format
    )
    for (name, _, _), stem in zip(crops, written, strict=True):
        print(f"{name}: wrote {stem}.{args.format} and its landmarks, pose, embedding, overlay")
    print(f"reconstructed {len(crops)} of {len(args.images)} photos into {args.out}")
    return 1 if failed else 0
