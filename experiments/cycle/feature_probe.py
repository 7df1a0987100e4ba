"""How much of a person's identity a cycle run's shared features hold, beside how much its
identity branch reads out of them: a linear probe.

    python experiments/cycle/feature_probe.py --workdir runs/cycle_fit/md_kp --train-clips 2000

Takes the run's latest checkpoint, computes the shared encoder's features of ``--frames`` frames
of each of the first ``--train-clips`` training clips and of every held-out clip, and fits a
ridge regression from the features to the clips' true identity coefficients on the training
people (the ridge weight picked on the last fifth of them, then refitted on all). Prints JSON:
the identity face-region and whole-head RMSE ratios to the mean face (the training people's) on
the held-out frames, of the probe and of the network's own identity branch on the same frames.

A probe far below the branch says the features hold identity the branch does not read out (a
head to change); a probe at the branch says the features are the limit. The synthetic truth is
read here for the probe and the report only: training never sees it.
"""

from __future__ import annotations

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

from facejax import morphable
from facejax.evaluation import baselines
from facejax.recipes import cycle, datasets
from facejax.recipes.trained_run import load_run_config
from facejax.train import cast_images

RIDGE_WEIGHTS = (1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--train-clips", type=int, default=2000)
    parser.add_argument("--frames", type=int, default=4, help="frames per clip (evenly spaced)")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    config = load_run_config(args.workdir, recipe="cycle")
    net, variables, model3d, step = cycle.restore(config, args.workdir)
    builder = cycle._prepare_data(config)
    train, test = builder.as_data_source("train"), builder.as_data_source("test")

    @jax.jit
    def forward(images):
        # One pass: the codes, and the shared encoder's output captured on the way.
        codes, state = net.apply(
            variables, cast_images(images, config.precision), model3d, train=False,
            capture_intermediates=lambda m, name: m.scope.path == ("encoder",)
            and name == "__call__",
            mutable=["intermediates"],
        )  # fmt: skip
        features = state["intermediates"]["encoder"]["__call__"][0]
        return features.astype(jnp.float32), codes.identity

    def split(source, count):
        clips = [source[i] for i in range(min(count, len(source)))]
        frames = np.stack([c["frames"] for c in clips])  # [C, T, S, S, 3]
        picks = np.linspace(0, frames.shape[1] - 1, args.frames).round().astype(int)
        images = frames[:, picks].reshape((-1,) + frames.shape[2:])
        people = np.repeat(np.arange(len(clips)), len(picks))
        identity = np.stack([np.asarray(c["identity_coeffs"], np.float32) for c in clips])
        features, branch = [], []
        for start in range(0, len(images), args.batch_size):
            f, b = jax.device_get(forward(images[start : start + args.batch_size]))
            features.append(f), branch.append(b)
        return np.concatenate(features), np.concatenate(branch), identity[people], people

    train_f, _, train_y, train_people = split(train, args.train_clips)
    test_f, test_branch, test_y, test_people = split(test, len(test))

    # The ridge weight on the last fifth of the training people, then all of them.
    held = train_people >= int(0.8 * (train_people.max() + 1))
    errors = {
        w: float(
            np.mean((_ridge(train_f[~held], train_y[~held], w)(train_f[held]) - train_y[held]) ** 2)
        )
        for w in RIDGE_WEIGHTS
    }
    weight = min(errors, key=errors.get)
    probe = _ridge(train_f, train_y, weight)(test_f)

    decode = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0)))
    truth = decode(model3d, jnp.asarray(test_y))
    mean_face = morphable.shape(model3d, jnp.asarray(datasets.mean_identity_coeffs(train)))
    regions = baselines.shape_regions(model3d)
    report = {"workdir": args.workdir, "step": int(step), "feature_dim": int(train_f.shape[1]),
              "train_clips": int(train_people.max() + 1), "train_frames": len(train_f),
              "test_clips": int(test_people.max() + 1), "test_frames": len(test_f),
              "ridge_weight": weight, "ridge_validation_mse": errors}  # fmt: skip
    for name, coeffs in (("probe", probe), ("branch", test_branch)):
        rmse = baselines.shape_rmse_with_baseline(
            "identity", decode(model3d, jnp.asarray(coeffs, jnp.float32)), truth, mean_face, regions
        )
        report.update({f"{name}_{k}": float(v) for k, v in rmse.items() if k.endswith("ratio")})
    print(json.dumps(report, indent=1))


def _ridge(features, targets, weight: float):
    """``predict(features)`` of the ridge regression of ``targets`` on standardised
    ``features`` (float64, an intercept that is not penalised)."""
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / std
    x = np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(np.float64)
    penalty = weight * len(x) * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0
    coef = np.linalg.solve(x.T @ x + penalty, x.T @ targets.astype(np.float64))

    def predict(new):
        z = np.concatenate([(new - mean) / std, np.ones((len(new), 1))], axis=1)
        return (z @ coef).astype(np.float32)

    return predict


if __name__ == "__main__":
    main()
