"""A benchmark's report folder: ``metrics.json``, ``report.md`` and the PNG plots it shows.

:func:`write_report` draws every plot a :class:`~facejax.evaluation.benchmark_runs.BenchmarkRun`
has data for (``facejax.evaluation.plots``: a plot with no data is not drawn, a plot with NaN
data is refused), writes them, ``metrics.json`` (``facejax.evaluation.report.write_metrics``)
and ``report.md``: what was evaluated, the numbers, the notes, every excluded prediction by
name and reason, and the plots. Each file is written whole or not at all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from facejax.evaluation import plots
from facejax.evaluation.report import to_json, write_metrics
from facejax.formats.atomic_files import write_text_atomic

REPORT_FILENAME = "report.md"
PLOT_FILES = {
    "roc": "roc.png",
    "cumulative_error": "cumulative_error.png",
    "vertex_error_heatmap": "vertex_error_heatmap.png",
    "reconstructions": "reconstructions.png",
}
_TITLES = {
    "synthetic": "facejax synthetic test split",
    "aflw2000": "AFLW2000-3D",
    "now": "NoW",
    "micc": "MICC Florence",
    "lfw": "LFW",
    "ytf": "YouTube Faces",
}


def _cell(value) -> str:
    value = to_json(value)
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else "n/a"
    if isinstance(value, list):
        return ", ".join(_cell(v) for v in value[:10]) + (" ..." if len(value) > 10 else "")
    return str(value).replace("|", "\\|")


def _metric_rows(metrics: Mapping, prefix: str = "") -> list[str]:
    """One ``| key | value |`` row per number: a nested mapping (e.g. a verification protocol's
    ``{"auc": .., "tar_at_far": {..}}``) gives rows ``outer.inner``; a long list (a curve) is
    counted, its values being in ``metrics.json``."""
    rows = []
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            rows += _metric_rows(value, prefix=f"{name}.")
        elif isinstance(value, (list, tuple, np.ndarray)) and len(value) > 10:
            rows.append(f"| {_cell(name)} | {len(value)} values (in metrics.json) |")
        else:
            rows.append(f"| {_cell(name)} | {_cell(value)} |")
    return rows


def report_markdown(run, *, source: str, plot_files: Mapping[str, str]) -> str:
    """The text of ``report.md``.

    Args:
      run: the benchmark's :class:`~facejax.evaluation.benchmark_runs.BenchmarkRun`.
      source: what was evaluated (a run's folder and step, or a predictions folder).
      plot_files: ``{plot: file name}`` of the plots written beside the report.
    """
    counts = run.counts()
    lines = [
        f"# {_TITLES.get(run.benchmark, run.benchmark)}: `facejax evaluate --benchmark "
        f"{run.benchmark}`",
        "",
        f"Evaluated: {source}",
        "",
        f"Scored {counts['num_scored']} of {counts['num_expected']} expected predictions; "
        f"excluded {counts['num_excluded']} ({counts['num_missing']} missing, "
        f"{counts['num_malformed']} malformed).",
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "| --- | ---: |",
    ]
    lines += _metric_rows(run.metrics)
    if run.notes:
        lines += ["", "Notes:", ""] + [f"- {note}" for note in run.notes]
    lines += ["", f"## Excluded predictions ({counts['num_excluded']})", ""]
    if run.excluded:
        lines += ["| item | kind | reason |", "| --- | --- | --- |"]
        lines += [
            f"| {_cell(e.name)} | {e.kind} | {_cell(e.reason)} |"
            for e in sorted(run.excluded, key=lambda e: (e.kind, e.name))
        ]
    else:
        lines.append("None: every expected prediction was scored.")
    if plot_files:
        lines += ["", "## Plots", ""]
        captions = {
            "roc": "ROC: true accept rate against false accept rate",
            "cumulative_error": f"Cumulative error distribution ({run.error_unit})",
            "vertex_error_heatmap": "Mean error per vertex on the mean face (mm)",
            "reconstructions": "Inputs beside their reconstructions",
        }
        for key, name in plot_files.items():
            lines += [f"### {captions.get(key, key)}", "", f"![{key}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"


def draw_plots(run, *, mean_shape=None, triangles=None, grid=None) -> dict[str, np.ndarray]:
    """``{plot: [H, W, 3] uint8}`` for each plot ``run`` has data for.

    Args:
      run: the :class:`~facejax.evaluation.benchmark_runs.BenchmarkRun`.
      mean_shape, triangles: the model's mean face and mesh, for the heat map of
        ``run.vertex_errors``.
      grid: ``(inputs [N, S, S, 3] uint8, screen_vertices [N, V, 3])`` for the reconstruction
        grid (a run of a trained model), with ``triangles``.

    Raises:
      ValueError: from ``facejax.evaluation.plots`` for data that would give a blank or NaN
        plot.
    """
    pictures = {}
    title = _TITLES.get(run.benchmark, run.benchmark)
    if run.roc:
        pictures["roc"] = plots.roc_plot(run.roc, title=f"{title}: ROC")
    if run.errors:
        pictures["cumulative_error"] = plots.cumulative_error_plot(
            run.errors, unit=run.error_unit, title=f"{title}: cumulative error"
        )
    if run.vertex_errors is not None and mean_shape is not None:
        pictures["vertex_error_heatmap"] = plots.vertex_error_heatmap(
            mean_shape, triangles, run.vertex_errors
        )
    if grid is not None:
        pictures["reconstructions"] = plots.reconstruction_grid(grid[0], grid[1], triangles)
    return pictures


def write_report(out, run, *, source: str, metadata: Mapping, pictures=None) -> dict[str, Path]:
    """Writes ``metrics.json``, the plots and ``report.md`` into ``out`` (created if needed).

    The plots are drawn (or given) and checked first, so a refused plot leaves no partial
    report behind.

    Args:
      out: the report folder.
      run: the :class:`~facejax.evaluation.benchmark_runs.BenchmarkRun`.
      source: what was evaluated, for the report's first line.
      metadata: ``metrics.json``'s metadata (the benchmark is added).
      pictures: ``{plot: pixels}`` (:func:`draw_plots`; default: the run's curves only).

    Returns:
      ``{"metrics": path, "report": path, plot: path, ...}``.
    """
    pictures = draw_plots(run) if pictures is None else pictures
    for key, pixels in pictures.items():
        plots.check_not_blank(pixels, key)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for key, pixels in pictures.items():
        written[key] = out / PLOT_FILES[key]
        plots.write_plot(written[key], pixels, key)
    metrics = {
        **run.counts(),
        **run.metrics,
        "excluded": [e._asdict() for e in run.excluded],
        "notes": list(run.notes),
    }
    written["metrics"] = write_metrics(
        out, {run.benchmark: metrics}, metadata={"benchmark": run.benchmark, **dict(metadata)}
    )
    text = report_markdown(run, source=source, plot_files={k: PLOT_FILES[k] for k in pictures})
    written["report"] = out / REPORT_FILENAME
    write_text_atomic(written["report"], text)
    return written
