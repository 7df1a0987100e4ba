"""``facejax evaluate --workdir DIR``: evaluate a run's latest checkpoint (metrics.json)."""

from __future__ import annotations

import json
from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a run's latest checkpoint on its test split",
        description="Reads WORKDIR/config.json (saved by facejax train), restores the latest "
        "checkpoint and writes WORKDIR/metrics.json.",
    )
    parser.add_argument("--workdir", required=True, help="run folder written by facejax train")
    parser.set_defaults(run=run)


def run(args) -> int:
    import ml_collections

    from facejax.recipes import get_recipe

    path = Path(args.workdir) / "config.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a facejax training run (no config.json)")
    config = ml_collections.ConfigDict(json.loads(path.read_text()))
    config.lock()
    metrics = get_recipe(config.recipe).evaluate(config, args.workdir)
    print(json.dumps(metrics, indent=2, default=str))
    return 0
