"""Speed of the synthetic dataset generators (facejax_synthetic_faces, facejax_synthetic_clips).

Two measurements per config and dataset:

* ``build``: ``download_and_prepare`` of the whole dataset into a temporary folder, as
  ``facejax synth`` runs it: compilation, sampling, rendering, tfds serialization and the
  array_record shuffle. Wall-clock and process CPU seconds, examples and images per second.
* ``generate``: the steady rate of the builder's example generator (sampling, rendering, copying
  to numpy; no writing) over ``n`` examples after a warm-up batch, whose time (mostly XLA
  compilation) is reported as ``first_batch_s``. For ``full`` this is the only measurement: it
  times a few hundred examples, not the whole set.

Peak memory is the process's ``ru_maxrss`` (all measurements run in one process, so it is the
peak over everything so far). Run:

  python benchmarks/synthetic_speed.py            # tiny and small builds, generate at all configs
  python benchmarks/synthetic_speed.py --quick    # tiny build, generate small and full briefly

Each result is one JSON line; the last line gathers them with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time

import jax


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def _builder(dataset: str, config: str, data_dir: str):
    from facejax.data.builders.synthetic_clips import SyntheticClips
    from facejax.data.builders.synthetic_faces import SyntheticFaces

    cls = {"faces": SyntheticFaces, "clips": SyntheticClips}[dataset]
    return cls(config=config, data_dir=data_dir, file_format="array_record")


def _images_per_example(builder) -> int:
    return getattr(builder.builder_config, "num_frames", 1)


def build(dataset: str, config: str) -> dict:
    """Times a whole build."""
    import tensorflow_datasets as tfds

    tfds.disable_progress_bar()
    folder = tempfile.mkdtemp(prefix="facejax_synth_bench_")
    try:
        builder = _builder(dataset, config, folder)
        wall, cpu = time.perf_counter(), time.process_time()
        builder.download_and_prepare()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        examples = sum(split.num_examples for split in builder.info.splits.values())
        size_mb = (
            sum(
                os.path.getsize(os.path.join(root, f))
                for root, _, files in os.walk(folder)
                for f in files
            )
            / 2**20
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    images = examples * _images_per_example(builder)
    return {
        "mode": "build",
        "dataset": dataset,
        "config": config,
        "examples": examples,
        "images": images,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "examples_per_s": round(examples / wall, 1),
        "images_per_s": round(images / wall, 1),
        "size_mb": round(size_mb, 1),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def generate(dataset: str, config: str, num_examples: int) -> dict:
    """Times the example generator over ``num_examples`` after one warm-up batch."""
    builder = _builder(dataset, config, tempfile.gettempdir())
    cfg = builder.builder_config
    names = builder._common_metadata()["identity_names"]
    per_identity = getattr(cfg, "images_per_identity", None) or cfg.clips_per_identity
    items = [(i, m) for i in range(len(names)) for m in range(per_identity)]
    frames = _images_per_example(builder)
    batch = max(1, cfg.batch_size // frames)  # examples per compiled call
    warm_up, timed = items[:batch], items[batch : batch + num_examples]
    start = time.perf_counter()
    for _ in builder._generate_split("train", warm_up, names):
        pass
    first_batch = time.perf_counter() - start
    wall, cpu = time.perf_counter(), time.process_time()
    count = sum(1 for _ in builder._generate_split("train", timed, names))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "mode": "generate",
        "dataset": dataset,
        "config": config,
        "image_size": cfg.image_size,
        "model": cfg.model,
        "examples": count,
        "images": count * frames,
        "batch_images": batch * frames,
        "first_batch_s": round(first_batch, 2),
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "examples_per_s": round(count / wall, 1),
        "images_per_s": round(count * frames / wall, 1),
        "peak_rss_mb": round(_peak_rss_mb()),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny build, short generate runs")
    parser.add_argument(
        "--full-examples", type=int, default=256, help="examples timed at the full config"
    )
    args = parser.parse_args()
    results = []

    def record(result):
        print(json.dumps(result), flush=True)
        results.append(result)

    builds = ["tiny"] if args.quick else ["tiny", "small"]
    counts = {"tiny": 64, "small": 64 if args.quick else 256, "full": args.full_examples}
    if args.quick:
        counts["full"] = min(counts["full"], 128)
    for dataset in ("faces", "clips"):
        for config in builds:
            record(build(dataset, config))
        for config in ("small", "full"):
            frames = 8  # clips: count clips, about as many images as the faces run
            n = counts[config] if dataset == "faces" else max(4, counts[config] // frames)
            record(generate(dataset, config, n))
    print(
        json.dumps(
            {
                "machine": {
                    "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(),
                    "load_average": [round(v, 1) for v in os.getloadavg()],
                    "jax": jax.__version__,
                    "backend": jax.default_backend(),
                    "devices": [str(d) for d in jax.devices()],
                },
                "peak_rss_mb": round(_peak_rss_mb()),
                "results": results,
            }
        )
    )


if __name__ == "__main__":
    main()
