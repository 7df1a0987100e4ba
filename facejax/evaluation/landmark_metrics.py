"""Landmark error: normalised mean error (NME) and the AFLW2000-3D breakdown by yaw.

The AFLW2000-3D protocol of 3DDFA (Zhu et al., "Face Alignment Across Large Poses: A 3D
Solution", CVPR 2016 / TPAMI 2019; the ``benchmark_aflw2000.py`` script of its code release,
followed by PRNet, 3DDFA-V2, SynergyNet and most later papers): the 68 landmarks in the image
plane (x, y), the mean over landmarks of the Euclidean error, divided by ``sqrt(w * h)`` of the
ground-truth landmarks' bounding box; results reported per absolute-yaw bin
``|yaw| <= 30``, ``30 < |yaw| <= 60``, ``|yaw| > 60`` degrees and as the mean of the three
bin means. Landmarks follow ``docs/conventions.md`` (pixels, iBUG-68 order, 0-based indices).
"""

import jax
import jax.numpy as jnp
import numpy as np

from facejax.geometry._validation import as_float

NORMALIZERS = ("box", "interocular", "interpupil")

# iBUG-68, 0-based: outer eye corners (the 300-W "inter-ocular" distance, Sagonas et al. 2016)
# and the six points around each eye, whose mean is the eye centre ("inter-pupil").
OUTER_EYE_CORNERS = (36, 45)
RIGHT_EYE = tuple(range(36, 42))  # the subject's right eye: the left one in a frontal image
LEFT_EYE = tuple(range(42, 48))

# Absolute-yaw bins of the 3DDFA AFLW2000-3D benchmark: closed on the right, the last one open.
YAW_BIN_EDGES = (30.0, 60.0)
YAW_BIN_NAMES = ("yaw_0_30", "yaw_30_60", "yaw_60_90")


def _check(pred, target, visibility, normalizer):
    fn = "landmark_nme"
    if normalizer not in NORMALIZERS:
        raise ValueError(f"{fn}: normalizer must be one of {NORMALIZERS}, got {normalizer!r}")
    if pred.ndim != 3 or pred.shape[-1] not in (2, 3):
        raise ValueError(f"{fn}: pred must have shape [N, L, 2] or [N, L, 3], got {pred.shape}")
    if target.shape != pred.shape:
        raise ValueError(
            f"{fn}: target must have the shape of pred {pred.shape}, got {target.shape}"
        )
    if normalizer != "box" and pred.shape[1] != 68:
        raise ValueError(
            f"{fn}: normalizer={normalizer!r} needs the 68 iBUG landmarks, got L = {pred.shape[1]}"
        )
    if visibility is not None and visibility.shape != pred.shape[:2]:
        raise ValueError(
            f"{fn}: visibility must have shape [N, L] = {pred.shape[:2]}, got {visibility.shape}"
        )


def landmark_normalizer(target, *, normalizer: str = "box", visibility=None) -> jax.Array:
    """The length that :func:`landmark_nme` divides by, from the ground-truth landmarks.

    * ``"box"``: ``sqrt(w * h)`` of the bounding box of the ground-truth (x, y) landmarks (the
      AFLW2000-3D standard of 3DDFA). With ``visibility``, the box of the visible ones.
    * ``"interocular"``: distance between the outer eye corners, landmarks 36 and 45 (300-W).
    * ``"interpupil"``: distance between the eye centres, the means of landmarks 36-41 and 42-47.

    Only the image-plane coordinates (x, y) enter, also for ``[N, L, 3]`` landmarks.

    Args:
      target: ``[N, L, 2]`` or ``[N, L, 3]`` ground-truth landmarks (``L = 68`` for the eye
        normalisers).
      normalizer: ``"box"``, ``"interocular"`` or ``"interpupil"``.
      visibility: optional ``[N, L]`` bool; only used by ``"box"``.

    Returns:
      ``[N]`` normalising lengths in pixels.
    """
    target = as_float(target)
    vis = None if visibility is None else jnp.asarray(visibility, dtype=bool)
    _check(target, target, vis, normalizer)
    xy = target[..., :2]
    if normalizer == "box":
        if vis is None:
            lo, hi = jnp.min(xy, axis=1), jnp.max(xy, axis=1)
        else:
            # Invisible ground truth can be a placeholder (often 0, 0): keep it out of the box.
            lo = jnp.min(jnp.where(vis[..., None], xy, jnp.inf), axis=1)
            hi = jnp.max(jnp.where(vis[..., None], xy, -jnp.inf), axis=1)
        size = hi - lo
        return jnp.sqrt(size[:, 0] * size[:, 1])
    if normalizer == "interocular":
        a, b = xy[:, OUTER_EYE_CORNERS[0]], xy[:, OUTER_EYE_CORNERS[1]]
    else:
        a = jnp.mean(xy[:, RIGHT_EYE], axis=1)
        b = jnp.mean(xy[:, LEFT_EYE], axis=1)
    return jnp.sqrt(jnp.sum((a - b) ** 2, axis=-1))


def landmark_nme(pred, target, *, normalizer: str = "box", visibility=None) -> jax.Array:
    """Normalised mean landmark error per face.

    ``NME = mean_l |pred_l - target_l| / d``: the mean over landmarks (the visible ones, with
    ``visibility``) of the Euclidean distance, divided by :func:`landmark_normalizer` ``d``.
    The distance is over all coordinates given: (x, y) for ``[N, L, 2]`` (the 2D AFLW2000-3D
    metric), (x, y, depth) for ``[N, L, 3]`` (the 3D-alignment variant, e.g. PRNet's, Feng et
    al. ECCV 2018); the normaliser stays 2D. Usually reported in percent (times 100). Works
    under ``jax.jit`` with ``normalizer`` static.

    Args:
      pred: ``[N, L, 2]`` or ``[N, L, 3]`` predicted landmarks in pixels.
      target: ground truth, same shape.
      normalizer: ``"box"`` (default, AFLW2000-3D), ``"interocular"`` or ``"interpupil"``.
      visibility: optional ``[N, L]`` bool; the mean runs over visible landmarks only (a face
        with none gives NaN).

    Returns:
      ``[N]`` NME (a fraction, not percent).
    """
    pred, target = as_float(pred), as_float(target)
    vis = None if visibility is None else jnp.asarray(visibility, dtype=bool)
    _check(pred, target, vis, normalizer)
    distance = jnp.sqrt(jnp.sum((pred - target) ** 2, axis=-1))
    if vis is None:
        mean = jnp.mean(distance, axis=-1)
    else:
        mean = jnp.sum(jnp.where(vis, distance, 0.0), axis=-1) / jnp.sum(vis, axis=-1)
    return mean / landmark_normalizer(target, normalizer=normalizer, visibility=vis)


def nme_by_yaw(nme, yaw_degrees) -> dict[str, float]:
    """Mean of a per-face error in the three AFLW2000-3D absolute-yaw bins.

    Bins as in 3DDFA's benchmark: ``|yaw| <= 30``, ``30 < |yaw| <= 60`` and ``|yaw| > 60``
    degrees (faces beyond 90 degrees fall in the last bin). ``balanced`` is the mean of the three
    bin means (the "Mean" column of published AFLW2000-3D tables), ``all`` the plain mean over
    faces. An empty bin gives NaN (and a NaN balanced mean). Host-side (numpy, float64).

    Args:
      nme: ``[N]`` per-face errors (any per-face metric: NME, pose error, ...).
      yaw_degrees: ``[N]`` ground-truth yaw in degrees (sign ignored).

    Returns:
      ``{"yaw_0_30", "yaw_30_60", "yaw_60_90", "balanced", "all"}`` means and
      ``"count_0_30"``, ``"count_30_60"``, ``"count_60_90"`` face counts.
    """
    nme = np.asarray(nme, dtype=np.float64)
    yaw = np.abs(np.asarray(yaw_degrees, dtype=np.float64))
    if nme.ndim != 1 or yaw.shape != nme.shape:
        raise ValueError(
            f"nme_by_yaw: nme and yaw_degrees must both have shape [N], got {nme.shape} "
            f"and {yaw.shape}"
        )
    if np.any(np.isnan(yaw)):
        raise ValueError("nme_by_yaw: yaw_degrees contains NaN")
    bins = np.digitize(yaw, YAW_BIN_EDGES, right=True)  # 0: <= 30, 1: (30, 60], 2: > 60
    result: dict[str, float] = {}
    means = []
    for b, name in enumerate(YAW_BIN_NAMES):
        members = nme[bins == b]
        means.append(float(np.mean(members)) if members.size else float("nan"))
        result[name] = means[-1]
    result["balanced"] = float(np.mean(means))
    result["all"] = float(np.mean(nme)) if nme.size else float("nan")
    for b, name in enumerate(YAW_BIN_NAMES):
        result["count" + name[3:]] = int(np.sum(bins == b))
    return result
