"""Identity consistency against an explicit loop over image pairs (float64)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from facejax.evaluation import identity_consistency

ATOL_F64 = 1e-9
ALIGN_ATOL_MM = 1e-4  # alignment runs through JAX in float32
GPA_RTOL = 1e-2  # generalised Procrustes: the common mean moves with one moved shape


def _reference(shapes, labels, weights, yaw=None, edges=(0.0, 15.0, 45.0, 180.0)):
    """Every pair visited once: RMS of the weighted per-vertex distances."""
    w = weights / weights.sum()
    within, between, by_bin = [], [], {k: [] for k in range(len(edges) - 1)}
    for i in range(len(shapes)):
        for j in range(i + 1, len(shapes)):
            d2 = float(np.sum(w * np.sum((shapes[i] - shapes[j]) ** 2, axis=-1)))
            if labels[i] == labels[j]:
                within.append(d2)
                if yaw is not None:
                    diff = abs(yaw[i] - yaw[j])
                    for k in range(len(edges) - 1):
                        last = k == len(edges) - 2
                        if edges[k] <= diff and (
                            diff <= edges[k + 1] if last else diff < edges[k + 1]
                        ):
                            by_bin[k].append(d2)
            else:
                between.append(d2)
    return (
        np.sqrt(np.mean(within)),
        np.sqrt(np.mean(between)),
        {k: (np.sqrt(np.mean(v)) if v else np.nan) for k, v in by_bin.items()},
    )


def _people(seed=0, num_people=4, per_person=3, num_vertices=30, noise=0.3):
    rng = np.random.default_rng(seed)
    base = rng.normal(scale=20.0, size=(num_vertices, 3))
    identities = base + rng.normal(scale=2.0, size=(num_people, num_vertices, 3))
    labels = np.repeat(np.arange(num_people), per_person)
    shapes = identities[labels] + rng.normal(scale=noise, size=(len(labels), num_vertices, 3))
    yaw = rng.uniform(-90, 90, size=len(labels))
    return shapes, labels, yaw


@pytest.mark.parametrize("masked", [False, True])
def test_matches_the_pairwise_reference_without_alignment(masked):
    shapes, labels, yaw = _people()
    weights = np.ones(shapes.shape[1])
    if masked:
        weights[::3] = 0.0
    result = identity_consistency(
        shapes, labels, weights=weights if masked else None, yaw_degrees=yaw, align=None
    )
    within, between, by_bin = _reference(shapes, labels, weights, yaw)
    np.testing.assert_allclose(result["within_mm"], within, atol=ATOL_F64)
    np.testing.assert_allclose(result["between_mm"], between, atol=ATOL_F64)
    np.testing.assert_allclose(result["ratio"], within / between, atol=ATOL_F64)
    assert result["num_within_pairs"] == 4 * 3
    assert result["num_between_pairs"] == 12 * 11 // 2 - 12
    for k, name in enumerate(["yaw_0_15", "yaw_15_45", "yaw_45_180"]):
        np.testing.assert_allclose(result[f"within_mm_{name}"], by_bin[k], atol=ATOL_F64)
    assert (
        sum(result[f"num_within_pairs_{n}"] for n in ["yaw_0_15", "yaw_15_45", "yaw_45_180"]) == 12
    )


def test_a_hand_made_case():
    # Two people of one vertex each at x = 0 and x = 10, two images each, one of which is 1 mm
    # off: within pairs are 0 and 1 mm apart, between pairs 10, 10, 11 and 9 mm.
    shapes = np.zeros((4, 1, 3))
    shapes[1, 0, 0] = 1.0
    shapes[2:, 0, 0] = 10.0
    result = identity_consistency(shapes, [0, 0, 1, 1], yaw_degrees=[0, 50, 0, 10], align=None)
    np.testing.assert_allclose(result["within_mm"], np.sqrt((0 + 1) / 2), atol=ATOL_F64)
    np.testing.assert_allclose(
        result["between_mm"], np.sqrt((100 + 100 + 81 + 81) / 4), atol=ATOL_F64
    )
    np.testing.assert_allclose(result["within_mm_yaw_45_180"], 1.0, atol=ATOL_F64)
    np.testing.assert_allclose(result["within_mm_yaw_0_15"], 0.0, atol=ATOL_F64)
    assert np.isnan(result["within_mm_yaw_15_45"]) and result["num_within_pairs_yaw_15_45"] == 0


def test_placement_and_scale_do_not_count():
    shapes, labels, _ = _people(seed=1)
    moved = shapes.copy()
    rotation = Rotation.from_euler("xyz", [10, -20, 5], degrees=True).as_matrix()
    moved[0] = 1.1 * shapes[0] @ rotation.T + np.array([5.0, -3.0, 2.0])
    reference = shapes.mean(axis=0)
    expected = identity_consistency(shapes, labels, reference=reference)
    result = identity_consistency(moved, labels, reference=reference)
    for key in ("within_mm", "between_mm", "ratio"):
        np.testing.assert_allclose(result[key], expected[key], atol=ALIGN_ATOL_MM)
    # Onto their own mean (generalised Procrustes), the ratio nearly so: the mean moves and
    # changes size a little with one moved shape.
    result = identity_consistency(moved, labels)
    np.testing.assert_allclose(result["ratio"], expected["ratio"], rtol=GPA_RTOL)
    # Without alignment the moved shape is far from its own person.
    assert identity_consistency(moved, labels, align=None)["within_mm"] > 2 * expected["within_mm"]


def test_a_constant_prediction_has_no_ratio():
    shapes = np.broadcast_to(np.arange(12.0).reshape(4, 3), (6, 4, 3))
    result = identity_consistency(shapes, [0, 0, 1, 1, 2, 2])
    assert result["within_mm"] == pytest.approx(0.0, abs=ALIGN_ATOL_MM)
    assert np.isnan(result["ratio"])


def test_a_shape_that_ignores_identity_has_ratio_one():
    rng = np.random.default_rng(2)
    shapes = rng.normal(size=(400, 5, 3))
    labels = rng.integers(0, 40, size=400)
    result = identity_consistency(shapes, labels, align=None)
    assert result["ratio"] == pytest.approx(1.0, abs=0.05)


def test_bad_input_is_named():
    shapes, labels, yaw = _people()
    with pytest.raises(ValueError, match=r"shapes must be \[N, V, 3\]"):
        identity_consistency(shapes[..., :2], labels)
    with pytest.raises(ValueError, match="labels must be"):
        identity_consistency(shapes, labels[:-1])
    bad = shapes.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        identity_consistency(bad, labels)
    with pytest.raises(ValueError, match="weights"):
        identity_consistency(shapes, labels, weights=np.zeros(shapes.shape[1]))
    with pytest.raises(ValueError, match="yaw_degrees"):
        identity_consistency(shapes, labels, yaw_degrees=yaw[:3])
    with pytest.raises(ValueError, match="reference"):
        identity_consistency(shapes, labels, reference=shapes[0, :-1])
    with pytest.raises(ValueError, match="yaw_difference_bins"):
        identity_consistency(shapes, labels, yaw_degrees=yaw, yaw_difference_bins=(0, 50, 20))
