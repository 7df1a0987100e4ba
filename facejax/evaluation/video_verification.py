"""Video-level face verification on YouTube Faces (Wolf, Hassner, Maoz, "Face Recognition in
Unconstrained Videos with Matched Background Similarity", CVPR 2011).

One feature per video: the mean of its frames' features, then scaled to unit length
(:func:`video_features`). A pair's score is the cosine similarity of its two video features. The
5,000 pairs of ``splits.txt`` in 10 splits (read by
``facejax.data.builders.youtube_faces.read_splits``) are scored by the 10-fold protocol of
:func:`~facejax.evaluation.verification_metrics`: the threshold chosen on nine splits is tested
on the tenth. A pair whose video has no feature is excluded, named and counted, never dropped
silently.
"""

from collections.abc import Mapping, Sequence

import numpy as np

from facejax.evaluation.similarity import COSINE_EPS, normalized_features
from facejax.evaluation.verification import verification_metrics

YTF_PROTOCOL = (
    "YouTube Faces video level (Wolf et al. 2011): one feature per video (mean of its frames' "
    "features, L2-normalised), cosine score; 10-fold over splits.txt, the threshold maximising "
    "accuracy on the other splits tested on each; accept iff score >= threshold"
)


def video_features(
    frame_features: Mapping[str, np.ndarray], *, eps: float = COSINE_EPS
) -> dict[str, np.ndarray]:
    """One feature per video: the mean of its frames' features, then L2-normalised.

    Frames are averaged as given (not normalised first), so a frame with a longer feature
    weighs more, as in the plain mean-of-features of the YTF literature.

    Args:
      frame_features: ``{video: [F_i, D]}``, ``F_i >= 1`` frames of one feature size ``D``;
        the video key as in ``splits.txt`` (``"<subject>/<video>"``).
      eps: smallest norm divided by (a zero mean stays zero).

    Returns:
      ``{video: [D]}`` float64 unit vectors (or zero).
    """
    names = list(frame_features)
    means = []
    for name in names:
        frames = np.asarray(frame_features[name], dtype=np.float64)
        if frames.ndim != 2 or frames.shape[0] == 0:
            raise ValueError(
                f"video_features: {name!r} must have shape [F, D] with F >= 1, got {frames.shape}"
            )
        means.append(frames.mean(axis=0))
    if not names:
        return {}
    sizes = {m.shape[0] for m in means}
    if len(sizes) > 1:
        raise ValueError(f"video_features: videos have different feature sizes {sorted(sizes)}")
    unit = normalized_features(np.stack(means), eps=eps, name="video_features")
    return dict(zip(names, unit, strict=True))


def ytf_verification(
    video_feature: Mapping[str, np.ndarray],
    pairs: Sequence[tuple[int, str, str, bool]],
    *,
    far_targets=(1e-2, 1e-3),
    include_roc: bool = True,
) -> dict:
    """YouTube Faces 10-fold verification of video features.

    Args:
      video_feature: ``{video: [D]}`` (:func:`video_features`).
      pairs: ``(fold, video_a, video_b, same)`` per pair, folds from 0, as
        ``facejax.data.builders.youtube_faces.read_splits`` returns ``splits.txt``.
      far_targets: false-accept rates for ``tar_at_far_*`` (NaN with a note in ``notes`` when
        the impostor pairs cannot resolve one).
      include_roc: add the ROC arrays.

    Returns:
      :func:`~facejax.evaluation.verification_metrics`' dict (accuracy over folds, AUC, EER,
      TAR at FAR, ROC, counts) with ``protocol`` = YTF's, plus ``num_pairs_listed``,
      ``num_pairs_excluded`` and ``excluded_pairs`` (``"fold k: a / b: no feature for a"``).
    """
    kept, excluded = [], []
    for fold, a, b, same in pairs:
        missing = [v for v in (a, b) if v not in video_feature]
        if missing:
            excluded.append(f"fold {fold}: {a} / {b}: no feature for {', '.join(missing)}")
        else:
            kept.append((int(fold), a, b, bool(same)))
    if not kept:
        raise ValueError(f"ytf_verification: no pair has both features ({len(excluded)} listed)")
    names = sorted({v for _, a, b, _ in kept for v in (a, b)})
    index = {name: i for i, name in enumerate(names)}
    features = normalized_features(
        np.stack([np.asarray(video_feature[n], dtype=np.float64) for n in names]),
        name="video_feature",
    )
    a = np.array([index[p[1]] for p in kept])
    b = np.array([index[p[2]] for p in kept])
    scores = np.sum(features[a] * features[b], axis=1)
    same = np.array([p[3] for p in kept])
    folds = np.array([p[0] for p in kept])
    metrics = verification_metrics(
        scores, same, folds, far_targets=far_targets, include_roc=include_roc
    )
    metrics["protocol"] = YTF_PROTOCOL
    metrics["num_pairs_listed"] = len(kept) + len(excluded)
    metrics["num_pairs_excluded"] = len(excluded)
    metrics["excluded_pairs"] = excluded
    return metrics
