"""AFLW2000-3D NME against a float64 loop of 3DDFA's formulas, and the CED."""

import numpy as np
import pytest

from facejax.evaluation.aflw2000_protocol import aflw2000_nme, cumulative_error_distribution

RTOL_F32 = 1e-6  # the per-image NME goes through landmark_nme (JAX, float32 by default)


def _nme_loop(pred, true):
    """3DDFA's benchmark_aflw2000.py, image by image, in float64."""
    out = []
    for p, t in zip(pred, true, strict=True):
        w = t[:, 0].max() - t[:, 0].min()
        h = t[:, 1].max() - t[:, 1].min()
        out.append(np.mean(np.sqrt(np.sum((p - t) ** 2, axis=1))) / np.sqrt(w * h))
    return np.array(out)


def test_a_known_offset_gives_the_known_nme_and_bins():
    true = np.zeros((4, 68, 2))
    true[:, :, 0] = np.linspace(100, 180, 68)  # box 80 wide
    true[:, :, 1] = np.linspace(50, 70, 68)[::-1]  # and 20 high: sqrt(w h) = 40
    pred = true + np.array([3.0, 4.0])  # every landmark 5 px off
    pred[3] += np.array([3.0, 4.0])  # image 3: 10 px off
    yaw = np.array([30.0, -30.0001, 61.0, -95.0])  # bins 0, 1, 2, 2 (30 is in the first)
    result = aflw2000_nme(pred, true, yaw)
    np.testing.assert_allclose(result["nme"], [5 / 40, 5 / 40, 5 / 40, 10 / 40], rtol=RTOL_F32)
    assert (result["count_0_30"], result["count_30_60"], result["count_60_90"]) == (1, 1, 2)
    assert result["yaw_60_90"] == pytest.approx(7.5 / 40, rel=RTOL_F32)
    # The mean of the bin means, not of the images.
    assert result["mean"] == pytest.approx((5 + 5 + 7.5) / 3 / 40, rel=RTOL_F32)
    assert result["all"] == pytest.approx(6.25 / 40, rel=RTOL_F32)
    assert result["std"] == pytest.approx(np.std([5, 5, 7.5]) / 40, rel=RTOL_F32)


def test_matches_the_float64_loop_on_random_faces():
    rng = np.random.default_rng(0)
    true = rng.uniform(0, 200, (50, 68, 2))
    pred = true + rng.normal(scale=4.0, size=true.shape)
    yaw = rng.uniform(-90, 90, 50)
    result = aflw2000_nme(pred, true, yaw)
    want = _nme_loop(pred, true)
    np.testing.assert_allclose(result["nme"], want, rtol=RTOL_F32)
    bins = [want[np.abs(yaw) <= 30], want[(np.abs(yaw) > 30) & (np.abs(yaw) <= 60)]]
    bins.append(want[np.abs(yaw) > 60])
    assert result["mean"] == pytest.approx(np.mean([b.mean() for b in bins]), rel=RTOL_F32)
    with pytest.raises(ValueError, match="68"):
        aflw2000_nme(pred[:, :21], true[:, :21], yaw)


def test_cumulative_error_distribution_counts_at_or_below():
    ced = cumulative_error_distribution([0.1, 0.2, 0.2, 0.5], [0.0, 0.1, 0.2, 0.3, 1.0])
    np.testing.assert_array_equal(ced, [0.0, 0.25, 0.75, 0.75, 1.0])
    with pytest.raises(ValueError, match="NaN"):
        cumulative_error_distribution([0.1, np.nan], [0.2])
