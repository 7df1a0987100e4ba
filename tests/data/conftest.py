"""Shared helpers for the dataset-builder tests: tiny noise images, building, reading back."""

import os
import sys

import numpy as np
import pytest
from PIL import Image


def _write_image(path, size=(40, 40), seed=0, fmt=None):
    """Writes a noise image (width, height) and returns it as a uint8 array."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, format=fmt, quality=95)
    return pixels


def _write_corrupt(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 this is not a JPEG")


def _build(builder_cls, config, manual_dir, data_dir):
    import tensorflow_datasets as tfds

    builder = builder_cls(config=config, data_dir=str(data_dir), file_format="array_record")
    builder.download_and_prepare(
        download_config=tfds.download.DownloadConfig(manual_dir=str(manual_dir))
    )
    return builder


def _read(builder, split, key):
    """All examples of a split as dicts, sorted by ``key`` (array_record order is shuffled)."""
    source = builder.as_data_source(split=split)
    examples = [source[i] for i in range(len(source))]
    return sorted(examples, key=lambda e: e[key])


class BuilderKit:
    write_image = staticmethod(_write_image)
    write_corrupt = staticmethod(_write_corrupt)
    build = staticmethod(_build)
    read = staticmethod(_read)

    @staticmethod
    def assert_no_tensorflow():
        assert "tensorflow" not in sys.modules, "building/reading imported TensorFlow"


@pytest.fixture
def kit():
    return BuilderKit
