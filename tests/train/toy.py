"""A toy problem for the training machinery: a tiny MLP with BatchNorm on random data.

Loaded by tests/train/conftest.py (the ``toy`` fixture) and run as a script by the two-process
test (``python tests/train/toy.py worker ...``), so that both use the same model and data.

The labels are a fixed linear classifier of the inputs, so the loss can go down. The first
layer has no bias: its gradient would be zero through BatchNorm, and Adam turns a zero gradient's
rounding noise into full-size steps whose sign differs between devices layouts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

FEATURES = 8
CLASSES = 3


class ToyNet(nn.Module):
    """``[B, 8] -> [B, 3]`` logits: Dense (no bias) -> BatchNorm -> relu -> Dense."""

    axis_name: str | None = None
    dtype: jnp.dtype = jnp.float32
    sync_batch_norm: bool = True

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(16, use_bias=False, dtype=self.dtype)(x)
        x = nn.BatchNorm(
            use_running_average=not train,
            momentum=0.9,
            axis_name=self.axis_name if self.sync_batch_norm else None,
            dtype=self.dtype,
        )(x)
        x = nn.relu(x)
        return nn.Dense(CLASSES, dtype=self.dtype)(x)


def make_source(num_examples: int = 96, seed: int = 0) -> list[dict[str, np.ndarray]]:
    """Examples ``{"x": [8] float32, "y": int32 label, "index": int32}``."""
    rs = np.random.RandomState(seed)
    x = rs.randn(num_examples, FEATURES).astype(np.float32)
    w = rs.randn(FEATURES, CLASSES).astype(np.float32)
    y = np.argmax(x @ w, axis=1).astype(np.int32)
    return [{"x": x[i], "y": y[i], "index": np.int32(i)} for i in range(num_examples)]


def make_model(config, *, sync_batch_norm: bool = True) -> ToyNet:
    from facejax.train import batch_axis_name, compute_dtype

    return ToyNet(
        axis_name=batch_axis_name(config.parallelism),
        dtype=compute_dtype(config.precision),
        sync_batch_norm=sync_batch_norm,
    )


def make_fns(config, *, sync_batch_norm: bool = True):
    """``(init_fn, loss_fn)`` for facejax.train.run_training."""
    model = make_model(config, sync_batch_norm=sync_batch_norm)

    def init_fn(rng):
        return model.init(rng, jnp.zeros((2, FEATURES), jnp.float32), train=False)

    def loss_fn(params, batch_stats, batch, rng, train=True):
        logits, updates = model.apply(
            {"params": params, "batch_stats": batch_stats},
            batch["x"],
            train=train,
            mutable=["batch_stats"],
        )
        log_probs = jax.nn.log_softmax(logits.astype(jnp.float32))
        per_example = -jnp.take_along_axis(log_probs, batch["y"][:, None], axis=1)[:, 0]
        accuracy = jnp.mean((jnp.argmax(logits, axis=1) == batch["y"]).astype(jnp.float32))
        return jnp.mean(per_example), ({"accuracy": accuracy}, updates["batch_stats"])

    return init_fn, loss_fn


def make_config(**overrides):
    """facejax.train.default_config for a few quick steps (no progress bar, sync saves)."""
    from facejax.train import default_config

    config = default_config()
    config.num_steps = 6
    config.log_every = 2
    config.checkpoint_every = 3
    config.progress = False
    config.tensorboard = False
    config.optimizer.learning_rate = 0.05
    config.optimizer.warmup_steps = 1
    config.checkpoint.async_save = False
    for name, value in overrides.items():
        target = config
        *path, leaf = name.split(".")
        for part in path:
            target = target[part]
        target[leaf] = value
    return config


def worker(args) -> None:
    """One process of the two-process test: trains and writes its final parameters."""
    from facejax.train import initialize_distributed

    index, count = initialize_distributed(f"localhost:{args.port}", args.processes, args.process_id)
    from facejax.data.pipeline import make_loader
    from facejax.train import run_training

    assert (index, count) == (args.process_id, args.processes), (index, count)
    config = make_config(**json.loads(args.overrides))
    init_fn, loss_fn = make_fns(config)
    source = make_source()

    def train_data():  # each process reads its own shard (make_loader defaults to the process)
        return make_loader(source, batch_size=args.global_batch // count, seed=0)

    state = run_training(
        config, args.workdir, init_fn=init_fn, loss_fn=loss_fn, train_data=train_data
    )
    params = jax.tree.map(lambda x: np.asarray(x.addressable_data(0)), state.params)
    flat = {jax.tree_util.keystr(k): v for k, v in jax.tree_util.tree_leaves_with_path(params)}
    np.savez(os.path.join(args.out, f"params_{index}.npz"), **flat)
    print(
        json.dumps(
            {"process": index, "devices": len(jax.devices()), "local": len(jax.local_devices())}
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["worker"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--process_id", type=int, required=True)
    parser.add_argument("--global_batch", type=int, default=16)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--overrides", default="{}")
    worker(parser.parse_args(sys.argv[1:]))
