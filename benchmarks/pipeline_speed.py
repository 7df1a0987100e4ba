"""Examples per second of the input pipeline (facejax.data.pipeline.make_loader), and peak memory.

    python benchmarks/pipeline_speed.py             # 64x64 and 112x112, batch 32
    python benchmarks/pipeline_speed.py --quick     # fewer batches and repeats

For each crop size it times the loader (shuffle, batch 32, with and without the default
augmentation) over two sources holding the same 300W-LP-like examples (image, landmarks, crop
transform, pose, weak-perspective camera, identity, text fields):

* ``memory``: a Python list of dicts (the pipeline's own cost);
* ``array_record``: a tfds dataset written on the fly in a temporary directory with
  ``file_format="array_record"`` and read with ``builder.as_data_source`` (no TensorFlow).

It also times ``augment_example`` alone, one example at a time in one thread. Figures are
medians over repeats after a warm-up. Peak memory is the process's ``ru_maxrss`` after each case
(it only grows). docs/pipeline.md records the figures and the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import sys
import tempfile
import time

import numpy as np

from facejax.data.pipeline import AugmentConfig, augment_example, make_loader

BATCH_SIZE = 32
NUM_EXAMPLES = 512


def _example(rng: np.random.Generator, size: int, i: int) -> dict:
    return {
        "image": rng.integers(0, 256, size=(size, size, 3), dtype=np.uint8),
        "identity": np.int64(i % 64),
        "identity_name": f"person_{i % 64:03d}".encode(),
        "image_path": f"person_{i % 64:03d}/{i:05d}.jpg".encode(),
        "crop_transform": np.array([[0.5, 0.0, -10.0], [0.0, 0.5, -12.0]], np.float32),
        "landmarks": rng.uniform(0.2 * size, 0.8 * size, size=(68, 2)).astype(np.float32),
        "has_landmarks": np.bool_(True),
        "pose": rng.uniform(-0.5, 0.5, size=3).astype(np.float32),
        "camera_scale": np.float32(size / 200.0),
        "camera_translation": np.array([size / 2, size / 2], np.float32),
    }


def memory_source(size: int) -> list[dict]:
    rng = np.random.default_rng(size)
    return [_example(rng, size, i) for i in range(NUM_EXAMPLES)]


def array_record_source(size: int, data_dir: str):
    """Writes the same examples as a tfds array_record dataset and opens it as a data source."""
    import tensorflow_datasets as tfds

    from facejax.data import features

    class PipelineBenchFaces(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")
        code_path = None  # see facejax.data.builders.manual_builder

        def _info(self):
            return tfds.core.DatasetInfo(
                builder=self,
                features=tfds.features.FeaturesDict(
                    {
                        **features.face_image_features(size),
                        "pose": tfds.features.Tensor(shape=(3,), dtype=np.float32),
                        "camera_scale": tfds.features.Tensor(shape=(), dtype=np.float32),
                        "camera_translation": tfds.features.Tensor(shape=(2,), dtype=np.float32),
                    }
                ),
            )

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            yield from enumerate(memory_source(size))

    PipelineBenchFaces.name = f"pipeline_bench_faces{size}"
    builder = PipelineBenchFaces(data_dir=data_dir, file_format="array_record")
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the JSON
        builder.download_and_prepare()
    return builder.as_data_source(split="train")


def peak_memory_mb() -> float:
    # ru_maxrss is in kilobytes on Linux, bytes on macOS.
    scale = 1.0 if sys.platform == "darwin" else 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20


def time_loader(source, augment, batches: int, repeats: int, workers: int) -> list[float]:
    """Examples per second of ``repeats`` runs of ``batches`` batches each, after a warm-up."""
    rates = []
    with make_loader(
        source,
        batch_size=BATCH_SIZE,
        seed=0,
        shard_index=0,
        shard_count=1,
        augment=augment,
        worker_count=workers,
    ) as loader:
        for _ in range(3 if workers == 0 else 10):  # warm-up (threads, worker start)
            next(loader)
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(batches):
                next(loader)
            rates.append(batches * BATCH_SIZE / (time.perf_counter() - start))
    return rates


def time_augment(source, repeats: int) -> list[float]:
    config = AugmentConfig()
    rng = np.random.default_rng(0)
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for example in source[:128]:
            augment_example(example, rng, config)
        rates.append(128 / (time.perf_counter() - start))
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer batches and repeats")
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 112])
    parser.add_argument("--workers", type=int, nargs="+", default=[0], help="worker processes")
    args = parser.parse_args()
    batches, repeats = (10, 3) if args.quick else (40, 5)

    results = []
    with tempfile.TemporaryDirectory() as data_dir:
        for size in args.sizes:
            sources = {"memory": memory_source(size)}
            start = time.perf_counter()
            sources["array_record"] = array_record_source(size, data_dir)
            build_seconds = time.perf_counter() - start
            rates = time_augment(sources["memory"], repeats)
            results.append(
                {
                    "case": "augment_example",
                    "size": size,
                    "examples_per_s_median": float(np.median(rates)),
                    "examples_per_s_runs": [round(r, 1) for r in rates],
                }
            )
            for name, source in sources.items():
                for augment in (None, AugmentConfig()):
                    for workers in args.workers:
                        rates = time_loader(source, augment, batches, repeats, workers)
                        results.append(
                            {
                                "case": "loader",
                                "source": name,
                                "size": size,
                                "augment": augment is not None,
                                "worker_count": workers,
                                "batch_size": BATCH_SIZE,
                                "examples_per_s_median": float(np.median(rates)),
                                "examples_per_s_runs": [round(r, 1) for r in rates],
                                "peak_rss_mb_so_far": round(peak_memory_mb(), 1),
                            }
                        )
            results.append({"case": "array_record_build", "size": size, "seconds": build_seconds})
    print(
        json.dumps(
            {
                "benchmark": "pipeline_speed",
                "num_examples": NUM_EXAMPLES,
                "batches_per_run": batches,
                "repeats": repeats,
                "results": results,
                "peak_rss_mb": round(peak_memory_mb(), 1),
                "cpu_count": os.cpu_count(),
                "machine": platform.machine(),
                "python": platform.python_version(),
                "tensorflow_imported": "tensorflow" in sys.modules,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
