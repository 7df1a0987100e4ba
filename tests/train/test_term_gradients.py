"""Each loss term's weighted gradient, its norm and cosines, against float64 numpy by hand."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from facejax.train import term_report, weighted_term_gradients

RTOL = 1e-5  # float32 gradients of a 12 x 5 least-squares problem against float64

WEIGHTS = {"fit": 2.0, "prior": 0.5, "unused": 0.0}


def _problem():
    rs = np.random.RandomState(0)
    x, y = rs.randn(12, 5), rs.randn(12)
    params = {"w": rs.randn(4), "b": rs.randn(1)}  # w[:4] and b together make the 5 weights
    return x, y, params


def _loss_fn():
    def loss_fn(params, batch_stats, batch, rng, train=True):
        del rng, train
        theta = jnp.concatenate([params["w"], params["b"]])
        terms = {
            "fit": jnp.mean(jnp.square(batch["x"] @ theta - batch["y"])),
            "prior": jnp.sum(jnp.square(params["w"])),
            "unused": jnp.sum(params["b"]),
        }
        total = sum(WEIGHTS[k] * v for k, v in terms.items())
        metrics = {f"loss_{k}": v for k, v in terms.items()}
        metrics["accuracy"] = jnp.float32(0.5)  # not a term: left out
        return total, (metrics, batch_stats)

    return loss_fn


def test_term_gradients_match_numpy_and_add_up():
    x, y, params = _problem()
    batch = {"x": jnp.asarray(x, jnp.float32), "y": jnp.asarray(y, jnp.float32)}
    params32 = {k: jnp.asarray(v, jnp.float32) for k, v in params.items()}
    means, grads = weighted_term_gradients(_loss_fn(), params32, {}, batch, WEIGHTS.__getitem__)
    assert set(means) == {"loss_fit", "loss_prior", "loss_unused"}

    theta = np.concatenate([params["w"], params["b"]])
    residual = x @ theta - y
    want = {
        "loss_fit": WEIGHTS["fit"] * 2.0 * x.T @ residual / len(y),
        "loss_prior": WEIGHTS["prior"] * np.concatenate([2.0 * params["w"], [0.0]]),
        "loss_unused": np.zeros(5),
    }
    for name, grad in grads.items():
        got = np.concatenate([np.asarray(grad["w"]), np.asarray(grad["b"])])
        np.testing.assert_allclose(got, want[name], rtol=RTOL, atol=1e-6)
    np.testing.assert_allclose(float(means["loss_fit"]), np.mean(residual**2), rtol=RTOL)

    report = term_report(means, grads, WEIGHTS.__getitem__, reference="fit")
    total = sum(want.values())
    norms = {k.removeprefix("loss_"): np.linalg.norm(v) for k, v in want.items()}
    for term in ("fit", "prior"):
        g = want[f"loss_{term}"]
        row = report[term]
        assert row["weight"] == WEIGHTS[term]
        np.testing.assert_allclose(row["weighted_gradient_norm"], norms[term], rtol=RTOL)
        np.testing.assert_allclose(
            row["share_of_norms"], norms[term] / sum(norms.values()), rtol=RTOL
        )
        np.testing.assert_allclose(
            row["cosine_with_total"],
            g @ total / (np.linalg.norm(g) * np.linalg.norm(total)),
            rtol=RTOL,
        )
        np.testing.assert_allclose(
            row["cosine_with_fit"],
            g @ want["loss_fit"] / (np.linalg.norm(g) * norms["fit"]),
            rtol=RTOL,
        )
    assert report["fit"]["cosine_with_fit"] == pytest.approx(1.0, abs=1e-6)
    # A weight-0 term: no gradient, no direction.
    assert report["unused"]["weighted_gradient_norm"] == 0.0
    assert np.isnan(report["unused"]["cosine_with_total"])
    np.testing.assert_allclose(
        report["total"]["weighted_gradient_norm"], np.linalg.norm(total), rtol=RTOL
    )
