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


def _project_3ddfa(points_um, pose_params, height):
    """3DDFA projection (``s R X + t``, y up) of BFM points into 1-based MATLAB pixels
    ``[3, N]``: x, the row ``height + 1 - y``, and the depth ``z``."""
    from facejax.geometry import rotation_from_euler

    rotation = np.asarray(rotation_from_euler(pose_params[:3], "3ddfa"), dtype=np.float64)
    xyz = pose_params[6] * points_um @ rotation.T + pose_params[3:6]
    return np.stack([xyz[:, 0], height + 1 - xyz[:, 1], xyz[:, 2]])


def _check_camera(example, points_um, atol):
    """Stored landmarks = WeakPerspectiveCamera(camera_scale, camera_translation) applied to
    ``rotation_from_euler(pose, "3ddfa") @ X_mm``."""
    from facejax.geometry import rotation_from_euler

    rotation = np.asarray(rotation_from_euler(example["pose"], "3ddfa"), dtype=np.float64)
    camera_xyz = (points_um / 1000.0) @ rotation.T
    scale, (tx, ty) = example["camera_scale"], example["camera_translation"]
    projected = np.stack([tx + scale * camera_xyz[:, 0], ty - scale * camera_xyz[:, 1]], axis=1)
    np.testing.assert_allclose(projected, example["landmarks"], atol=atol)


class BuilderKit:
    write_image = staticmethod(_write_image)
    write_corrupt = staticmethod(_write_corrupt)
    build = staticmethod(_build)
    read = staticmethod(_read)
    project_3ddfa = staticmethod(_project_3ddfa)
    check_camera = staticmethod(_check_camera)

    @staticmethod
    def assert_no_tensorflow():
        assert "tensorflow" not in sys.modules, "building/reading imported TensorFlow"


@pytest.fixture
def kit():
    return BuilderKit
