"""A cycle run's metrics on its own training people, beside the held-out ones of metrics.json:
how much of what it learned is the people it saw.

    python experiments/cycle/train_split_metrics.py --workdir runs/cycle_fit/nc_6k --clips 200

Evaluates the run's latest checkpoint (``facejax.recipes.cycle.evaluate_split``, the landmark-fit
baseline off) on the first ``--clips`` training clips, with the training people's mean face as
the baseline, and prints JSON: the step, the identity face-region ratio to the mean face, the
landmark NME and the pose error. The synthetic truth is read here for the report only.
"""

from __future__ import annotations

import argparse
import json

from facejax.recipes import cycle
from facejax.recipes.trained_run import load_run_config

KEYS = ("identity_rmse_face_ratio", "shape_rmse_face_ratio", "landmark_nme",
        "pose_error_geodesic_deg")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--clips", type=int, default=200, help="training clips evaluated")
    args = parser.parse_args()

    config = load_run_config(args.workdir, recipe="cycle")
    net, variables, model3d, step = cycle.restore(config, args.workdir)
    train = cycle._prepare_data(config).as_data_source("train")
    mean_identity = cycle._mean_identity(train, model3d)
    with config.unlocked():
        config.eval.landmark_fit_baseline = False
    clips = [train[i] for i in range(min(args.clips, len(train)))]
    metrics = cycle.evaluate_split(net, variables, model3d, clips, config, mean_identity)
    print(json.dumps({
        "workdir": args.workdir, "step": int(step), "split": "train", "clips": len(clips),
        **{key: float(metrics[key]) for key in KEYS},
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
