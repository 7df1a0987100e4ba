"""Metrics to disk and to tables: ``metrics.json`` files, ablation runs and markdown tables.

``metrics.json`` is strict JSON (``json.loads`` in any language reads it): numbers are floats
or ints, arrays are lists, and NaN or infinite values (an unresolvable TAR@FAR, an empty yaw
bin, an accept-nothing threshold) are written as ``null``.
"""

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from facejax import __version__
from facejax.formats.atomic_files import write_text_atomic

METRICS_FILENAME = "metrics.json"


def to_json(value):
    """``value`` as JSON-able Python: dicts, lists, str, bool, int, float, ``None``.

    Mappings keep their (stringified) keys; NamedTuples become dicts; numpy and JAX arrays and
    scalars become lists and numbers; NaN and +-inf become ``None``.
    """
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return to_json(value._asdict())
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, np.bool_):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if hasattr(value, "__array__"):  # numpy and JAX arrays
        array = np.asarray(value)
        if array.ndim == 0:
            return to_json(array.item())
        return [to_json(v) for v in array.tolist()]
    raise TypeError(f"to_json: cannot write a {type(value).__name__} to metrics.json")


def _from_json(value):
    """Inverse of :func:`to_json` for numbers: ``null`` reads back as NaN."""
    if isinstance(value, dict):
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return math.nan if value is None else value


def metrics_path(path) -> Path:
    """``path`` itself if it names a ``.json`` file, else ``path / "metrics.json"``."""
    path = Path(path)
    return path if path.suffix == ".json" else path / METRICS_FILENAME


def write_metrics(path, metrics: Mapping, *, metadata: Mapping | None = None) -> Path:
    """Writes ``{"metadata": {...}, "metrics": {...}}`` as indented, strict JSON.

    Written to a temporary file and renamed (facejax.formats.atomic_files), so a reader never
    sees half a file and a failed write keeps the previous one.

    Args:
      path: a directory (``metrics.json`` is written in it; created if missing) or a ``.json``
        file path.
      metrics: nested dict of numbers, arrays and strings (e.g. sections ``"verification"``,
        ``"shape"`` holding the dicts the metric functions return).
      metadata: what was evaluated (protocol, dataset, checkpoint step, counts of pairs and
        identities, ...). ``facejax_version`` is added.

    Returns:
      The path written.

    Raises:
      ValueError: for empty ``metrics``: an evaluation that measured nothing must not replace
        a run's results with ``{}``.
    """
    target = metrics_path(path)
    if not metrics:
        raise ValueError(f"{target}: no metrics to write (the evaluation returned none); kept")
    target.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "metadata": to_json({"facejax_version": __version__, **dict(metadata or {})}),
        "metrics": to_json(metrics),
    }
    write_text_atomic(target, json.dumps(document, indent=2, allow_nan=False) + "\n")
    return target


def read_metrics(path) -> dict:
    """Reads a file of :func:`write_metrics`; ``null`` numbers come back as NaN.

    Args:
      path: the directory holding ``metrics.json``, or the ``.json`` file.

    Returns:
      ``{"metadata": {...}, "metrics": {...}}``.
    """
    with open(metrics_path(path)) as f:
        return _from_json(json.load(f))


def ablation_runs(
    workdir,
    variants: Mapping[str, Sequence[str]],
    seeds: Sequence[int],
    train: Callable[[list[str], Path], None],
) -> list[dict]:
    """The metrics of every variant and seed of an ablation, training the runs that lack them.

    Run ``(variant, seed)`` lives in ``workdir/<variant>/<seed>`` (the variant's name with
    ``", "`` and spaces as ``_``); a run without ``metrics.json`` is trained first by
    ``train(overrides, run_dir)`` with the variant's config overrides and ``seed=<seed>`` (a
    finished run is skipped; a stopped one resumes, if ``train`` resumes).

    Args:
      workdir: the ablation's folder.
      variants: ``{name: ["key=value", ...]}`` config overrides of each variant, in table order.
      seeds: the seeds of every variant.
      train: trains one run (e.g. ``facejax train`` with the overrides), raising on failure.

    Returns:
      One row per run, ``{"variant": name, "seed": seed, **metrics}``, for :func:`format_table`.
    """
    rows = []
    for variant, overrides in variants.items():
        for seed in seeds:
            run_dir = Path(workdir) / variant.replace(", ", "_").replace(" ", "_") / str(seed)
            if not metrics_path(run_dir).exists():
                train([*overrides, f"seed={seed}"], run_dir)
            rows.append({"variant": variant, "seed": seed, **read_metrics(run_dir)["metrics"]})
    return rows


def _lookup(row: Mapping, key: str):
    """``row["a"]["b"]`` for ``key = "a.b"`` (a key with a dot is tried whole first)."""
    if key in row:
        return row[key]
    head, dot, rest = key.partition(".")
    if dot and isinstance(row.get(head), Mapping):
        return _lookup(row[head], rest)
    return None


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _cell(values: list[float], digits: int) -> str:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return "n/a"
    mean = float(np.mean(finite))
    text = f"{mean:.{digits}f}"
    if len(finite) > 1:
        text += f" ± {float(np.std(finite, ddof=1)):.{digits}f}"
    if len(finite) < len(values):
        text += f" (n={len(finite)})"
    return text


def _escape(text) -> str:
    return str(text).replace("|", "\\|")


def format_table(
    rows: Sequence[Mapping],
    columns: Sequence[str | tuple[str, str]],
    *,
    group_by: str | Sequence[str] | None = "variant",
    digits: int | Mapping[str, int] = 3,
    count_header: str | None = "runs",
) -> str:
    """A markdown table of metrics, ``mean ± std`` over the runs (seeds) of each group.

    Rows with equal ``group_by`` values (e.g. the same ablation variant, different seeds) form
    one line, in order of first appearance. A cell is the mean over the group's runs with the
    sample standard deviation (``ddof=1``) after ``±``; a single run shows the mean alone; runs
    where the metric is missing or NaN are left out of that cell and the cell says how many
    remain (``(n=2)``); none left gives ``n/a``.

    Args:
      rows: one dict per run, e.g. ``{"variant": "joint", "seed": 0, "verification":
        {"auc": 0.93}, ...}`` (the ``"metrics"`` of :func:`read_metrics` plus labels).
      columns: metric keys (dotted paths into nested dicts, ``"verification.auc"``), each
        optionally with its header: ``("verification.auc", "AUC")``.
      group_by: the label key(s) that make a line; ``None`` gives one line per row.
      digits: decimals, for all columns or per key (missing keys: 3).
      count_header: header of a column with the number of runs per line (``None``: no column).

    Returns:
      The table, lines joined by ``"\\n"`` (no trailing newline).
    """
    keys = [c if isinstance(c, str) else c[0] for c in columns]
    headers = [c if isinstance(c, str) else c[1] for c in columns]
    if group_by is None:
        label_keys: list[str] = []
        groups = [[row] for row in rows]
    else:
        label_keys = [group_by] if isinstance(group_by, str) else list(group_by)
        grouped: dict[tuple, list[Mapping]] = {}
        for row in rows:
            label = tuple(_lookup(row, k) for k in label_keys)
            grouped.setdefault(label, []).append(row)
        groups = list(grouped.values())

    header = label_keys + ([count_header] if count_header else []) + headers
    align = ["---"] * len(label_keys) + ["---:"] * (len(header) - len(label_keys))
    lines = ["| " + " | ".join(_escape(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    for group in groups:
        cells = [_escape(_lookup(group[0], k)) for k in label_keys]
        if count_header:
            cells.append(str(len(group)))
        for key in keys:
            d = digits if isinstance(digits, int) else digits.get(key, 3)
            cells.append(_cell([_number(_lookup(row, key)) for row in group], d))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
