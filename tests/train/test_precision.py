"""bfloat16 compute keeps float32 parameters, optimizer state and loss, and still trains."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from facejax.train import (
    cast_images,
    compute_dtype,
    create_train_state,
    floats_at_least_float32,
    make_optimizer,
    make_train_step,
)

STEPS = 12
# bfloat16 has an 8-bit mantissa: its loss agrees with float32's to about 1e-2 here.
RTOL_BF16_LOSS = 5e-2


def _train(toy, precision):
    config = toy.make_config(precision=precision, **{"optimizer.ema_decay": 0.9})
    init_fn, loss_fn = toy.make_fns(config)
    optimizer = make_optimizer(config.optimizer, STEPS)
    state = create_train_state(init_fn(jax.random.PRNGKey(0)), optimizer, ema=True)
    source = toy.make_source(32)
    batch = {k: jnp.asarray(np.stack([e[k] for e in source])) for k in ("x", "y")}
    step = jax.jit(make_train_step(loss_fn, optimizer, ema_decay=0.9))
    rng = jax.random.PRNGKey(1)
    losses = []
    for _ in range(STEPS):
        state, metrics = step(state, batch, rng)
        losses.append(metrics["loss"])
    return state, metrics, losses, (loss_fn, state, batch, rng)


def test_bfloat16_keeps_float32_state_and_trains(toy):
    state, metrics, losses, (loss_fn, _, batch, rng) = _train(toy, "bfloat16")
    for part in ("params", "batch_stats", "opt_state", "ema_params"):
        for leaf in jax.tree.leaves(getattr(state, part)):
            if jnp.issubdtype(leaf.dtype, jnp.floating):
                assert leaf.dtype == jnp.float32, part
    assert all(v.dtype == jnp.float32 for v in metrics.values())
    assert losses[-1] < 0.7 * losses[0]
    # The model really computes in bfloat16: its matmuls take bfloat16 operands.
    jaxpr = jax.make_jaxpr(lambda p: loss_fn(p, state.batch_stats, batch, rng)[0])(state.params)
    dots = [e for e in jaxpr.jaxpr.eqns if e.primitive.name == "dot_general"]
    assert dots and all(v.aval.dtype == jnp.bfloat16 for e in dots for v in e.invars)
    # ... and lands near the float32 run.
    _, _, losses_f32, _ = _train(toy, "float32")
    np.testing.assert_allclose(losses[-1], losses_f32[-1], rtol=RTOL_BF16_LOSS)


def test_precision_helpers():
    assert compute_dtype("bfloat16") == jnp.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        compute_dtype("float16")
    images = jnp.array([[0, 255]], jnp.uint8)
    np.testing.assert_array_equal(cast_images(images, "float32"), [[0.0, 1.0]])
    assert cast_images(images, "bfloat16").dtype == jnp.bfloat16
    tree = floats_at_least_float32({"a": jnp.ones(2, jnp.bfloat16), "n": jnp.ones(2, jnp.int32)})
    assert tree["a"].dtype == jnp.float32 and tree["n"].dtype == jnp.int32


def test_float64_loss_stays_float64(x64):
    assert floats_at_least_float32(jnp.ones((), jnp.float64)).dtype == jnp.float64


def test_old_pytree_cast_name_warns_and_still_works():
    import facejax.train

    with pytest.warns(DeprecationWarning, match="floats_at_least_float32"):
        cast = facejax.train.at_least_float32
    assert cast({"a": jnp.ones(2, jnp.bfloat16)})["a"].dtype == jnp.float32
