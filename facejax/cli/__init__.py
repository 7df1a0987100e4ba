"""The ``facejax`` command. Each subcommand lives in its own module of this package and
registers itself through ``add_parser(subparsers)``; ``main`` only dispatches."""

from __future__ import annotations

import argparse
import importlib
import sys

# Module names under facejax.cli, in the order `facejax --help` lists them.
_COMMANDS = ("info", "convert", "render", "synth", "fit", "train", "evaluate", "reconstruct")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="facejax",
        description="Differentiable 3D morphable models and 3D face reconstruction in JAX.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMANDS:
        importlib.import_module(f"facejax.cli.{name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (FileNotFoundError, ValueError) as err:
        # Loader and argument errors already name the file and the problem: no traceback.
        print(f"facejax {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
