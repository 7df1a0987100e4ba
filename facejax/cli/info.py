"""``facejax info MODEL``: what a morphable model file holds."""

from __future__ import annotations

import json

from facejax.cli.fit import add_landmark_options


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "info",
        help="vertices, triangles, basis sizes, landmarks and units of a model",
        description="Prints what a morphable model holds. MODEL is a file of any supported "
        "format or 'synthetic' (the embedded model).",
    )
    parser.add_argument("model", metavar="MODEL", help="model file, or 'synthetic'")
    parser.add_argument("--format", default=None, help="model format when the file does not tell")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_landmark_options(parser)
    parser.set_defaults(run=run)


def describe(model) -> dict:
    """A JSON-able summary of a MorphableModel."""
    import numpy as np

    mean = np.asarray(model.mean_shape)
    extent = (mean.max(0) - mean.min(0)).round(1).tolist() if mean.size else [0, 0, 0]
    return {
        "name": model.name,
        "units": model.units,
        "vertices": model.num_vertices,
        "triangles": model.num_triangles,
        "identity_components": model.num_identity,
        "expression_components": model.num_expression,
        "albedo_components": model.num_albedo,
        "landmarks": model.num_landmarks,
        "articulated_joints": model.skinning.num_joints if model.skinning is not None else 0,
        "face_mask": model.face_mask is not None,
        "skin_mask": model.skin_mask is not None,
        "extent_xyz": extent,
        "expression_names": list(model.expression_names),
        "dtype": str(mean.dtype),
    }


def run(args) -> int:
    from facejax.cli.fit import load_with_landmarks

    model, definition = load_with_landmarks(args)
    summary = describe(model)
    summary["landmarks_defined"] = int(definition.defined.sum())
    summary["sliding_contour_points"] = (
        0 if definition.contour is None else definition.contour.num_contour
    )
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    width = max(len(k) for k in summary)
    for key, value in summary.items():
        if key == "expression_names":
            value = ", ".join(value) if value else "-"
        elif key == "extent_xyz":
            value = " x ".join(f"{v:g}" for v in value) + f" {summary['units']}"
        print(f"{key.replace('_', ' '):<{width}}  {value}")
    return 0
