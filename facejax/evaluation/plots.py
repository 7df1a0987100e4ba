"""The pictures of a benchmark report: ROC and cumulative error curves, a per-vertex error heat
map on the mean face, inputs beside their reconstructions.

Curves are drawn with matplotlib (imported here only, through its object-oriented ``Figure``
and the Agg canvas: no pyplot, no global backend); faces are drawn with facejax's own
rasterizer (``facejax.render``). Every picture is checked before it is written: its data must be
finite and non-empty and the picture must not be one flat colour, else a ``ValueError`` says
which plot and why: a report never shows a blank or NaN plot. Files are written whole or not at
all (``facejax.formats.image_files.write_png``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from facejax.formats.image_files import write_png

# Pixels per inch of the curve figures (a 5 x 4 inch figure is 500 x 400 pixels).
_DPI = 100


def check_not_blank(pixels, name: str) -> np.ndarray:
    """``pixels`` (``[H, W, 3]`` uint8) once they are a picture: not empty, not one colour.

    Raises:
      ValueError: naming the plot, for an empty or single-coloured picture.
    """
    pixels = np.asarray(pixels)
    if pixels.size == 0 or pixels.ndim != 3 or pixels.shape[-1] != 3:
        raise ValueError(f"{name}: no picture to write (pixels of shape {pixels.shape})")
    if np.all(pixels == pixels.reshape(-1, 3)[0]):
        raise ValueError(f"{name}: the picture is blank (one colour); not written")
    return pixels


def _finite(values, name: str, what: str) -> np.ndarray:
    values = np.asarray(values, np.float64)
    if values.size == 0:
        raise ValueError(f"{name}: no {what} to plot")
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{name}: {int(np.sum(~np.isfinite(values)))} of the {what} are NaN or infinite"
        )
    return values


def _figure_pixels(figure) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def roc_plot(curves: Mapping[str, tuple], *, title: str = "ROC") -> np.ndarray:
    """ROC curves, ``[H, W, 3]`` uint8: true accept rate against false accept rate (log scale).

    Args:
      curves: ``{label: (far [P], tar [P])}`` (``facejax.evaluation.roc_curve``'s ``far`` and
        ``tar``), one line each.
      title: the figure's title.

    Raises:
      ValueError: no curve, or a curve with NaN, infinite or no points.
    """
    from matplotlib.figure import Figure

    if not curves:
        raise ValueError(f"{title}: no ROC curve to plot")
    figure = Figure(figsize=(5, 4), dpi=_DPI)
    axes = figure.add_subplot()
    for label, (far, tar) in curves.items():
        far = _finite(far, title, f"false accept rates of {label!r}")
        tar = _finite(tar, title, f"true accept rates of {label!r}")
        # FAR 0 has no place on a log axis: start the line at the smallest positive FAR.
        smallest = far[far > 0].min() if np.any(far > 0) else 1e-4
        axes.plot(np.maximum(far, smallest), tar, label=label)
    chance = np.logspace(-4, 0, 50)  # TAR = FAR: a straight line only on linear axes
    axes.plot(chance, chance, color="0.7", linestyle=":", label="chance")
    axes.set_xscale("log")
    axes.set_xlim(1e-4, 1)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel("false accept rate")
    axes.set_ylabel("true accept rate")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return check_not_blank(_figure_pixels(figure), title)


def cumulative_error_plot(
    errors: Mapping[str, Sequence[float]],
    *,
    unit: str,
    title: str = "Cumulative error distribution",
    max_error: float | None = None,
) -> np.ndarray:
    """Cumulative error distributions, ``[H, W, 3]`` uint8: the fraction of items (images,
    scan points) whose error is at most x, against x.

    Args:
      errors: ``{label: [N] errors}``, one line each.
      unit: the errors' unit for the x axis (``"NME"``, ``"mm"``).
      title: the figure's title.
      max_error: the x axis ends here (default: the 99th percentile of all errors).

    Raises:
      ValueError: no errors, or NaN or infinite ones.
    """
    from matplotlib.figure import Figure

    if not errors:
        raise ValueError(f"{title}: no errors to plot")
    checked = {label: _finite(e, title, f"errors of {label!r}") for label, e in errors.items()}
    if max_error is None:
        max_error = float(np.percentile(np.concatenate(list(checked.values())), 99))
    max_error = max_error if max_error > 0 else 1.0
    figure = Figure(figsize=(5, 4), dpi=_DPI)
    axes = figure.add_subplot()
    for label, values in checked.items():
        ordered = np.sort(values.ravel())
        fraction = np.arange(1, ordered.size + 1) / ordered.size
        axes.step(np.concatenate([[0.0], ordered]), np.concatenate([[0.0], fraction]),
                  where="post", label=f"{label} (n={ordered.size})")  # fmt: skip
    axes.set_xlim(0, max_error)
    axes.set_ylim(0, 1.01)
    axes.set_xlabel(f"error ({unit})")
    axes.set_ylabel("fraction at most this error")
    axes.set_title(title)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="lower right")
    figure.tight_layout()
    return check_not_blank(_figure_pixels(figure), title)


def _frontal_screen(vertices: np.ndarray, size: int) -> np.ndarray:
    """Model-frame vertices (x left of the subject, y up, z out) seen from the front, fitted
    into a ``size`` square: pixel x, y (down) and depth (larger is farther)."""
    low, high = vertices.min(0), vertices.max(0)
    centre = (low + high) / 2
    scale = 0.9 * size / max(float(np.max((high - low)[:2])), 1e-9)
    x = size / 2 + scale * (vertices[:, 0] - centre[0])
    y = size / 2 - scale * (vertices[:, 1] - centre[1])
    depth = (high[2] - vertices[:, 2]) * scale + 1.0
    return np.stack([x, y, depth], axis=-1)


@functools.partial(jax.jit, static_argnames="size")
def _shaded(screen, triangles, albedo, backdrop, size: int):
    from facejax import geometry, lighting
    from facejax.render import composite, rasterize, shade_vertices

    # Back to a right-handed, y-up, z-towards-the-viewer frame for the normals and the light.
    viewer = screen * jnp.asarray([[1.0, -1.0, -1.0]])
    normals = geometry.vertex_normals(viewer, triangles)
    fragments = rasterize(screen, triangles, size, size, perspective_correct=False, near=None)
    light = lighting.directional(jnp.array([0.3, 0.4, 1.0]), 0.75, 0.35)
    shaded = shade_vertices(fragments, triangles, albedo, normals, light)
    drawn = composite(shaded, fragments.mask, backdrop)
    return jnp.round(jnp.clip(drawn, 0, 1) * 255).astype(jnp.uint8)


def shaded_mesh(
    screen_vertices, triangles, size: int, *, colors=None, background=None
) -> np.ndarray:
    """A mesh in screen space (pixel x, y down, depth away) lit from the front, ``[size, size,
    3]`` uint8, with facejax's rasterizer (one compilation per mesh and picture size).

    Args:
      screen_vertices: ``[V, 3]``.
      triangles: ``[F, 3]``.
      size: the picture's side in pixels.
      colors: ``[V, 3]`` RGB in ``[0, 1]`` (default light grey).
      background: ``[size, size, 3]`` uint8 picture or ``[3]`` colour in ``[0, 1]`` (default
        white).
    """
    screen = np.asarray(screen_vertices, np.float32)
    albedo = np.full(screen.shape, 0.8, np.float32) if colors is None else colors
    if background is None:
        backdrop = np.ones((size, size, 3), np.float32)
    elif np.asarray(background).ndim == 3:
        backdrop = np.asarray(background, np.float32) / 255.0
    else:
        backdrop = np.broadcast_to(np.asarray(background, np.float32), (size, size, 3))
    pixels = _shaded(
        screen, np.asarray(triangles, np.int32), np.asarray(albedo, np.float32), backdrop, size
    )
    return np.asarray(pixels)


def vertex_error_heatmap(
    mean_shape, triangles, vertex_errors, *, size: int = 320, max_error: float | None = None
) -> np.ndarray:
    """Per-vertex errors as colours on the mean face seen from the front, with a colour bar,
    ``[H, W, 3]`` uint8.

    Args:
      mean_shape: ``[V, 3]`` the model's mean face (mm, model frame).
      triangles: ``[F, 3]``.
      vertex_errors: ``[V]`` error of each vertex (mm), e.g. the mean over a test set of
        ``facejax.evaluation.aligned_vertex_errors``.
      size: side of the face picture in pixels.
      max_error: the colour scale's top (default: the 98th percentile).

    Raises:
      ValueError: errors of the wrong length, NaN or infinite.
    """
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    name = "per-vertex error heat map"
    mean_shape = np.asarray(mean_shape, np.float64)
    errors = _finite(vertex_errors, name, "vertex errors")
    if errors.shape != (mean_shape.shape[0],):
        raise ValueError(
            f"{name}: {errors.shape} errors for a mesh of {mean_shape.shape[0]} vertices"
        )
    top = float(np.percentile(errors, 98)) if max_error is None else float(max_error)
    top = top if top > 0 else 1.0
    norm = Normalize(0.0, top)
    colors = colormaps["viridis"](norm(errors))[:, :3]
    face = shaded_mesh(_frontal_screen(mean_shape, size), triangles, size, colors=colors)
    check_not_blank(face, name)
    figure = Figure(figsize=(size / _DPI + 1.3, size / _DPI + 0.4), dpi=_DPI)
    axes = figure.add_subplot()
    axes.imshow(face)
    axes.set_axis_off()
    axes.set_title("mean error per vertex (mm)")
    scale = ScalarMappable(norm=norm, cmap=colormaps["viridis"])
    figure.colorbar(scale, ax=axes, fraction=0.046, pad=0.04)
    figure.tight_layout()
    return check_not_blank(_figure_pixels(figure), name)


def reconstruction_grid(
    inputs, screen_vertices, triangles, *, columns: int = 4, scale: int = 3
) -> np.ndarray:
    """Each input crop beside its reconstruction rendered in the crop's frame, in a grid,
    ``[H, W, 3]`` uint8.

    Args:
      inputs: ``[N, S, S, 3]`` uint8 crops the network saw.
      screen_vertices: ``[N, V, 3]`` the predicted faces in crop pixels and depth (a recipe
        predictor's ``screen_vertices``).
      triangles: ``[F, 3]``.
      columns: pairs per row.
      scale: each crop is enlarged this many times (nearest neighbour), the face rendered at
        the enlarged size.

    Raises:
      ValueError: no inputs, a count mismatch, or non-finite vertices.
    """
    name = "inputs and reconstructions"
    inputs = np.asarray(inputs)
    screen = _finite(screen_vertices, name, "predicted vertices")
    if inputs.ndim != 4 or len(inputs) == 0 or len(inputs) != len(screen):
        raise ValueError(f"{name}: {inputs.shape} inputs for {screen.shape} predicted faces")
    side = inputs.shape[1] * scale
    tiles = []
    for crop, vertices in zip(inputs, screen, strict=True):
        big = np.repeat(np.repeat(crop, scale, axis=0), scale, axis=1)
        rendered = shaded_mesh(vertices * np.array([scale, scale, 1.0]), triangles, side)
        tiles.append(np.concatenate([big, rendered], axis=1))
    rows = -(-len(tiles) // columns)
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (rows * columns - len(tiles))
    gap = 4
    grid = np.full((rows * (side + gap) - gap, columns * (2 * side + gap) - gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[r * (side + gap) : r * (side + gap) + side,
             c * (2 * side + gap) : c * (2 * side + gap) + 2 * side] = tile  # fmt: skip
    return check_not_blank(grid, name)


def write_plot(path, pixels, name: str) -> None:
    """Writes a picture of this module as PNG once :func:`check_not_blank` accepts it."""
    write_png(path, check_not_blank(pixels, name))
