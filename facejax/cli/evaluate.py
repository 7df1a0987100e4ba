"""``facejax evaluate``: a run's latest checkpoint on its test split (``--workdir``), or a
benchmark's report (``--benchmark``) for a trained run or any method's predictions.

``facejax evaluate --workdir DIR`` is the recipe's own evaluation: it writes ``DIR/metrics.json``.

``facejax evaluate --benchmark NAME (--workdir DIR | --predictions DIR) [--data DIR]`` writes a
report folder (``--out``, default ``DIR/benchmarks/NAME`` of the run: a run's own
``metrics.json`` is never replaced by a benchmark's): ``metrics.json``, ``report.md`` and PNG
plots (``facejax.evaluation.markdown_report``). The scoring is the library's
(``facejax.evaluation.benchmark_runs``); this module reads the arguments, runs the model or
reads the predictions folder, and prints. docs/evaluation.md gives each benchmark's data and
predictions layout.
"""

from __future__ import annotations

import json
from pathlib import Path

from facejax.cli.options import int_in
from facejax.cli.out_folder import check_out_folder
from facejax.recipes.trained_run import load_run_config

BENCHMARKS = ("synthetic", "aflw2000", "now", "micc", "lfw", "ytf")
# Inputs beside reconstructions in the report's grid.
GRID_SIZE = 8


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate a run's latest checkpoint, or write a benchmark report",
        description="Without --benchmark: reads WORKDIR/config.json (saved by facejax train), "
        "restores the latest checkpoint and writes WORKDIR/metrics.json. With --benchmark: "
        "scores a trained run (--workdir) or a folder of any method's predictions "
        "(--predictions) on the benchmark and writes metrics.json, report.md and PNG plots "
        "into --out; missing or malformed predictions are named in the report.",
    )
    parser.add_argument("--workdir", help="run folder written by facejax train")
    parser.add_argument("--benchmark", choices=BENCHMARKS, help="write this benchmark's report")
    parser.add_argument(
        "--predictions",
        help="a folder of predictions in the benchmark's layout (docs/evaluation.md), from any "
        "method, instead of --workdir",
    )
    parser.add_argument(
        "--data",
        help="the benchmark's data as it ships (e.g. NoW's final_release_version, the AFLW2000 "
        "folder, LFW's folder with pairs.txt)",
    )
    parser.add_argument(
        "--out", help="report folder (new or empty; default: WORKDIR/benchmarks/BENCHMARK)"
    )
    parser.add_argument(
        "--force", action="store_true", help="write into an --out folder that holds files"
    )
    parser.add_argument(
        "--metrical", action="store_true", help="NoW: the metrical variant (no scale)"
    )
    parser.add_argument(
        "--batch-size", type=int_in(1, 4096), default=64, help="images per batch of the model"
    )
    parser.set_defaults(run=run)


def run(args) -> int:
    if args.benchmark is None:
        given = [f"--{n}" for n in ("predictions", "data", "out") if getattr(args, n)]
        if given:
            raise ValueError(f"{', '.join(given)}: only with --benchmark")
        if not args.workdir:
            raise ValueError("--workdir: required (or --benchmark with --predictions)")
        return _evaluate_run(args.workdir)
    return _benchmark(args)


def _evaluate_run(workdir) -> int:
    from facejax.recipes import get_recipe

    config = load_run_config(workdir)
    metrics = get_recipe(config.recipe).evaluate(config, workdir)
    print(json.dumps(metrics, indent=2, default=str))
    return 0


def _benchmark(args) -> int:
    from facejax.evaluation import benchmark_inputs, markdown_report

    if bool(args.workdir) == bool(args.predictions):
        raise ValueError(
            "--benchmark: give --workdir (a trained run) or --predictions (a folder of any "
            "method's predictions), one of them"
        )
    if args.out is None and not args.workdir:
        raise ValueError("--out: required with --predictions")
    out = Path(args.out) if args.out else Path(args.workdir) / "benchmarks" / args.benchmark
    out = check_out_folder(out, force=args.force)
    if args.benchmark == "synthetic":
        if args.predictions:
            raise ValueError(
                "--benchmark synthetic: scores a trained run (--workdir); its test images come "
                "from the run's own synthetic dataset"
            )
        result, pictures, source, metadata = _synthetic(args)
    elif args.predictions:
        if not args.data:
            raise ValueError(f"--benchmark {args.benchmark}: --data (the benchmark's folder)")
        benchmark_inputs.check_protocol(args.benchmark)
        result = benchmark_inputs.score_predictions(
            args.benchmark, args.predictions, args.data, metrical=args.metrical
        )
        pictures = markdown_report.draw_plots(result)
        source = f"predictions in `{args.predictions}`, data in `{args.data}`"
        metadata = {"predictions": str(args.predictions), "data": str(args.data)}
    else:
        result, source, metadata = _real_benchmark(args, out)
        pictures = markdown_report.draw_plots(result)
    written = markdown_report.write_report(
        out, result, source=source, metadata=metadata, pictures=pictures
    )
    counts = result.counts()
    for excluded in result.excluded:
        print(f"excluded {excluded.name} ({excluded.kind}): {excluded.reason}")
    print(
        f"{args.benchmark}: scored {counts['num_scored']} of {counts['num_expected']} "
        f"({counts['num_missing']} missing, {counts['num_malformed']} malformed); wrote "
        + ", ".join(p.name for p in written.values())
        + f" into {out}"
    )
    return 0


def _real_benchmark(args, out):
    """The run's model on a real benchmark: its predictions written into ``out/predictions``
    in the benchmark's layout, then scored like any method's."""
    from facejax.evaluation import benchmark_inputs
    from facejax.recipes import get_recipe
    from facejax.recipes.benchmark_predictions import write_benchmark_predictions

    if not args.data:
        raise ValueError(f"--benchmark {args.benchmark}: --data (the benchmark's folder)")
    benchmark_inputs.check_protocol(args.benchmark)  # before any work
    config = load_run_config(args.workdir)
    recipe = get_recipe(config.recipe)
    if not hasattr(recipe, "load_predictor"):
        raise ValueError(f"recipe {config.recipe!r} has no predictor to run on a benchmark")
    predict, model3d = recipe.load_predictor(config, args.workdir)
    folder = write_benchmark_predictions(
        predict, model3d, config, args.benchmark, args.data, Path(out) / "predictions",
        batch_size=args.batch_size,
    )  # fmt: skip
    result = benchmark_inputs.score_predictions(
        args.benchmark, folder, args.data, metrical=args.metrical
    )
    step = _latest_step(args.workdir)
    source = (
        f"the run `{args.workdir}` (recipe {config.recipe}, step {step}), its predictions in "
        f"`{folder}`, data in `{args.data}`"
    )
    metadata = {"workdir": str(args.workdir), "recipe": config.recipe, "step": step,
                "predictions": str(folder), "data": str(args.data)}  # fmt: skip
    return result, source, metadata


def _synthetic(args):
    """The run's model on its synthetic test split: the run, the plots, source, metadata."""
    import numpy as np

    from facejax.data import protocols
    from facejax.data.fixed_batches import map_fixed_batches
    from facejax.evaluation import benchmark_runs, markdown_report
    from facejax.recipes import datasets, get_recipe

    config = load_run_config(args.workdir)
    recipe = get_recipe(config.recipe)
    if not hasattr(recipe, "load_predictor"):
        raise ValueError(f"recipe {config.recipe!r} has no predictor to run on a benchmark")
    predict, model3d = recipe.load_predictor(config, args.workdir)
    builder, metadata = datasets.prepare_dataset(config)
    features = ("image", "image_path", "identity_coeffs", "expression_coeffs", "landmarks",
                "landmark_visibility")  # fmt: skip
    lacking = [f for f in features if f not in builder.info.features]
    if lacking or "verification_pairs" not in (metadata or {}):
        raise ValueError(
            f"--benchmark synthetic: the run's dataset {builder.name}/"
            f"{builder.builder_config.name} is not a synthetic test split with true shapes and "
            f"verification pairs (lacks {', '.join(lacking) or 'verification_pairs'})"
        )
    data = datasets.read_split(builder.as_data_source("test"), features)
    names = [k.decode() if isinstance(k, bytes) else str(k) for k in data["image_path"]]
    predictions = map_fixed_batches(predict, data["image"], args.batch_size)
    pairs = protocols.VerificationPairs.from_records(metadata["verification_pairs"]["pairs"], names)
    result = benchmark_runs.synthetic_run(model3d, predictions, data, pairs, names)
    shown = [i for i in range(len(names)) if np.all(np.isfinite(predictions["screen_vertices"][i]))]
    shown = shown[:GRID_SIZE]
    pictures = markdown_report.draw_plots(
        result,
        mean_shape=np.asarray(model3d.mean_shape),
        triangles=np.asarray(model3d.triangles),
        grid=(data["image"][shown], predictions["screen_vertices"][shown]),
    )
    step = _latest_step(args.workdir)
    source = (
        f"the run `{args.workdir}` (recipe {config.recipe}, variant {config.get('variant')}, "
        f"step {step}) on `{builder.name}/{builder.builder_config.name}`, split test"
    )
    metadata = {
        "workdir": str(args.workdir),
        "recipe": config.recipe,
        "variant": config.get("variant"),
        "step": step,
        "dataset": f"{builder.name}/{builder.builder_config.name}",
    }
    return result, pictures, source, metadata


def _latest_step(workdir):
    """The latest checkpoint's step, or None when it cannot be told without loading it."""
    folder = Path(workdir) / "checkpoints"
    steps = [int(p.name) for p in folder.iterdir() if p.name.isdigit()] if folder.is_dir() else []
    return max(steps) if steps else None
