"""How much identity do 68 exact 2D landmarks tell, on a synthetic-faces config?

A diagnostic, not the method: an MLP maps each image's *true* 2D landmarks (centred, scaled by
their extent, with their visibility) to identity coefficients, trained with the recipe's shape
loss (squared error after translation and scale, face region) on the training people, and is
scored on the held-out people beside the mean face. It bounds what a network that located the
landmarks perfectly, and read nothing else, could learn from this many people:

    python experiments/disentangle/landmark_oracle.py --data-dir ~/.cache/facejax/datasets \\
        --config small --steps 3000

prints one JSON line per evaluation (experiments/disentangle/README.md has the figures).
``--noise-nme X`` moves every landmark of both splits by isotropic Gaussian noise whose mean
distance is ``X`` times the face's landmark box (``sqrt(width * height)``, the normaliser of
``landmark_nme``): what landmarks located as well as a trained network's (its NME) would tell.
"""

from __future__ import annotations

import argparse
import json

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from facejax import losses, morphable
from facejax.evaluation import baselines
from facejax.formats import load_model
from facejax.recipes import datasets


def noisy_landmarks(points: np.ndarray, nme: float, rng) -> np.ndarray:
    """``points [N, L, 2]`` moved by Gaussian noise of mean length ``nme`` x each face's box."""
    extent = points.max(1) - points.min(1)
    box = np.sqrt(extent[:, 0] * extent[:, 1])[:, None, None]
    # An isotropic 2D Gaussian of std s has mean length s * sqrt(pi / 2).
    sigma = nme * box / np.sqrt(np.pi / 2)
    return points + sigma * rng.standard_normal(points.shape)


def landmark_features(data) -> np.ndarray:
    """``[N, 68 * 2 + 68]``: landmarks centred and divided by their extent, then visibility."""
    points = data["landmarks"].astype(np.float32)
    centre = points.mean(1, keepdims=True)
    extent = np.abs(points - centre).max((1, 2), keepdims=True)
    flat = ((points - centre) / extent).reshape(len(points), -1)
    return np.concatenate([flat, data["landmark_visibility"].astype(np.float32)], 1)


class LandmarkMLP(nn.Module):
    outputs: int

    @nn.compact
    def __call__(self, x):
        for _ in range(3):
            x = nn.relu(nn.Dense(512)(x))
        return nn.Dense(self.outputs)(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--config", default="small")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--noise-nme", type=float, default=0.0, metavar="X")
    args = parser.parse_args()

    builder = datasets.prepare_builder("facejax_synthetic_faces", args.config, args.data_dir)
    model = morphable.to_device(load_model(builder.builder_config.model))
    fields = ("identity", "identity_coeffs", "landmarks", "landmark_visibility")
    train = datasets.read_split(builder.as_data_source("train"), fields)
    test = datasets.read_split(builder.as_data_source("test"), fields)
    if args.noise_nme > 0:
        noise = np.random.default_rng(args.seed + 1)
        for split in (train, test):
            split["landmarks"] = noisy_landmarks(split["landmarks"], args.noise_nme, noise)
    x_train, x_test = landmark_features(train), landmark_features(test)
    face = (model.face_mask > 0.5).astype(jnp.float32)
    decode = jax.vmap(morphable.shape, in_axes=(None, 0))

    net = LandmarkMLP(model.num_identity)
    params = net.init(jax.random.key(args.seed), x_train[:1])
    optimizer = optax.adam(1e-3)
    opt_state = optimizer.init(params)

    def loss_fn(params, x, coeffs):
        pred = decode(model, net.apply(params, x))
        return jnp.mean(losses.scale_aligned_squared_error(pred, decode(model, coeffs), face))

    @jax.jit
    def step(params, opt_state, x, coeffs):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, coeffs)
        updates, opt_state = optimizer.update(grads, opt_state)
        return optax.apply_updates(params, updates), opt_state, loss

    mean_face = morphable.shape(model, jnp.asarray(datasets.mean_identity_coeffs(
        builder.as_data_source("train"))))  # fmt: skip
    target = np.asarray(decode(model, jnp.asarray(test["identity_coeffs"])))
    rng = np.random.default_rng(args.seed)
    for i in range(1, args.steps + 1):
        batch = rng.integers(0, len(x_train), 64)
        params, opt_state, loss = step(params, opt_state, x_train[batch],
                                       train["identity_coeffs"][batch])  # fmt: skip
        if i % 1000 == 0 or i == args.steps:
            pred = np.asarray(decode(model, net.apply(params, x_test)))
            report = baselines.shape_rmse_with_baseline(
                "identity", pred, target, mean_face, baselines.shape_regions(model)
            )
            record = {"step": i, "noise_nme": args.noise_nme, "train_loss_mm2": float(loss)}
            print(json.dumps({**record, **report}), flush=True)


if __name__ == "__main__":
    main()
