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
    parser.add_argument(
        "--landmarks",
        default=None,
        help="landmark definition file, if separate: vertex ids (.txt/.npy) or an eos mapping "
        "(ibug_to_sfm.txt)",
    )
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
    defined = None
    if args.landmarks:
        from facejax.formats.eos_landmarks import is_landmark_mapping, read_landmark_mapping

        if is_landmark_mapping(args.landmarks):
            defined = read_landmark_mapping(args.landmarks, model.num_landmarks).defined
    # The mapping's mask goes into the .npz: a fit of it weighs the unmapped points 0.
    save_model(model, out, landmark_defined=defined)
    summary = describe(model)
    print(
        f"wrote {out}: {summary['vertices']} vertices, {summary['triangles']} triangles, "
        f"{summary['identity_components']}/{summary['expression_components']}/"
        f"{summary['albedo_components']} identity/expression/albedo components, "
        f"{summary['landmarks']} landmarks, {summary['units']}"
    )
    if defined is not None and not defined.all():
        print(
            f"{args.landmarks} maps {int(defined.sum())} of {defined.size} landmarks; the "
            f"others got stand-in vertices, marked undefined in {out}: facejax fit gives them "
            "weight 0 (--contour slides the jaw points)"
        )
    return 0
