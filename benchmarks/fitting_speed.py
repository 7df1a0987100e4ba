"""Faces fitted per second: a batch of landmark fits (jit + vmap) on this machine; prints JSON.

    python benchmarks/fitting_speed.py                    # 1,000 faces, Adam 300 + L-BFGS 100
    python benchmarks/fitting_speed.py --batch 100 --repeats 3

The embedded "synthetic" model (6,170 vertices; 80 identity, 64 expression components: the
fit's cost does not depend on the vertex count, only on the 68 landmarks and the components).
Targets are the projected landmarks of random faces (coefficients ~ N(0, 1), yaw up to 60
degrees) at 224 px, 1 px noise. The compile is timed apart; fit times are the median of
``--repeats`` runs of the compiled program. Every face runs exactly ``steps`` iterations (an
L-BFGS iteration also runs its line search: one or more objective evaluations).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import jax
import numpy as np

from facejax import fitting, morphable
from facejax.fitting.joint import fit_people, prepare_inputs
from facejax.formats import load_model

IMAGE_SIZE = 224


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="synthetic")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--adam-steps", type=int, default=300)
    parser.add_argument("--lbfgs-steps", type=int, default=100)
    args = parser.parse_args()

    model = morphable.to_device(load_model(args.model))
    keys = jax.random.split(jax.random.key(0), args.batch)
    truth = jax.vmap(
        lambda k: morphable.random_params(
            model, k, image_size=IMAGE_SIZE, max_angles=(0.3, 1.05, 0.2)
        )
    )(keys)
    decode = jax.jit(jax.vmap(lambda p: morphable.decode(model, p).landmarks_2d[:, :2]))
    landmarks = np.array(decode(truth))
    landmarks += np.random.default_rng(0).normal(size=landmarks.shape)
    load_before = os.getloadavg()
    rows = []
    for optimizer, steps in (("adam", args.adam_steps), ("lbfgs", args.lbfgs_steps)):
        config = fitting.FitConfig(optimizer=optimizer, steps=steps)
        lm, w, cam = prepare_inputs(
            model, landmarks[:, None], None, (IMAGE_SIZE, IMAGE_SIZE), None, config, 2
        )
        start = time.perf_counter()
        compiled = fit_people.lower(model, lm, w, cam, config).compile()
        compile_s = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = compiled(model, lm, w, cam)
            jax.block_until_ready(result.loss)
            times.append(time.perf_counter() - start)
        median = float(np.median(times))
        rows.append(
            {
                "optimizer": optimizer,
                "steps": steps,
                "batch": args.batch,
                "compile_s": round(compile_s, 2),
                "fit_s_median": round(median, 3),
                "fit_s_all": [round(t, 3) for t in times],
                "faces_per_s": round(args.batch / median, 1),
                "landmark_error_px_mean": float(np.mean(np.asarray(result.landmark_error))),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "benchmark": "fitting_speed",
        "model": args.model,
        "noise_px": 1.0,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
            "jax_backend": jax.default_backend(),
            "devices": [str(d) for d in jax.devices()],
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "rows": rows,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
