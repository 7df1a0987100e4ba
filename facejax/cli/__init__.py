"""The ``facejax`` command. Each subcommand lives in its own module of this package and
registers itself through ``add_parser(subparsers)``; ``main`` only dispatches.

Expected failures (a bad file or argument, a write that fails, a damaged checkpoint, a result
with NaN) end in one line on stderr, ``facejax COMMAND: error: ...`` naming the file or the
option, and exit code 2; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from facejax.cli import huge_pages

# Module names under facejax.cli, in the order `facejax --help` lists them.
_COMMANDS = ("info", "convert", "render", "synth", "fit", "train", "evaluate", "reconstruct")
# The ones that run XLA computations long enough for huge pages to pay for a re-run (huge_pages).
_COMPUTE_COMMANDS = ("render", "synth", "fit", "train", "evaluate", "reconstruct")


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
    from facejax.formats.load import LoadOptionError

    if argv is None and len(sys.argv) > 1 and sys.argv[1] in _COMPUTE_COMMANDS:
        huge_pages.rerun_with_huge_pages()  # returns unless it re-runs this command line

    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except LoadOptionError as err:
        # The library's message names Python keywords (format=); here they are --format.
        print(f"facejax {args.command}: error: {err.command_line_message()}", file=sys.stderr)
        return 2
    except (OSError, ValueError, FloatingPointError) as err:
        # Loader, argument and write errors name the file and the problem (an OSError's
        # filename is part of its text): no traceback.
        print(f"facejax {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
