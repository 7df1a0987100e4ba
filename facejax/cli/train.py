"""``facejax train --config FILE.py:VARIANT --workdir DIR``: run an experiment's recipe."""

from __future__ import annotations

import ast
import importlib.util
import json
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train (or resume) an experiment, then evaluate it",
        description="Trains the recipe an experiment config names, resuming from the latest "
        "checkpoint in WORKDIR, and writes WORKDIR/metrics.json at the end.",
    )
    parser.add_argument(
        "--config", required=True, metavar="FILE.py:VARIANT", help="experiment config and variant"
    )
    parser.add_argument("--workdir", required=True, help="run folder (checkpoints, metrics)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set num_steps=100 --set loss.w_shape=0",
    )
    parser.set_defaults(run=run)


def load_config(spec: str, overrides: list[str] = ()):
    """The locked config of ``"path/config.py:variant"`` with ``KEY=VALUE`` overrides applied
    (values parsed as Python literals when they are one, else kept as strings)."""
    path, _, variant = spec.partition(":")
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such experiment config")
    module_spec = importlib.util.spec_from_file_location(f"facejax_experiment_{file.stem}", file)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    if not hasattr(module, "get_config"):
        raise ValueError(f"{file}: an experiment config defines get_config(variant)")
    config = module.get_config(variant) if variant else module.get_config()
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise ValueError(f"--set {item!r}: expected KEY=VALUE")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            node = node.get(part, None)
            if node is None:
                break
        if node is None or leaf not in node:  # a locked ConfigDict would say so less clearly
            raise ValueError(f"--set {item!r}: the config has no field {key!r}")
        try:
            node[leaf] = float(value) if isinstance(node[leaf], float) else value
        except (TypeError, ValueError):  # a locked field keeps its type: say which
            kind = type(node[leaf]).__name__
            expected = {"int": "an integer", "float": "a number", "bool": "True or False"}
            raise ValueError(
                f"--set {item!r}: {key} must be {expected.get(kind, 'a ' + kind)}, got {text!r}"
            ) from None
    return config


def run(args) -> int:
    from facejax.recipes import get_recipe
    from facejax.train import initialize_distributed

    if Path(args.workdir).exists() and not Path(args.workdir).is_dir():
        raise ValueError(f"--workdir {args.workdir}: is an existing file, not a folder")
    initialize_distributed()
    config = load_config(args.config, args.set)
    metrics = get_recipe(config.recipe).train_and_evaluate(config, args.workdir)
    print(json.dumps({k: v for k, v in metrics.items()}, indent=2, default=str))
    return 0
