"""A trained recipe's predictor on users' photos: crops, predictions in fixed batches, files.

``facejax reconstruct`` reads the photos and calls :func:`crop_photo` on each, then
:func:`write_reconstructions`, which runs the predictor (``load_predictor`` of the recipe) in
batches of one size (``facejax.data.fixed_batches``) and writes per photo ``<stem>.obj`` (the
face, mm, model frame), ``<stem>_identity.obj`` (its neutral face), ``<stem>.json`` (68
landmarks in the photo's pixels and in 3D, the pose in the schema of
``facejax.formats.face_json``), ``<stem>_embedding.npy`` (the identity feature) and
``<stem>_overlay.png`` (:func:`draw_prediction`). Where the recipe predicts them (the cycle
recipe), the meshes carry the predicted albedo as vertex colours and ``<stem>.json`` the
expression coefficients and SH lighting. Every file is written whole or not at all
(``facejax.formats.atomic_files``); a photo whose prediction is not finite is skipped, named,
and the others are still written.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from facejax import geometry
from facejax.data import crop
from facejax.data.fixed_batches import map_fixed_batches
from facejax.formats import face_json, write_obj, write_ply
from facejax.formats.atomic_files import atomic_write, write_text_atomic
from facejax.formats.image_files import write_png

MESH_FORMATS = ("obj", "ply")


def crop_photo(
    image: np.ndarray, size: int, detect: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(crop [size, size, 3] uint8, transform [2, 3] photo -> crop pixels, landmarks)``.

    With ``detect`` the crop is aligned to the landmarks of the optional detector
    (``facejax[detect]``; a ``ValueError`` when it finds no face), returned as ``[68, 2]``
    crop pixels (the reference of :func:`write_reconstructions`' landmark agreement); without,
    it is the central square of the photo and the landmarks are ``None``.
    """
    height, width = image.shape[:2]
    landmarks = None
    if detect:
        from facejax.face_detection import detect_landmarks

        detected = detect_landmarks(image)
        transform = crop.template_transform(detected, size, margin=1.25)
        landmarks = np.asarray(crop.apply_transform(transform, detected), np.float32)
    else:
        transform = crop.box_transform(crop.central_box(width, height), size)
    return crop.warp_image(image, transform, size), transform, landmarks


def draw_prediction(crop_image, screen_vertices, triangles, landmarks) -> np.ndarray:
    """The crop with the predicted face (grey, lit from the front) and its landmarks drawn."""
    import jax.numpy as jnp
    from PIL import Image, ImageDraw

    from facejax import lighting
    from facejax.render import composite, rasterize, shade_vertices

    size = crop_image.shape[0]
    screen = jnp.asarray(screen_vertices)
    # Normals of the projected mesh: x right, y down, depth away = a left-handed frame; flip y
    # and depth back to a right-handed, y-up, z-towards-the-viewer frame for the light.
    viewer = screen * jnp.asarray([[1.0, -1.0, -1.0]])
    normals = geometry.vertex_normals(viewer, jnp.asarray(triangles))
    fragments = rasterize(screen, triangles, size, size, perspective_correct=False, near=None)
    light = lighting.directional(jnp.array([0.3, 0.4, 1.0]), 0.7, 0.35)
    grey = jnp.full(normals.shape, 0.75)
    colors = shade_vertices(fragments, triangles, grey, normals, light)
    background = jnp.asarray(crop_image, jnp.float32) / 255.0
    drawn = composite(colors, 0.6 * fragments.mask, background)
    picture = Image.fromarray(np.asarray(jnp.clip(drawn, 0, 1) * 255).astype(np.uint8))
    pen = ImageDraw.Draw(picture)
    for x, y in np.asarray(landmarks):
        pen.ellipse((x - 1, y - 1, x + 1, y + 1), fill=(40, 220, 40))
    return np.asarray(picture)


def photo_record(name, transform, prediction: dict) -> dict:
    """The ``<stem>.json`` of one photo from its crop transform and (unbatched) prediction."""
    photo_landmarks = crop.apply_transform(
        crop.invert_transform(transform), prediction["landmarks_2d"]
    )
    record = {
        "image": str(name),
        "landmarks_2d": np.round(photo_landmarks, 3).tolist(),
        "landmarks_2d_units": "pixels of the photo (x right, y down, pixel centres +0.5)",
        "landmarks_3d": np.round(prediction["landmarks_3d"], 3).tolist(),
        "landmarks_3d_units": "mm, model frame (x left of the subject, y up, z out)",
        # The networks' poses are Euler angles of geometry.euler_from_rotation's default.
        **face_json.pose_json(prediction["angles"], geometry.DEFAULT_EULER_CONVENTION),
        **face_json.rotation_convention_json(geometry.DEFAULT_EULER_CONVENTION),
        "scale_pixels_per_mm_in_crop": float(prediction["scale"]),
        "crop_transform": np.asarray(transform).round(6).tolist(),
    }
    # What only some recipes predict (the cycle recipe's expression and lighting).
    if "expression" in prediction:
        record["expression_coeffs"] = np.round(prediction["expression"], 5).tolist()
        record["expression_units"] = "standard deviations of the model's expression basis"
    if "sh_coeffs" in prediction:
        record["sh_coeffs"] = np.round(prediction["sh_coeffs"], 5).tolist()
        record["sh_coeffs_units"] = "[9, 3] RGB spherical-harmonics lighting, camera frame"
    return record


def predictor_outputs(model3d, *, shape, identity_shape, landmarks_2d, pose, embedding) -> dict:
    """What a recipe's predictor returns for :func:`write_reconstructions` (traceable: call it
    inside the jitted forward pass).

    Args:
      model3d: the morphable model (its landmark definition).
      shape, identity_shape: ``[B, V, 3]`` mm, model frame.
      landmarks_2d: ``[B, 68, 2]`` crop pixels.
      pose: the batch's ``facejax.nn.WeakPerspectivePose``.
      embedding: ``[B, D]`` the identity feature.

    Returns:
      ``shape``, ``identity_shape``, ``screen_vertices`` ``[B, V, 3]`` (crop pixels and
      depth), ``landmarks_2d``, ``landmarks_3d`` ``[B, 68, 3]`` (mm, model frame), ``angles``
      ``[B, 3]`` (radians, ``"xyz"``), ``scale`` ``[B]`` (px/mm) and ``embedding``.
    """
    import jax

    from facejax import morphable

    return {
        "shape": shape,
        "identity_shape": identity_shape,
        "screen_vertices": pose.project(shape),
        "landmarks_2d": landmarks_2d,
        "landmarks_3d": jax.vmap(morphable.landmarks, in_axes=(None, 0))(model3d, shape),
        "angles": pose.angles,
        "scale": pose.scale,
        "embedding": embedding,
    }


class PhotoResult(NamedTuple):
    """What :func:`write_reconstructions` did with one photo.

    Attributes:
      stem: the written ``out / <stem>`` (its files are ``<stem>.obj``, ...), or None.
      error: why nothing was written (a non-finite prediction), or None.
      scores: per-photo quality scores a batch user can filter on (low is good):
        ``flip_consistency_nme``, always: the NME (box normaliser) between the predicted 2D
        landmarks and those predicted for the mirrored crop, mirrored back. A network reads a
        face the same way mirrored; on what is not a face its landmarks wander (measured for
        a trained disentangle model in experiments/disentangle/README.md: faces 0.010-0.024,
        10th-90th percentile, non-faces 0.03-0.26). ``landmark_agreement_nme``, when the photo
        was cropped with ``--detect``: the NME of the predicted landmarks against the
        detector's (a reconstruction that does not follow the detected face scores high).
    """

    stem: Path | None
    error: str | None = None
    scores: dict | None = None


def landmark_agreement(predicted, reference) -> np.ndarray:
    """NME (box normaliser) of predicted ``[..., 68, 2]`` landmarks against a reference of the
    same shape, ``[...]``."""
    from facejax.evaluation import landmark_nme

    predicted = np.asarray(predicted, np.float32)
    reference = np.asarray(reference, np.float32)
    flat = landmark_nme(predicted.reshape(-1, 68, 2), reference.reshape(-1, 68, 2))
    return np.asarray(flat).reshape(predicted.shape[:-2])


def flip_consistency(predict, crops: np.ndarray, landmarks, batch_size: int) -> np.ndarray:
    """``[N]`` NME between ``landmarks [N, 68, 2]``, predicted for ``crops [N, S, S, 3]``, and
    those predicted for the mirrored crops, mirrored back (see :class:`PhotoResult`)."""
    from facejax.data.pipeline.flip import mirror_points

    mirrored = np.ascontiguousarray(crops[:, :, ::-1])
    predicted = map_fixed_batches(predict, mirrored, batch_size)["landmarks_2d"]
    return landmark_agreement(landmarks, mirror_points(np.asarray(predicted), crops.shape[2]))


def non_finite_outputs(prediction: dict) -> list[str]:
    """Names of the (unbatched) prediction's arrays that hold NaN or infinite values."""
    return [
        key
        for key, value in prediction.items()
        if np.issubdtype(np.asarray(value).dtype, np.floating)
        and not np.all(np.isfinite(np.asarray(value)))
    ]


def write_reconstructions(
    predict: Callable[[np.ndarray], dict],
    model3d,
    crops: Sequence[tuple[Path, np.ndarray, np.ndarray]],
    out,
    *,
    batch_size: int,
    mesh_format: str = "obj",
    reference_landmarks: Sequence[np.ndarray | None] | None = None,
) -> list[PhotoResult]:
    """Runs ``predict`` on the crops and writes each photo's files into ``out``.

    Args:
      predict: face crops ``[B, S, S, 3]`` uint8 -> predictions (a recipe's
        ``load_predictor``).
      model3d: the morphable model whose triangles the meshes use.
      crops: ``(photo path, crop [S, S, 3], transform [2, 3])`` per photo
        (:func:`crop_photo`).
      out: the output folder (created if needed).
      batch_size: photos per call of ``predict`` (the last batch is padded).
      mesh_format: ``"obj"`` or ``"ply"``.
      reference_landmarks: per photo, detected ``[68, 2]`` crop-pixel landmarks (or None) to
        score the prediction against (:class:`PhotoResult`'s ``landmark_agreement_nme``, also
        in ``<stem>.json``).

    Returns:
      A :class:`PhotoResult` per photo, in order; a photo whose prediction is not finite has
      ``stem=None`` and the reason in ``error`` (nothing of it written).
    """
    if mesh_format not in MESH_FORMATS:
        raise ValueError(f"mesh format must be one of {MESH_FORMATS}, got {mesh_format!r}")
    from facejax.fitting.fit_files import unique_stems

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not crops:
        return []
    triangles = np.asarray(model3d.triangles)
    write_mesh = write_obj if mesh_format == "obj" else write_ply
    images = np.stack([c for _, c, _ in crops])
    predictions = map_fixed_batches(predict, images, batch_size)
    flip_scores = flip_consistency(predict, images, predictions["landmarks_2d"], batch_size)
    written: list[PhotoResult] = []
    references = list(reference_landmarks or [None] * len(crops))
    # Two photos a.jpg in different folders must not overwrite each other's results.
    stems = unique_stems([name for name, _, _ in crops])
    for i, (name, crop_image, transform) in enumerate(crops):
        one = {key: value[i] for key, value in predictions.items()}
        bad = non_finite_outputs(one)
        if bad:
            error = f"{name}: the prediction is not finite ({', '.join(bad)}); skipped"
            written.append(PhotoResult(None, error))
            continue
        scores = {"flip_consistency_nme": float(flip_scores[i])}
        if references[i] is not None:
            scores["landmark_agreement_nme"] = float(
                landmark_agreement(one["landmarks_2d"], references[i])
            )
        stem = out / stems[i]
        colors = None
        if "albedo" in one:
            colors = np.clip(np.asarray(one["albedo"], np.float64), 0.0, 1.0)
        write_mesh(f"{stem}.{mesh_format}", one["shape"], triangles, colors)
        write_mesh(f"{stem}_identity.{mesh_format}", one["identity_shape"], triangles, colors)
        with atomic_write(f"{stem}_embedding.npy", "wb") as file:
            np.save(file, one["embedding"])
        record = {**photo_record(name, transform, one), **scores}
        write_text_atomic(f"{stem}.json", json.dumps(record, indent=1))
        picture = draw_prediction(
            crop_image, one["screen_vertices"], triangles, one["landmarks_2d"]
        )
        write_png(f"{stem}_overlay.png", picture)
        written.append(PhotoResult(stem, None, scores))
    return written
