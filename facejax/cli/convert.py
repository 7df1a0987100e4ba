"""``facejax convert MODEL_FILE OUT.npz``: any supported model file to the native format."""

from __future__ import annotations

from pathlib import Path


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "convert",
        help="convert a model file of any supported format to a native facejax .npz",
        description="Reads a morphable model (format detected from the file, or --format) and "
        "writes it as a native facejax .npz (no pickle, millimetres, 0-based triangles).",
    )
    parser.add_argument("model", metavar="MODEL_FILE", help="input model file, or 'synthetic'")
    parser.add_argument("out", metavar="OUT.npz", help="output file")
    parser.add_argument("--format", default=None, help="input format when the file does not tell")
    parser.add_argument("--landmarks", default=None, help="landmark definition file, if separate")
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.set_defaults(run=run)


def run(args) -> int:
    from facejax.cli.info import describe
    from facejax.formats import load_model, save_model

    out = Path(args.out)
    if out.suffix != ".npz":
        raise ValueError(f"{out}: the native format is a .npz file")
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; pass --force to overwrite it")
    kwargs = {"landmarks": args.landmarks} if args.landmarks else {}
    model = load_model(args.model, format=args.format, **kwargs)
    save_model(model, out)
    summary = describe(model)
    print(
        f"wrote {out}: {summary['vertices']} vertices, {summary['triangles']} triangles, "
        f"{summary['identity_components']}/{summary['expression_components']}/"
        f"{summary['albedo_components']} identity/expression/albedo components, "
        f"{summary['landmarks']} landmarks, {summary['units']}"
    )
    return 0
