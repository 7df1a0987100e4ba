"""One method scored on one benchmark: the metrics, the curves behind the plots, and every
prediction that could not be scored, by name.

A run takes predictions already in memory (a trained model's outputs, or files read by
``facejax.evaluation.prediction_folders``) and the benchmark's ground truth
(``facejax.evaluation.benchmark_inputs``) and calls the protocol functions of
``facejax.evaluation``. What it could not score is never dropped silently: each prediction that
is missing, malformed or not finite is an :class:`Excluded` with its name and reason, counted in
the metrics (``num_expected``, ``num_scored``, ``num_missing``, ``num_malformed``) and listed in
the report. A protocol that this build of facejax lacks raises :class:`ProtocolUnavailable`,
never a stand-in result.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

from facejax.evaluation.verification import verification_metrics


class ProtocolUnavailable(ValueError):
    """The benchmark's protocol module is not part of this build of facejax."""


def protocol_module(name: str):
    """``facejax.evaluation.<name>``, or :class:`ProtocolUnavailable` naming it."""
    try:
        return importlib.import_module(f"facejax.evaluation.{name}")
    except ModuleNotFoundError as err:
        if err.name != f"facejax.evaluation.{name}":
            raise
        raise ProtocolUnavailable(
            f"protocol not available in this build: facejax.evaluation.{name} is missing"
        ) from err


class Excluded(NamedTuple):
    """A prediction left out of the scores.

    Attributes:
      name: the benchmark's own name of the item (an image, a video, a subject and setting).
      kind: ``"missing"`` (no prediction file) or ``"malformed"`` (unreadable, wrong shape,
        NaN or infinite values).
      reason: what was wrong, naming the file where there is one.
    """

    name: str
    kind: str
    reason: str


@dataclasses.dataclass
class BenchmarkRun:
    """A benchmark's scores and what the report draws from them.

    Attributes:
      benchmark: ``"synthetic"``, ``"aflw2000"``, ``"now"``, ``"micc"``, ``"lfw"`` or
        ``"ytf"`` (the names of ``facejax evaluate --benchmark``).
      metrics: the numbers for ``metrics.json`` (with the counts of :meth:`counts`).
      num_expected: the items the benchmark asks a prediction for.
      excluded: the items left out, with their reasons.
      roc: ``{label: (far, tar)}`` ROC curves (verification benchmarks).
      errors: ``{label: [N] errors}`` for cumulative error curves.
      error_unit: the unit of ``errors`` (``"NME"``, ``"mm"``).
      vertex_errors: ``[V]`` mean error per vertex of the model's mesh (mm), for the heat map.
      notes: sentences the report shows under the metrics.
    """

    benchmark: str
    metrics: dict
    num_expected: int
    excluded: list[Excluded] = dataclasses.field(default_factory=list)
    roc: dict | None = None
    errors: dict | None = None
    error_unit: str = ""
    vertex_errors: np.ndarray | None = None
    notes: list[str] = dataclasses.field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """``num_expected``, ``num_scored``, ``num_excluded``, ``num_missing``,
        ``num_malformed``."""
        kinds = [e.kind for e in self.excluded]
        return {
            "num_expected": self.num_expected,
            "num_scored": self.num_expected - len(self.excluded),
            "num_excluded": len(self.excluded),
            "num_missing": kinds.count("missing"),
            "num_malformed": kinds.count("malformed"),
        }


def non_finite_rows(names: Sequence[str], **arrays) -> list[Excluded]:
    """An :class:`Excluded` for each row ``i`` of the ``[N, ...]`` arrays holding NaN or
    infinite values, named ``names[i]``."""
    bad: dict[int, list[str]] = {}
    for key, value in arrays.items():
        value = np.asarray(value, np.float64).reshape(len(names), -1)
        for i in np.flatnonzero(~np.all(np.isfinite(value), axis=1)):
            bad.setdefault(int(i), []).append(key)
    return [
        Excluded(names[i], "malformed", f"the prediction is not finite ({', '.join(keys)})")
        for i, keys in sorted(bad.items())
    ]


def _kept(names: Sequence[str], excluded: Sequence[Excluded]) -> np.ndarray:
    left_out = {e.name for e in excluded}
    return np.array([n not in left_out for n in names], bool)


def _verification(scores, same, folds, label: str) -> tuple[dict, dict, list[str]]:
    """Flat ``verification_*`` metrics (no dots in keys), the ROC and the notes."""
    result = verification_metrics(scores, same, folds, include_roc=True)
    metrics = {
        f"verification_{k}": result[k]
        for k in ("accuracy", "accuracy_std", "auc", "eer", "num_pairs", "num_impostor")
    }
    metrics["verification_tar_at_far_1e-2"] = result["tar_at_far_0.01"]
    metrics["verification_tar_at_far_1e-3"] = result["tar_at_far_0.001"]
    metrics["verification_protocol"] = result["protocol"]
    roc = {label: (result["roc"]["far"], result["roc"]["tar"])}
    return metrics, roc, list(result["notes"])


def synthetic_run(model3d, predictions: Mapping, data: Mapping, pairs, names) -> BenchmarkRun:
    """A trained model on a facejax synthetic test split, whose true shapes are known.

    Args:
      model3d: the morphable model of the dataset's coefficients (its mesh and face mask).
      predictions: ``shape`` ``[N, V, 3]`` (mm), ``landmarks_2d`` ``[N, 68, 2]`` (crop
        pixels) and ``embedding`` ``[N, D]``.
      data: the split's ``identity_coeffs``, ``expression_coeffs``, ``landmarks`` and
        ``landmark_visibility``.
      pairs: the split's ``facejax.data.protocols.VerificationPairs``.
      names: ``[N]`` the images' names (``image_path``).

    Returns:
      Shape RMSE (head and face region, after similarity alignment), landmark NME and
      verification, the per-vertex error for the heat map, the NME for the cumulative curve
      and the ROC. A non-finite prediction is excluded by name, with the pairs that use it.
    """
    import jax
    import jax.numpy as jnp

    from facejax import morphable
    from facejax.data.fixed_batches import map_fixed_batches
    from facejax.evaluation.baselines import shape_regions
    from facejax.evaluation.landmark_metrics import landmark_nme
    from facejax.evaluation.shape_metrics import aligned_vertex_errors
    from facejax.evaluation.similarity import cosine_similarity

    names = list(names)
    excluded = non_finite_rows(
        names, shape=predictions["shape"], landmarks_2d=predictions["landmarks_2d"],
        embedding=predictions["embedding"],
    )  # fmt: skip
    keep = _kept(names, excluded)
    if not np.any(keep):
        raise ValueError("synthetic: every prediction is excluded; nothing to score")
    index = np.flatnonzero(keep)
    true = jax.jit(jax.vmap(morphable.shape, in_axes=(None, 0, 0)))(
        model3d,
        jnp.asarray(data["identity_coeffs"][index]),
        jnp.asarray(data["expression_coeffs"][index]),
    )
    regions = shape_regions(model3d)
    face = regions.get("face")
    weights = None if face is None else jnp.asarray(face)
    pred_true = np.stack([np.asarray(predictions["shape"])[index], np.asarray(true)], axis=1)
    errors = map_fixed_batches(
        jax.jit(lambda pair: aligned_vertex_errors(pair[:, 0], pair[:, 1], weights=weights)),
        pred_true, min(64, len(pred_true)),
    )  # fmt: skip
    # The same alignment (fitted on the face region) for both regions' RMSE.
    metrics: dict = {"shape_rmse_head_mm": float(np.mean(np.sqrt(np.mean(errors**2, axis=1))))}
    if face is not None:
        face_rmse = np.sqrt(np.sum(errors**2 * face, axis=1) / np.sum(face))
        metrics["shape_rmse_face_mm"] = float(np.mean(face_rmse))
    visibility = np.asarray(data["landmark_visibility"][index], np.float32)
    nme = np.asarray(
        landmark_nme(
            np.asarray(predictions["landmarks_2d"])[index], data["landmarks"][index],
            visibility=visibility,
        )
    )  # fmt: skip
    metrics["landmark_nme"] = float(np.mean(nme))
    features = np.asarray(predictions["embedding"])
    usable = keep[pairs.index_a] & keep[pairs.index_b]
    notes = []
    if not np.all(usable):
        notes.append(
            f"{int(np.sum(~usable))} of {len(usable)} verification pairs use an excluded "
            "image and are left out"
        )
    a, b = pairs.index_a[usable], pairs.index_b[usable]
    scores = np.asarray(cosine_similarity(features[a], features[b]))
    verification, roc, more = _verification(scores, pairs.same[usable], pairs.fold[usable], "test")
    metrics.update(verification)
    notes += more
    notes.append(
        "shape RMSE after a similarity alignment fitted on the face region"
        if face is not None
        else "shape RMSE after a similarity alignment over the whole head"
    )
    return BenchmarkRun(
        "synthetic", metrics, len(names), excluded, roc=roc,
        errors={"test split": nme}, error_unit="NME (box)",
        vertex_errors=np.mean(errors, axis=0), notes=notes,
    )  # fmt: skip


def aflw2000_run(names, pred_landmarks, true_landmarks, yaw_degrees, excluded) -> BenchmarkRun:
    """AFLW2000-3D: 68-point NME (box normaliser) by absolute yaw bin.

    Args:
      names: ``[N]`` every image of the benchmark.
      pred_landmarks: ``[N, 68, 2]`` predictions (rows of excluded images are ignored).
      true_landmarks: ``[N, 68, 2]`` ground truth in the same pixel convention.
      yaw_degrees: ``[N]`` ground-truth yaw.
      excluded: the images without a usable prediction (missing or malformed files).

    Returns:
      ``nme_yaw_0_30``, ``nme_yaw_30_60``, ``nme_yaw_60_90``, ``nme_mean`` (the mean of the
      three bin means: the field's "Mean"), ``nme_all`` and the bin counts
      (``facejax.evaluation.aflw2000_protocol`` where this build has it); the per-image NME
      for the cumulative curve.
    """
    names = list(names)
    excluded = list(excluded)
    pred = np.asarray(pred_landmarks, np.float64)
    excluded += [
        e
        for e in non_finite_rows(names, landmarks=pred)
        if e.name not in {x.name for x in excluded}
    ]
    keep = _kept(names, excluded)
    if not np.any(keep):
        raise ValueError("aflw2000: every prediction is excluded; nothing to score")
    pred, true = pred[keep], np.asarray(true_landmarks, np.float64)[keep]
    yaw = np.asarray(yaw_degrees, np.float64)[keep]
    try:
        protocol = protocol_module("aflw2000_protocol")
    except ProtocolUnavailable:
        protocol = None
    if protocol is not None:
        result = protocol.aflw2000_nme(pred, true, yaw)
        per_image = np.asarray(result["nme"], np.float64)
        metrics = {f"nme_{k}": v for k, v in result.items() if k != "nme"}
    else:  # the same binning from facejax.evaluation.landmark_metrics
        from facejax.evaluation.landmark_metrics import landmark_nme, nme_by_yaw

        per_image = np.asarray(landmark_nme(pred, true), np.float64)
        by_yaw = nme_by_yaw(per_image, yaw)
        by_yaw["mean"] = by_yaw.pop("balanced")
        metrics = {f"nme_{k}": v for k, v in by_yaw.items()}
    notes = ["NME normalised by sqrt(w x h) of the ground-truth landmark box; yaw bins by |yaw|"]
    return BenchmarkRun(
        "aflw2000", metrics, len(names), excluded, errors={"AFLW2000-3D": per_image},
        error_unit="NME (box)", notes=notes,
    )  # fmt: skip


def lfw_run(features: Mapping[str, np.ndarray], pairs, expected, excluded) -> BenchmarkRun:
    """LFW verification (10 folds of ``pairs.txt``) from one feature per image, by cosine.

    Args:
      features: ``{image name: [D]}`` for the images with a usable prediction.
      pairs: ``(fold, name_a, name_b, same)`` per line of ``pairs.txt``.
      expected: every image name the pairs use.
      excluded: images without a usable feature; their pairs are left out (counted in a note).
    """
    from facejax.evaluation.similarity import cosine_similarity

    excluded = list(excluded)
    usable = [p for p in pairs if p[1] in features and p[2] in features]
    if not usable:
        raise ValueError("lfw: no pair has features for both images; nothing to score")
    a = np.stack([features[p[1]] for p in usable])
    b = np.stack([features[p[2]] for p in usable])
    scores = np.asarray(cosine_similarity(a, b), np.float64)
    same = np.array([p[3] for p in usable], bool)
    folds = np.array([p[0] for p in usable], np.int64)
    metrics, roc, notes = _verification(scores, same, folds, "LFW")
    if len(usable) < len(pairs):
        notes.insert(0, f"{len(pairs) - len(usable)} of {len(pairs)} pairs use an excluded image")
    return BenchmarkRun("lfw", metrics, len(expected), excluded, roc=roc, notes=notes)


def ytf_run(frame_features: Mapping[str, np.ndarray], pairs, expected, excluded) -> BenchmarkRun:
    """YouTube Faces at video level (``facejax.evaluation.video_verification``): one feature per
    video from its frames' features, the 5,000 pairs in 10 splits.

    Args:
      frame_features: ``{"subject/video": [F, D]}`` for the videos with usable predictions.
      pairs: ``(fold, video_a, video_b, same)`` of ``splits.txt``.
      expected: every video the pairs use.
      excluded: videos without usable features; their pairs are left out.
    """
    protocol = protocol_module("video_verification")
    excluded = list(excluded)
    usable = [p for p in pairs if p[1] in frame_features and p[2] in frame_features]
    if not usable:
        raise ValueError("ytf: no pair has features for both videos; nothing to score")
    video = protocol.video_features(frame_features)
    result = protocol.ytf_verification(video, usable)
    metrics = {f"verification_{k}": v for k, v in result.items() if np.ndim(v) == 0}
    roc = None
    if isinstance(result.get("roc"), Mapping):
        roc = {"YTF": (result["roc"]["far"], result["roc"]["tar"])}
    notes = [str(n) for n in result.get("notes", [])]
    if len(usable) < len(pairs):
        notes.insert(0, f"{len(pairs) - len(usable)} of {len(pairs)} pairs use an excluded video")
    return BenchmarkRun("ytf", metrics, len(expected), excluded, roc=roc, notes=notes)
