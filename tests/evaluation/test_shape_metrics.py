"""Vertex RMSE after alignment: exact zero for transformed copies, hand cases, numpy reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from scipy.spatial.transform import Rotation

from facejax import evaluation

vertex_rmse = jax.jit(evaluation.vertex_rmse, static_argnames="align")
aligned_vertex_errors = jax.jit(evaluation.aligned_vertex_errors, static_argnames="align")

ATOL_F64 = 1e-9  # mm, on faces ~100 mm across
ATOL_F32 = 2e-3  # mm: float32 SVD of ~100 mm point sets
GRAD_TOL = 1e-5


def assert_close(actual, desired, atol=0.0, rtol=0.0):
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def _faces(n=3, v=40, seed=0):
    # Anisotropic clouds (distinct singular values), face-sized in mm.
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, v, 3)) * np.array([70.0, 90.0, 40.0])


def _similarities(n, seed, scale=True):
    rng = np.random.default_rng(seed)
    s = rng.uniform(0.6, 1.8, n) if scale else np.ones(n)
    r = Rotation.from_rotvec(rng.normal(size=(n, 3))).as_matrix()
    t = rng.normal(size=(n, 3)) * 50.0
    return s, r, t


def _apply(points, s, r, t):
    return s[:, None, None] * np.einsum("nij,nvj->nvi", r, points) + t[:, None, :]


def _rmse_reference(pred, target, weights=None, scale=True):
    """Float64 numpy: Umeyama (1991) per face, then the weighted RMS distance, by loops."""
    out = []
    for p, t in zip(pred, target, strict=True):
        w = np.ones(len(p)) if weights is None else np.asarray(weights, float)
        w = w / w.sum()
        mu_p, mu_t = w @ p, w @ t
        cov = (w[:, None] * (t - mu_t)).T @ (p - mu_p)
        u, d, vt = np.linalg.svd(cov)
        sign = np.array([1.0, 1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt))])
        r = u @ np.diag(sign) @ vt
        s = (d * sign).sum() / (w * ((p - mu_p) ** 2).sum(-1)).sum() if scale else 1.0
        aligned = s * (p - mu_p) @ r.T + mu_t
        out.append(np.sqrt(np.sum(w * np.sum((aligned - t) ** 2, axis=-1))))
    return np.array(out)


def test_similarity_copy_has_zero_error(x64):
    target = _faces()
    pred = _apply(target, *_similarities(3, seed=1))
    assert_close(vertex_rmse(pred, target), np.zeros(3), atol=ATOL_F64)
    # A rigid fit cannot undo the scale, so the same copy has a clear error...
    assert np.all(vertex_rmse(pred, target, align="rigid") > 1.0)
    # ...and a rigid copy has none.
    rigid_pred = _apply(target, *_similarities(3, seed=2, scale=False))
    assert_close(vertex_rmse(rigid_pred, target, align="rigid"), np.zeros(3), atol=ATOL_F64)


def test_hand_computed_without_alignment(x64):
    target = np.zeros((1, 4, 3))
    pred = target.copy()
    pred[0, 0] = (3.0, 4.0, 0.0)  # one vertex 5 mm off: RMSE = sqrt(25 / 4)
    assert_close(vertex_rmse(pred, target, align=None), [2.5], atol=ATOL_F64)
    assert_close(aligned_vertex_errors(pred, target, align=None), [[5.0, 0, 0, 0]], atol=ATOL_F64)
    # Weighted: weight 3 on the displaced vertex, 1 on the others: sqrt(3 * 25 / 6).
    w = np.array([3.0, 1.0, 1.0, 1.0])
    assert_close(vertex_rmse(pred, target, align=None, weights=w), [np.sqrt(12.5)], atol=ATOL_F64)


@pytest.mark.parametrize("align", ["similarity", "rigid"])
def test_matches_numpy_reference_on_noisy_faces(x64, align):
    target = _faces(seed=3)
    rng = np.random.default_rng(4)
    pred = _apply(target, *_similarities(3, seed=5, scale=align == "similarity"))
    pred = pred + rng.normal(size=pred.shape) * 2.0
    weights = rng.uniform(0.2, 1.0, target.shape[1])
    scale = align == "similarity"
    assert_close(
        vertex_rmse(pred, target, align=align),
        _rmse_reference(pred, target, None, scale),
        atol=ATOL_F64,
    )
    assert_close(
        vertex_rmse(pred, target, align=align, weights=weights),
        _rmse_reference(pred, target, weights, scale),
        atol=ATOL_F64,
    )
    # The RMSE is the root mean square of the per-vertex errors.
    errors = aligned_vertex_errors(pred, target, align=align)
    assert_close(
        vertex_rmse(pred, target, align=align), np.sqrt(np.mean(errors**2, -1)), atol=ATOL_F64
    )


def test_mask_restricts_fit_and_mean(x64):
    target = _faces(seed=6)
    pred = _apply(target, *_similarities(3, seed=7))
    mask = np.ones(target.shape[1], bool)
    mask[:5] = False
    pred[:, :5] += 300.0  # the unmasked region (e.g. the neck) is wrong, the face is exact
    assert_close(vertex_rmse(pred, target, weights=mask), np.zeros(3), atol=ATOL_F64)
    errors = aligned_vertex_errors(pred, target, weights=mask)
    assert_close(errors[:, 5:], np.zeros((3, target.shape[1] - 5)), atol=ATOL_F64)
    assert np.all(errors[:, :5] > 100.0)
    assert np.all(vertex_rmse(pred, target) > 10.0)  # unmasked, the outliers count


def test_float32_jit_equals_loop():
    target = _faces(seed=8).astype(np.float32)
    pred = (_apply(target, *_similarities(3, seed=9)) + 1.5).astype(np.float32)
    pred = pred + np.random.default_rng(10).normal(size=pred.shape).astype(np.float32)
    batched = vertex_rmse(pred, target)
    assert batched.dtype == jnp.float32
    looped = [vertex_rmse(pred[i : i + 1], target[i : i + 1])[0] for i in range(3)]
    assert_close(batched, looped, atol=ATOL_F32)
    assert_close(batched, _rmse_reference(pred.astype(float), target.astype(float)), atol=ATOL_F32)


def test_gradient(x64):
    target = _faces(n=2, v=8, seed=11)
    pred = _apply(target, *_similarities(2, seed=12)) + np.random.default_rng(13).normal(
        size=(2, 8, 3)
    )
    check_grads(
        jax.jit(lambda p: jnp.sum(evaluation.vertex_rmse(p, target))),
        (pred,),
        order=1,
        modes=("rev",),
        atol=GRAD_TOL,
        rtol=GRAD_TOL,
    )


def test_bad_input_names_the_problem():
    faces = _faces(n=1, v=5)
    with pytest.raises(ValueError, match="target must have the shape"):
        evaluation.vertex_rmse(faces, faces[:, :4])
    with pytest.raises(ValueError, match=r"pred must have shape \[N, V, 3\]"):
        evaluation.vertex_rmse(faces[0], faces[0])
    with pytest.raises(ValueError, match="align must be one of"):
        evaluation.vertex_rmse(faces, faces, align="affine")
    with pytest.raises(ValueError, match=r"weights must have shape \[V\]"):
        evaluation.vertex_rmse(faces, faces, weights=np.ones(4))
    with pytest.raises(ValueError, match="non-negative and not all zero"):
        evaluation.vertex_rmse(faces, faces, weights=np.zeros(5, bool))
