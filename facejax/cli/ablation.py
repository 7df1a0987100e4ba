"""What the experiments' ablation scripts share: their command line, and a run per variant and
seed through ``facejax train``.

Not a ``facejax`` subcommand: an experiment's ``ablation.py`` names its variants (config
overrides) and table columns and calls :func:`run_ablation`, which parses ``--workdir``,
``--seeds``, ``--set``, ``--variants`` and ``--config-variant`` (the config's variant), trains
the runs that have no ``metrics.json`` (:func:`facejax.evaluation.ablation_runs`) and prints
the markdown table of the mean and standard deviation over seeds
(:func:`facejax.evaluation.format_table`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence


def run_ablation(
    config: str,
    variants: Mapping[str, Sequence[str]],
    columns: Sequence,
    *,
    description: str,
    argv: Sequence[str] | None = None,
) -> str:
    """Trains the missing runs of an ablation and prints (and returns) its table.

    Args:
      config: the experiment config, ``path/config.py:variant``.
      variants: ``{name: ["key=value", ...]}`` overrides of each ablation variant.
      columns: the table's columns (:func:`facejax.evaluation.format_table`).
      description: the script's ``--help`` text.
      argv: the command line (default: ``sys.argv[1:]``).

    Raises:
      SystemExit: a run failed (its ``facejax train`` command is in the message).
    """
    from facejax.cli import main as facejax_main
    from facejax.evaluation import ablation_runs, format_table

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--variants", nargs="+", default=list(variants), choices=list(variants))
    path, _, default_variant = config.rpartition(":")
    parser.add_argument(
        "--config-variant",
        default=default_variant,
        help=f"the variant of {path} every run trains (default: {default_variant})",
    )
    args = parser.parse_args(argv)
    config = f"{path}:{args.config_variant}"

    def train(overrides, workdir):
        command = ["train", "--config", config, "--workdir", str(workdir)]
        for item in [*args.set, *overrides, "progress=False"]:
            command += ["--set", item]
        if facejax_main(command) != 0:
            raise SystemExit(f"run failed: {' '.join(command)}")

    chosen = {name: variants[name] for name in args.variants}
    table = format_table(
        ablation_runs(args.workdir, chosen, args.seeds, train), columns, group_by="variant"
    )
    print(table)
    return table
