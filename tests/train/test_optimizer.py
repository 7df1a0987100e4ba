"""Schedules, clipping, weight decay and the EMA against their formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax.train import default_config, make_optimizer, make_schedule, update_ema

ATOL_F32 = 1e-6
PEAK = 0.2
WARMUP = 3
NUM_STEPS = 10
END_FACTOR = 0.1


def _config(**fields):
    config = default_config().optimizer
    config.learning_rate = PEAK
    config.warmup_steps = WARMUP
    config.end_learning_rate_factor = END_FACTOR
    for name, value in fields.items():
        config[name] = value
    return config


def _reference(schedule: str, t: int) -> float:
    if t < WARMUP:
        return PEAK * t / WARMUP
    u = min((t - WARMUP) / (NUM_STEPS - WARMUP), 1.0)
    end = PEAK * END_FACTOR
    if schedule == "cosine":
        return end + (PEAK - end) * (1 + np.cos(np.pi * u)) / 2
    if schedule == "linear":
        return PEAK + (end - PEAK) * u
    return PEAK


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant"])
def test_schedule_warms_up_then_decays(schedule):
    fn = jax.jit(jax.vmap(make_schedule(_config(schedule=schedule), NUM_STEPS)))
    steps = np.arange(NUM_STEPS + 3)
    expected = [_reference(schedule, int(t)) for t in steps]
    np.testing.assert_allclose(fn(jnp.asarray(steps)), expected, atol=ATOL_F32)


def test_sgd_clips_by_global_norm():
    config = _config(name="sgd", momentum=0.0, weight_decay=0.0, grad_clip_norm=1.0, warmup_steps=0)
    optimizer = make_optimizer(config, NUM_STEPS)
    params = {"w": jnp.ones((2, 2)), "b": jnp.ones(3)}
    grads = {"w": jnp.full((2, 2), 30.0), "b": jnp.full(3, 40.0)}
    norm = np.sqrt(4 * 30.0**2 + 3 * 40.0**2)
    updates, _ = jax.jit(optimizer.update)(grads, optimizer.init(params), params)
    np.testing.assert_allclose(updates["w"], -PEAK * 30.0 / norm, atol=ATOL_F32)
    np.testing.assert_allclose(updates["b"], -PEAK * 40.0 / norm, atol=ATOL_F32)


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_weight_decay_only_on_kernels(name):
    config = _config(name=name, momentum=0.0, weight_decay=0.5, warmup_steps=0)
    optimizer = make_optimizer(config, NUM_STEPS)
    params = {"kernel": jnp.full((2, 3), 2.0), "bias": jnp.full(3, 2.0)}
    zeros = jax.tree.map(jnp.zeros_like, params)
    updates, _ = jax.jit(optimizer.update)(zeros, optimizer.init(params), params)
    np.testing.assert_allclose(updates["bias"], 0.0, atol=ATOL_F32)
    np.testing.assert_allclose(updates["kernel"], -PEAK * 0.5 * 2.0, atol=ATOL_F32)


def test_ema_formula():
    ema = {"a": jnp.array([1.0, 2.0])}
    params = {"a": jnp.array([3.0, -2.0])}
    out = update_ema(ema, params, 0.9)
    np.testing.assert_allclose(out["a"], 0.9 * np.array([1.0, 2.0]) + 0.1 * np.array([3.0, -2.0]))
    assert out["a"].dtype == params["a"].dtype


def test_bad_optimizer_settings_are_errors():
    with pytest.raises(ValueError, match="optimizer name must be one of"):
        make_optimizer(_config(name="lamb"), NUM_STEPS)
    with pytest.raises(ValueError, match="schedule must be one of"):
        make_schedule(_config(schedule="step"), NUM_STEPS)
    with pytest.raises(ValueError, match="warmup_steps <= num_steps"):
        make_schedule(_config(warmup_steps=20), NUM_STEPS)
    with pytest.raises(ValueError, match="grad_clip_norm and weight_decay must be >= 0"):
        make_optimizer(_config(grad_clip_norm=-1.0), NUM_STEPS)
