"""``facejax render MODEL --out face.png``: a picture of a morphable model.

Numbers are checked before anything is drawn: angles finite (reduced to [-180, 180] degrees),
expression coefficients finite and within :data:`EXPRESSION_LIMIT` standard deviations, at most
:data:`MAX_VIEWS` turntable views and a strip at most :data:`MAX_STRIP_WIDTH` pixels wide. A
picture in which the face covers no pixel (or holds NaN) is an error and is not written.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facejax.cli.options import angle_degrees, int_in

# Part of the image height the model's bounding box takes up.
FILL = 0.85
# Coefficients are in standard deviations of the model's prior; beyond 5 the linear model no
# longer describes a face (self-intersections, a jaw through the skull).
EXPRESSION_LIMIT = 5.0
MAX_VIEWS = 180  # one per degree of the turntable's 180-degree sweep
MAX_STRIP_WIDTH = 16384  # pixels: e.g. 64 views of 256, 4 of 4096


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "render",
        help="render a model with neutral or random parameters to a PNG",
        description="Renders a morphable model (any supported file, or 'synthetic') with the "
        "facejax rasterizer and writes a PNG. Angles are in degrees.",
    )
    parser.add_argument("model", metavar="MODEL", help="model file, or 'synthetic'")
    parser.add_argument("--out", required=True, help="output PNG path")
    parser.add_argument("--format", default=None, help="model format when the file does not tell")
    parser.add_argument("--size", type=int, default=256, help="image side in pixels (default 256)")
    parser.add_argument("--random", action="store_true", help="random identity and albedo")
    parser.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    parser.add_argument(
        "--yaw", type=angle_degrees, default=0.0, help="yaw in degrees (+ turns right)"
    )
    parser.add_argument("--pitch", type=angle_degrees, default=0.0, help="pitch in degrees")
    parser.add_argument("--roll", type=angle_degrees, default=0.0, help="roll in degrees")
    parser.add_argument(
        "--expression",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="expression coefficient in standard deviations (within +-5), by name (e.g. "
        "jaw_open=1.5) or index (e.g. 3=-1); repeatable",
    )
    parser.add_argument(
        "--turntable",
        type=int_in(1, MAX_VIEWS),
        nargs="?",
        const=7,
        default=None,
        metavar="N",
        help=f"write a strip of N views (default 7, at most {MAX_VIEWS}) from yaw -90 to +90 "
        "degrees",
    )
    parser.add_argument("--force", action="store_true", help="overwrite OUT if it exists")
    parser.set_defaults(run=run)


def parse_expression(items: list[str], names: tuple[str, ...], count: int) -> dict[int, float]:
    """``["jaw_open=1.5", "3=-1"]`` -> ``{index: value}``; unknown names list the known ones."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--expression {item!r}: expected NAME=VALUE")
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"--expression {item!r}: {value!r} is not a number") from None
        if not abs(number) <= EXPRESSION_LIMIT:  # also refuses NaN
            raise ValueError(
                f"--expression {item!r}: must be a finite number of standard deviations in "
                f"[-{EXPRESSION_LIMIT:g}, {EXPRESSION_LIMIT:g}]"
            )
        if name in names:
            index = names.index(name)
        elif name.isdigit() and int(name) < count:
            index = int(name)
        else:
            known = ", ".join(names) if names else "none (use indices)"
            raise ValueError(
                f"--expression {item!r}: unknown component; named ones: {known}; "
                f"indices 0..{count - 1}"
            )
        values[index] = number
    return values


def framed_params(model, size: int, rotation_deg, expression: dict[int, float], key=None):
    """Parameters that put the model's bounding box in the middle of a ``size`` image."""
    import jax.numpy as jnp

    from facejax import lighting, morphable

    mean = np.asarray(model.mean_shape, np.float64)
    centre = 0.5 * (mean.min(0) + mean.max(0))
    extent = float(np.max(mean.max(0) - mean.min(0)))
    camera = morphable.default_camera(size)
    distance = float(camera.focal[0]) * extent / (FILL * size) + extent / 2
    params = morphable.neutral_params(model, camera=camera, distance=distance)
    if key is not None:
        params = morphable.random_params(model, key, image_size=size, distance=distance).replace(
            expression=params.expression, rotation=params.rotation, translation=params.translation
        )
    expr = np.zeros(model.num_expression, np.float32)
    for index, value in expression.items():
        expr[index] = value
    rotation = jnp.deg2rad(jnp.asarray(rotation_deg, jnp.float32))
    params = params.replace(expression=jnp.asarray(expr), rotation=rotation, camera=camera)
    # The bounding-box centre, not the model origin, goes to the optical axis.
    r = morphable.rotation_matrix(params)
    translation = jnp.array([0.0, 0.0, -distance]) - r @ jnp.asarray(centre, jnp.float32)
    light = lighting.directional(jnp.array([0.3, 0.4, 1.0]), intensity=0.75, ambient_intensity=0.4)
    return params.replace(translation=translation, sh_coeffs=light)


def run(args) -> int:
    import jax
    import jax.numpy as jnp

    from facejax.formats import load_model, write_png
    from facejax.morphable import to_device
    from facejax.render.face import render_face, to_uint8

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"{out}: the output is a PNG file")
    if out.exists() and not args.force:
        raise ValueError(f"{out} exists; pass --force to overwrite it")
    if not 8 <= args.size <= 4096:
        raise ValueError(f"--size {args.size}: must be between 8 and 4096 pixels")
    if args.turntable is not None and args.turntable * args.size > MAX_STRIP_WIDTH:
        raise ValueError(
            f"--turntable {args.turntable} --size {args.size}: the strip would be "
            f"{args.turntable * args.size} pixels wide, over {MAX_STRIP_WIDTH}; use fewer views "
            f"or a smaller --size"
        )
    model = to_device(load_model(args.model, format=args.format))
    expression = parse_expression(args.expression, model.expression_names, model.num_expression)
    key = jax.random.key(args.seed) if args.random else None
    yaws = [args.yaw] if args.turntable is None else np.linspace(-90, 90, args.turntable)
    background = np.array([0.82, 0.84, 0.88], np.float32)
    size = args.size

    @jax.jit
    def draw(params):
        rendering = render_face(
            model, params, size, size, background=background, per_pixel_shading=True
        )
        usable = jnp.all(jnp.isfinite(rendering.image)) & jnp.any(rendering.mask > 0)
        return to_uint8(rendering.image), usable

    views = []
    for yaw in yaws:
        view, usable = draw(
            framed_params(model, size, (args.pitch, yaw, args.roll), expression, key)
        )
        if not bool(usable):  # never a blank picture with success
            raise ValueError(
                f"{out}: the face is not in the picture at yaw {yaw:g}, pitch {args.pitch:g}, "
                f"roll {args.roll:g} (no pixel covered, or NaN); nothing written"
            )
        views.append(np.asarray(view))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_png(out, np.concatenate(views, axis=1))
    print(f"wrote {out} ({len(views)} view{'s' if len(views) > 1 else ''}, {size}x{size} each)")
    return 0
