"""What ``facejax fit`` writes for one person: meshes, overlays and ``params.json``.

Into a folder: ``identity.obj`` (the neutral face: mean + identity, model frame, mm; coloured by
the fitted albedo after a photometric fit), per image ``<stem>.obj`` (the posed face in that
image's camera frame, mm) and ``<stem>_overlay.png`` (:func:`facejax.fitting.draw_overlay`),
and ``params.json``: every coefficient, each image's pose, translation and camera in the schema
of :mod:`facejax.formats.face_json`, its landmarks (given and fitted, pixels) and the landmark
errors (docs/fitting.md).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from facejax import morphable
from facejax.fitting.config import FitConfig, PhotometricConfig
from facejax.fitting.overlay import draw_overlay
from facejax.fitting.person import PersonImage
from facejax.fitting.result import FitResult
from facejax.formats import face_json, write_obj, write_png
from facejax.formats.atomic_files import write_text_atomic
from facejax.morphable.model import MorphableModel

# Output names of the person as a whole; an image's stem must not take them.
RESERVED_STEMS = ("identity", "params")


def unique_stems(paths: Sequence[str]) -> list[str]:
    """Output names per image: the file stem, made unique and kept off ``RESERVED_STEMS``."""
    taken = set(RESERVED_STEMS)
    stems = []
    for path in paths:
        stem = Path(path).stem or "image"
        candidate, k = stem, 1
        while candidate in taken:
            k += 1
            candidate = f"{stem}_{k}"
        taken.add(candidate)
        stems.append(candidate)
    return stems


def write_fit(
    out,
    model: MorphableModel,
    result: FitResult,
    images: Sequence[PersonImage],
    *,
    config: FitConfig,
    photometric: PhotometricConfig | None = None,
    overlay: str = "shaded",
    model_source: str | None = None,
    failed: Sequence[dict] = (),
    weights=None,
    sliding_contour_points: int = 0,
) -> dict:
    """Writes the fit of one person's ``N`` images into the folder ``out`` (module docstring).

    Args:
      out: the folder (created if needed).
      model: the fitted model.
      result: the fit (:func:`facejax.fitting.fit_person`), leading dims ``[N]``.
      images: the ``N`` fitted images, in the order of ``result``; their outputs are named
        after the image files (:func:`unique_stems`).
      config: the landmark fit's options (recorded).
      photometric: the photometric options if the fit was refined on the pixels.
      overlay: ``"shaded"`` or ``"wireframe"`` (:func:`facejax.fitting.draw_overlay`).
      model_source: the model file as the user named it (recorded).
      failed: ``{"input", "error"}`` of the inputs that could not be fitted (recorded).
      weights: ``[L]`` the landmark weights of the model's definition; a point at weight 0 (one
        the model does not define) gets ``null`` in ``landmark_errors_px``.
      sliding_contour_points: how many landmarks slid along the contour (recorded).

    Returns:
      The ``params.json`` content.

    Raises:
      FloatingPointError: when the fit holds NaN or infinite values (nothing is written).
    """
    bad = [
        jax.tree_util.keystr(path)
        for path, leaf in jax.tree_util.tree_leaves_with_path((result.params, result.landmarks_2d))
        if np.issubdtype(np.asarray(leaf).dtype, np.floating)
        and not np.all(np.isfinite(np.asarray(leaf)))
    ]
    if bad:
        raise FloatingPointError(
            f"{out}: the fit has NaN or infinite values in {', '.join(bad)}; nothing written"
        )
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    refined = photometric is not None
    params = result.params
    first = jax.tree_util.tree_map(lambda a: a[0], params)
    triangles = np.asarray(model.triangles)
    albedo = None
    if refined:
        albedo = np.clip(np.asarray(morphable.albedo(model, first.albedo)), 0.0, 1.0)
    neutral = np.asarray(morphable.shape(model, first.identity))
    write_obj(out / "identity.obj", neutral, triangles, colors=albedo)

    decode = jax.jit(morphable.decode)
    given = np.stack([np.asarray(item.landmarks) for item in images])
    errors = np.linalg.norm(np.asarray(result.landmarks_2d) - given, axis=-1)
    used = np.ones(errors.shape[-1]) if weights is None else np.asarray(weights).reshape(-1)
    stems = unique_stems([item.path for item in images])
    records = []
    for n, (item, stem) in enumerate(zip(images, stems, strict=True)):
        one = jax.tree_util.tree_map(lambda a, n=n: a[n], params)
        face = decode(model, one)
        write_obj(out / f"{stem}.obj", np.asarray(face.camera_vertices), triangles, colors=albedo)
        picture = draw_overlay(
            model,
            one,
            item.image,
            given=item.landmarks,
            fitted=np.asarray(result.landmarks_2d[n]),
            style=overlay,
            photometric=refined,
        )
        write_png(out / f"{stem}_overlay.png", picture)
        records.append(
            {
                "image": item.path,
                "landmarks": item.landmarks_path,
                "mesh": f"{stem}.obj",
                "overlay": f"{stem}_overlay.png",
                "width": int(item.image.shape[1]),
                "height": int(item.image.shape[0]),
                **face_json.face_json(one, lighting=refined),
                # The points fitted to (from the landmark file or the detector) and the
                # fitted model's, in the photo's pixels; null where the model has no point.
                "given_landmarks_2d": face_json.rounded(item.landmarks, 3),
                "landmarks_2d": [
                    p if w > 0 else None
                    for p, w in zip(face_json.rounded(result.landmarks_2d[n], 3), used, strict=True)
                ],
                "landmark_error_px": float(result.landmark_error[n]),
                "landmark_errors_px": [
                    e if w > 0 else None
                    for e, w in zip(face_json.rounded(errors[n], 4), used, strict=True)
                ],
            }
        )

    summary = {
        "model": {
            "source": model_source,
            "name": model.name,
            "fingerprint": morphable.fingerprint(model),
            "landmarks": model.num_landmarks,
            "landmarks_defined": int(np.sum(used > 0)),
            "sliding_contour_points": int(sliding_contour_points),
        },
        "units": face_json.UNITS,
        **face_json.rotation_convention_json(first.rotation_convention),
        "pose": face_json.POSE_FRAME,
        "fit": {**dataclasses.asdict(config), "photometric": refined},
        "identity": face_json.rounded(first.identity),
        "albedo": face_json.rounded(first.albedo) if refined else None,
        "images": records,
        "mean_landmark_error_px": float(np.mean([r["landmark_error_px"] for r in records])),
        "failed": list(failed),
    }
    write_text_atomic(out / "params.json", json.dumps(summary, indent=2))
    return summary
