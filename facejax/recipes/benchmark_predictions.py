"""A trained run's predictions on a real benchmark, written in the benchmark's predictions
layout (docs/evaluation.md), so that ``facejax evaluate --benchmark NAME --workdir RUN`` scores
them exactly as it scores any other method's folder.

The benchmark's images come from facejax's builder of it (``facejax.data.builders``), built
from the user's copy (``--data``, the builder's manual dir) into the run's data dir; each crop
is resized to the run's image size. Per benchmark:

* ``aflw2000``: ``<stem>.npy`` ``[68, 2]``, the predicted landmarks mapped back to the image's
  pixels (facejax convention).
* ``now``: ``<subject>/<challenge>/<IMG>.obj`` (the predicted shape, mm, model frame) and
  ``<IMG>.npy``: the 7 NoW landmarks taken from the model's 68 (:data:`NOW_FROM_IBUG68`).
* ``micc``: ``<subject>/<setting>.obj`` and ``.npy`` ``[68, 3]``: the mean over the video's
  frames of the predicted shapes and 3D landmarks.
* ``lfw``: ``<Name>/<Name>_<nnnn>.npy``, the identity feature of each image.
* ``ytf``: ``<subject>/<video>.npy`` ``[F, D]``, the identity feature of each frame.

An image whose prediction is not finite gets no file: the scoring names it as missing.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from facejax.data import crop
from facejax.data.fixed_batches import map_fixed_batches
from facejax.formats import write_obj
from facejax.formats.atomic_files import atomic_write

BUILDERS = {
    "aflw2000": ("facejax_aflw2000_3d", "default"),
    "now": ("facejax_now", "default"),
    "micc": ("facejax_micc_florence", "default"),
    "lfw": ("facejax_lfw", "images"),
    "ytf": ("facejax_youtube_faces", "clips"),
}
# NoW's 7 landmarks (right eye outer and inner, left eye inner and outer, subnasale, right and
# left mouth corner) among the iBUG-68 points.
NOW_FROM_IBUG68 = (36, 39, 42, 45, 33, 48, 54)


def _save(path, array) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as f:
        np.save(f, np.asarray(array))


def _finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a))) for a in arrays)


def _resize(images: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Crops ``[N, S, S, 3]`` resized to ``size``, and the ``[2, 3]`` crop -> resized map."""
    side = images.shape[1]
    scale = np.array([[size / side, 0.0, 0.0], [0.0, size / side, 0.0]])
    if side == size:
        return images, scale
    return np.stack([crop.warp_image(image, scale, size) for image in images]), scale


def _read(source, features) -> dict:
    from facejax.recipes.datasets import read_split

    return read_split(source, features, batch_size=64)


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def write_benchmark_predictions(
    predict, model3d, config, benchmark: str, data, out, *, batch_size: int
) -> Path:
    """Runs ``predict`` on the benchmark's images and writes its predictions folder.

    Args:
      predict: a recipe's predictor (``load_predictor``): crops ``[B, S, S, 3]`` uint8 to
        ``shape``, ``landmarks_2d``, ``landmarks_3d``, ``embedding``.
      model3d: its morphable model (the meshes' triangles).
      config: the run's config (``data.data_dir``, ``data.image_size``).
      benchmark: a key of :data:`BUILDERS`.
      data: the user's copy of the benchmark (the builder's manual dir).
      out: the predictions folder (created).
      batch_size: crops per call of ``predict``.

    Returns:
      ``out``.
    """
    from facejax.recipes.datasets import prepare_builder

    if benchmark not in BUILDERS:
        raise ValueError(f"--benchmark {benchmark}: no builder to run a trained model on")
    name, config_name = BUILDERS[benchmark]
    size = int(config.data.image_size)
    builder = prepare_builder(
        name, config_name, config.data.data_dir, manual_dir=str(data), image_size=size
    )
    split = next(iter(builder.info.splits))  # NoW: "validation" first when both exist
    if benchmark == "now" and "validation" in builder.info.splits:
        split = "validation"
    source = builder.as_data_source(split)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    triangles = np.asarray(model3d.triangles)

    if benchmark == "ytf":
        # One clip at a time: clips hold different numbers of frames (they cannot be stacked).
        for index in range(len(source)):
            example = source[index]
            frames, clip = example["frames"], example["clip_name"]
            resized, _ = _resize(np.asarray(frames), size)
            features = map_fixed_batches(predict, resized, batch_size)["embedding"]
            if _finite(features):
                _save(out / f"{_text(clip)}.npy", features)
        return out

    fields = ("image", "image_path", "crop_transform", "identity_name")
    fields += ("video",) if benchmark == "micc" else ()
    examples = _read(source, fields)
    images, scale = _resize(examples["image"], size)
    predictions = map_fixed_batches(predict, images, batch_size)
    paths = [_text(p) for p in examples["image_path"]]
    if benchmark == "micc":
        videos: dict[str, list[int]] = {}
        for i, video in enumerate(examples["video"]):
            videos.setdefault(f"{_text(examples['identity_name'][i])}/{_text(video)}", []).append(i)
        for key, rows in videos.items():
            rows = [i for i in rows if _finite(predictions["shape"][i])]
            if rows:
                shape = np.mean(predictions["shape"][rows], axis=0)
                (out / key).parent.mkdir(parents=True, exist_ok=True)
                write_obj(out / f"{key}.obj", shape, triangles)
                _save(out / f"{key}.npy", np.mean(predictions["landmarks_3d"][rows], axis=0))
        return out
    for i, path in enumerate(paths):
        if benchmark == "aflw2000":
            # Model-input pixels -> stored crop -> the original image.
            to_image = crop.invert_transform(
                np.vstack([scale, [0, 0, 1]])[:2] @ np.vstack([examples["crop_transform"][i],
                                                               [0, 0, 1]])
            )  # fmt: skip
            points = crop.apply_transform(to_image, predictions["landmarks_2d"][i])
            if _finite(points):
                _save(out / f"{Path(path).stem}.npy", points)
        elif benchmark == "now":
            stem = "/".join(Path(os.path.splitext(path)[0]).parts[-3:])
            shape, landmarks = predictions["shape"][i], predictions["landmarks_3d"][i]
            if _finite(shape, landmarks):
                (out / stem).parent.mkdir(parents=True, exist_ok=True)
                write_obj(out / f"{stem}.obj", shape, triangles)
                _save(out / f"{stem}.npy", landmarks[list(NOW_FROM_IBUG68)])
        else:  # lfw: <Name>/<Name>_<nnnn>
            stem = "/".join(Path(os.path.splitext(path)[0]).parts[-2:])
            if _finite(predictions["embedding"][i]):
                _save(out / f"{stem}.npy", predictions["embedding"][i])
    return out
