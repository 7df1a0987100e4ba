"""Landmark NME: normalisers by hand, visibility, numpy loop reference, yaw bins of 3DDFA."""

import jax
import numpy as np
import pytest

from facejax import evaluation

landmark_nme = jax.jit(evaluation.landmark_nme, static_argnames="normalizer")

ATOL_F64 = 1e-12
ATOL_F32 = 1e-6  # NME is a fraction ~0.01-0.1


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _face(seed=0, n=2):
    """Random 68-point sets in a 40 x 90 pixel box at (100, 50), corners pinned."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.0, 1.0, size=(n, 68, 2)) * np.array([40.0, 90.0]) + [100.0, 50.0]
    points[:, 0] = (100.0, 50.0)
    points[:, 1] = (140.0, 140.0)
    return points


def _nme_reference(pred, target, normalizer, visibility=None):
    """Float64 loops over faces and landmarks."""
    out = []
    for i in range(len(pred)):
        vis = np.ones(68, bool) if visibility is None else visibility[i]
        dist = [np.hypot(*(pred[i, j] - target[i, j])) for j in range(68) if vis[j]]
        t = target[i]
        if normalizer == "box":
            xs = [t[j, 0] for j in range(68) if vis[j]]
            ys = [t[j, 1] for j in range(68) if vis[j]]
            d = np.sqrt((max(xs) - min(xs)) * (max(ys) - min(ys)))
        elif normalizer == "interocular":
            d = np.hypot(*(t[36] - t[45]))
        else:
            d = np.hypot(*(t[36:42].mean(0) - t[42:48].mean(0)))
        out.append(np.mean(dist) / d)
    return np.array(out)


def test_box_normaliser_by_hand(x64):
    target = _face()
    # sqrt(w * h) = sqrt(40 * 90) = 60; every point 5 px off (3-4-5) -> NME = 5 / 60.
    assert_close(evaluation.landmark_normalizer(target), [60.0, 60.0], atol=ATOL_F64)
    assert_close(landmark_nme(target + [3.0, 4.0], target), [5 / 60, 5 / 60], atol=ATOL_F64)


def test_eye_normalisers_by_hand(x64):
    target = _face(n=1)
    target[0, 36], target[0, 45] = (110.0, 80.0), (134.0, 87.0)  # 25 px apart (24-7-25)
    assert_close(
        evaluation.landmark_normalizer(target, normalizer="interocular"), [25.0], atol=ATOL_F64
    )
    target[0, 36:42] = [(108.0, 80.0), (112.0, 80.0)] * 3  # centre (110, 80)
    target[0, 42:48] = [(120.0, 70.0), (140.0, 70.0)] * 3  # centre (130, 70)
    assert_close(
        evaluation.landmark_normalizer(target, normalizer="interpupil"),
        [np.hypot(20.0, 10.0)],
        atol=ATOL_F64,
    )


@pytest.mark.parametrize("normalizer", ["box", "interocular", "interpupil"])
def test_matches_loop_reference(x64, normalizer):
    target = _face(seed=1)
    pred = target + np.random.default_rng(2).normal(size=target.shape) * 3.0
    assert_close(
        landmark_nme(pred, target, normalizer=normalizer),
        _nme_reference(pred, target, normalizer),
        atol=ATOL_F64,
    )


def test_visibility_masks_error_and_box(x64):
    target = _face(seed=3)
    pred = target + np.random.default_rng(4).normal(size=target.shape)
    visibility = np.ones((2, 68), bool)
    visibility[:, 50:] = False
    # Invisible ground truth as a placeholder at the origin, and a wild prediction there:
    # neither may count.
    target[:, 50:] = 0.0
    pred[:, 50:] = 1e4
    got = landmark_nme(pred, target, visibility=visibility)
    assert_close(got, _nme_reference(pred, target, "box", visibility), atol=ATOL_F64)
    assert np.all(got < 0.1)


def test_3d_landmarks_use_depth_in_error_not_in_normaliser(x64):
    target = np.concatenate([_face(seed=5), np.zeros((2, 68, 1))], axis=-1)
    pred = target + np.array([0.0, 0.0, 12.0])  # only the depth is off
    assert_close(landmark_nme(pred, target), [12 / 60, 12 / 60], atol=ATOL_F64)


def test_float32_jit_vmap_equal_loop():
    target = _face(seed=6, n=4).astype(np.float32)
    pred = target + np.random.default_rng(7).normal(size=target.shape).astype(np.float32)
    batched = landmark_nme(pred, target)
    looped = [landmark_nme(pred[i : i + 1], target[i : i + 1])[0] for i in range(4)]
    assert_close(batched, looped, atol=ATOL_F32)
    vmapped = jax.jit(jax.vmap(lambda p, t: evaluation.landmark_nme(p[None], t[None])[0]))(
        pred, target
    )
    assert_close(vmapped, looped, atol=ATOL_F32)
    assert_close(
        batched, _nme_reference(pred.astype(float), target.astype(float), "box"), atol=ATOL_F32
    )


def test_nme_by_yaw_uses_3ddfa_bins():
    # |yaw| <= 30 | 30 < |yaw| <= 60 | > 60 (beyond 90 counts in the last bin)
    yaw = np.array([10.0, -30.0, 30.5, 60.0, -60.1, 75.0, 95.0])
    nme = np.array([1.0, 3.0, 5.0, 7.0, 9.0, 11.0, 13.0])
    got = evaluation.nme_by_yaw(nme, yaw)
    assert got["yaw_0_30"] == 2.0 and got["count_0_30"] == 2
    assert got["yaw_30_60"] == 6.0 and got["count_30_60"] == 2
    assert got["yaw_60_90"] == 11.0 and got["count_60_90"] == 3
    assert_close(got["balanced"], (2.0 + 6.0 + 11.0) / 3, atol=ATOL_F64)
    assert_close(got["all"], nme.mean(), atol=ATOL_F64)
    empty = evaluation.nme_by_yaw(nme[:2], yaw[:2])
    assert np.isnan(empty["yaw_60_90"]) and np.isnan(empty["balanced"])


def test_bad_input_names_the_problem():
    target = _face()
    with pytest.raises(ValueError, match="normalizer must be one of"):
        evaluation.landmark_nme(target, target, normalizer="diagonal")
    with pytest.raises(ValueError, match="needs the 68 iBUG landmarks"):
        evaluation.landmark_nme(target[:, :5], target[:, :5], normalizer="interocular")
    with pytest.raises(ValueError, match="target must have the shape"):
        evaluation.landmark_nme(target, target[:1])
    with pytest.raises(ValueError, match=r"visibility must have shape \[N, L\]"):
        evaluation.landmark_nme(target, target, visibility=np.ones(68, bool))
    with pytest.raises(ValueError, match=r"both have shape \[N\]"):
        evaluation.nme_by_yaw(np.ones(3), np.ones(4))
