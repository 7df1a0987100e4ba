"""jit over a 4-device mesh and pmap over 4 devices train like one device on the global batch."""

import jax
import numpy as np
import pytest

from facejax.train import (
    batch_axis_name,
    create_train_state,
    device_arrays,
    make_data_parallel,
    make_optimizer,
    make_train_step,
)

# float32 sums in another order (per-device partial sums, then the all-reduce): a few ulps of
# the parameters' size after several Adam steps.
ATOL_PARALLEL = 2e-5
# Without synchronised BatchNorm the per-device statistics differ from the global batch's.
MIN_DIFF_UNSYNCED = 1e-3
STEPS = 4
GLOBAL_BATCH = 16


def _batches(toy):
    source = toy.make_source(GLOBAL_BATCH * STEPS)
    return [
        {k: np.stack([e[k] for e in source[i : i + GLOBAL_BATCH]]) for k in ("x", "y")}
        for i in range(0, len(source), GLOBAL_BATCH)
    ]


def _train(toy, parallelism, devices, *, sync_batch_norm=True):
    """STEPS steps; parallelism None is plain jit on one device."""
    config = toy.make_config(parallelism=parallelism or "jit", **{"optimizer.ema_decay": 0.5})
    init_fn, loss_fn = toy.make_fns(config, sync_batch_norm=sync_batch_norm)
    optimizer = make_optimizer(config.optimizer, config.num_steps)
    state = create_train_state(init_fn(jax.random.PRNGKey(1)), optimizer, ema=True)
    rng = jax.random.PRNGKey(2)
    parallel = make_data_parallel(parallelism or "jit", devices)
    step = parallel.compile(
        make_train_step(loss_fn, optimizer, ema_decay=0.5, axis_name=parallel.axis_name)
    )
    initial = jax.tree.map(np.asarray, state.params)  # put_state may alias, the step donates
    device_state = parallel.put_state(state)
    losses = []
    for batch in parallel.prefetch(iter(_batches(toy))):
        device_state, metrics = step(device_state, device_arrays(batch), parallel.put_rng(rng))
        losses.append(parallel.to_host(metrics)["loss"])
    return parallel, device_state, losses, initial


def _max_diff(a, b):
    diffs = jax.tree.map(lambda x, y: float(np.max(np.abs(np.asarray(x) - np.asarray(y)))), a, b)
    return max(jax.tree.leaves(diffs))


@pytest.fixture(scope="module")
def one_device(toy, four_devices):
    """The reference: plain jit on one device, the whole global batch."""
    single, state, losses, initial = _train(toy, None, four_devices[:1])
    return single.get_state(state), losses, initial


@pytest.mark.multidevice
def test_jit_mesh_and_pmap_match_one_device(toy, four_devices, one_device):
    reference, ref_losses, initial = one_device
    for parallelism in ("jit", "pmap"):
        parallel, state, losses, _ = _train(toy, parallelism, four_devices)
        state = parallel.get_state(state)
        assert int(state.step) == STEPS
        np.testing.assert_allclose(losses, ref_losses, atol=ATOL_PARALLEL)
        for part in ("params", "batch_stats", "opt_state", "ema_params"):
            diff = _max_diff(getattr(reference, part), getattr(state, part))
            assert diff <= ATOL_PARALLEL, f"{parallelism}: {part} differs by {diff}"
        # The canonical state is replicated over the whole mesh.
        leaf = jax.tree.leaves(state.params)[0]
        assert leaf.sharding.is_fully_replicated and len(leaf.sharding.device_set) == 4
    # The step did train: the parameters moved away from their initial values.
    assert _max_diff(reference.params, initial) > MIN_DIFF_UNSYNCED


@pytest.mark.multidevice
def test_pmap_with_per_device_batch_norm_differs_but_replicas_agree(toy, four_devices, one_device):
    """The control: BatchNorm that does not sync normalises with per-device statistics."""
    reference = one_device[0]
    parallel, state, _, _ = _train(toy, "pmap", four_devices, sync_batch_norm=False)
    # The step's pmean keeps the replicas' running statistics identical anyway.
    for leaf in jax.tree.leaves(state.batch_stats):
        per_device = np.asarray(leaf)
        np.testing.assert_array_equal(per_device, np.broadcast_to(per_device[:1], per_device.shape))
    diff = _max_diff(reference.params, parallel.get_state(state).params)
    assert diff > MIN_DIFF_UNSYNCED


def test_unknown_parallelism_is_an_error():
    with pytest.raises(ValueError, match="parallelism must be 'jit' or 'pmap'"):
        make_data_parallel("shard_map")


@pytest.mark.multidevice
@pytest.mark.parametrize("parallelism", ["jit", "pmap"])
def test_placed_batches_keep_the_global_size_and_drop_text(toy, four_devices, parallelism):
    parallel = make_data_parallel(parallelism, four_devices)
    assert parallel.parallelism == parallelism
    assert parallel.axis_name == batch_axis_name(parallelism)
    (batch,) = _batches(toy)[:1]
    batch = {**batch, "image_path": np.array([b"a.jpg"] * GLOBAL_BATCH)}
    placed = parallel.shard_batch(batch)
    assert set(placed) == {"x", "y"}
    assert parallel.examples_per_step(placed) == GLOBAL_BATCH


def test_the_step_modules_old_axis_names_warn_and_still_work():
    from facejax.train import step

    with pytest.deprecated_call(match="moved to facejax.train.parallel"):
        assert step.batch_axis_name("pmap") == batch_axis_name("pmap") == "batch"
