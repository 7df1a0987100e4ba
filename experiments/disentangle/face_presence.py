"""Does `facejax reconstruct`'s flip-consistency score tell faces from what is not a face?

    python experiments/disentangle/face_presence.py --workdir runs/ablation/joint_disentangled/0

Scores (facejax.recipes.photos: NME between the landmarks predicted for a crop and for its
mirror image, mirrored back) of a trained run's predictor on held-out faces of its test split
and on four kinds of non-face crops of the same size: uniform noise, 8-pixel colour blocks, the
synthetic faces' own backgrounds, and held-out faces cut into a 4 x 4 grid of shuffled tiles.
Prints JSON: the 10th, 50th and 90th percentiles of each.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax
import ml_collections
import numpy as np

from facejax.data import synthetic_backgrounds
from facejax.data.fixed_batches import map_fixed_batches
from facejax.recipes import datasets, get_recipe, photos

GRID = 4


def non_faces(faces: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n, size = len(faces), faces.shape[1]
    tile = size // GRID

    def blocks():
        coarse = rng.uniform(0, 255, (n, size // 8, size // 8, 3))
        return np.kron(coarse, np.ones((1, 8, 8, 1))).astype(np.uint8)

    def shuffled(face):
        tiles = face.reshape(GRID, tile, GRID, tile, 3).transpose(0, 2, 1, 3, 4)
        tiles = tiles.reshape(GRID * GRID, tile, tile, 3)[rng.permutation(GRID * GRID)]
        return tiles.reshape(GRID, GRID, tile, tile, 3).transpose(0, 2, 1, 3, 4).reshape(face.shape)

    backgrounds = np.stack(
        [
            np.asarray(synthetic_backgrounds.random_background(jax.random.key(i), size))
            for i in range(n)
        ]
    )
    if backgrounds.dtype != np.uint8:
        backgrounds = (np.clip(backgrounds, 0, 1) * 255).astype(np.uint8)
    return {
        "noise": rng.integers(0, 256, faces.shape, dtype=np.uint8),
        "colour_blocks": blocks(),
        "backgrounds": backgrounds,
        "shuffled_face_tiles": np.stack([shuffled(f) for f in faces]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--num", type=int, default=200, help="held-out faces (and of each kind)")
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()

    workdir = Path(args.workdir)
    config = ml_collections.ConfigDict(json.loads((workdir / "config.json").read_text()))
    predict, _ = get_recipe(config.recipe).load_predictor(config, workdir)
    source = datasets.prepare_dataset(config)[0].as_data_source("test")
    step = max(1, len(source) // args.num)
    faces = np.stack([source[i]["image"] for i in range(0, len(source), step)][: args.num])
    sets = {"faces": faces, **non_faces(faces, np.random.default_rng(0))}
    report = {}
    for name, images in sets.items():
        predicted = map_fixed_batches(predict, images, args.batch_size)["landmarks_2d"]
        scores = photos.flip_consistency(predict, images, predicted, args.batch_size)
        p10, p50, p90 = np.percentile(scores, [10, 50, 90])
        report[name] = {"count": len(images), "p10": p10, "median": p50, "p90": p90}
    print(json.dumps({"workdir": str(workdir), "flip_consistency_nme": report}, indent=1))


if __name__ == "__main__":
    main()
