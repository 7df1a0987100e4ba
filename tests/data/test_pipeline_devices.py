"""Host batches on devices: global arrays over a mesh's data axis, pmap layout, prefetch resume."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh

from facejax.data.pipeline import (
    make_loader,
    prefetch_to_device,
    shard_batch_for_devices,
    shard_batch_for_pmap,
)

pytestmark = pytest.mark.multidevice


def _batch(rows=8):
    return {
        "image": np.arange(rows * 2 * 2 * 3, dtype=np.uint8).reshape(rows, 2, 2, 3),
        "identity": np.arange(rows, dtype=np.int64) + 100,
        "landmarks": np.random.default_rng(0).normal(size=(rows, 68, 2)).astype(np.float32),
        "image_path": np.array([f"{i}.jpg".encode() for i in range(rows)]),
    }


def test_global_array_shards_hold_their_rows(four_devices):
    batch = _batch()
    placed = shard_batch_for_devices(batch, four_devices)
    image = placed["image"]
    assert image.shape == (8, 2, 2, 3) and image.dtype == jnp.uint8
    assert placed["identity"].dtype == jnp.int32  # JAX's default width without x64
    for shard in image.addressable_shards:
        k = four_devices.index(shard.device)
        np.testing.assert_array_equal(np.asarray(shard.data), batch["image"][2 * k : 2 * k + 2])
    np.testing.assert_array_equal(np.asarray(placed["landmarks"]), batch["landmarks"])
    assert isinstance(placed["image_path"], np.ndarray)  # text stays on the host
    total = jax.jit(lambda x: jnp.sum(x.astype(jnp.int32)))(image)
    assert int(total) == int(batch["image"].astype(np.int64).sum())


def test_a_two_axis_mesh_splits_rows_over_data_and_replicates_over_model(four_devices):
    mesh = Mesh(np.array(four_devices).reshape(2, 2), ("data", "model"))
    batch = _batch()
    identity = shard_batch_for_devices(batch, mesh)["identity"]
    for shard in identity.addressable_shards:
        row = int(np.argwhere(mesh.devices == shard.device)[0][0])
        np.testing.assert_array_equal(
            np.asarray(shard.data), batch["identity"][4 * row : 4 * row + 4]
        )
    with pytest.raises(ValueError, match="data axis"):
        shard_batch_for_devices(batch, mesh, data_axis="batch")
    with pytest.raises(ValueError, match="'identity' has 6 rows.*4 data shards"):
        shard_batch_for_devices({"identity": np.arange(6)}, four_devices)


def test_pmap_layout_puts_slice_k_on_device_k(four_devices):
    batch = _batch()
    placed = shard_batch_for_pmap(batch, four_devices)
    assert placed["landmarks"].shape == (4, 2, 68, 2)
    assert placed["image_path"].shape == (4, 2)
    sums = jax.pmap(lambda x: jnp.sum(x), devices=four_devices)(placed["landmarks"])
    np.testing.assert_allclose(
        np.asarray(sums), batch["landmarks"].reshape(4, -1).sum(axis=1), rtol=1e-5
    )
    with pytest.raises(ValueError, match="multiple of 4 devices"):
        shard_batch_for_pmap({"x": np.zeros(6)}, four_devices)


def test_prefetch_to_device_state_resumes_at_the_next_unconsumed_batch(four_devices):
    source = [
        {"index": np.int64(i), "value": np.float32(i) * np.ones(3, np.float32)} for i in range(32)
    ]

    def loader():
        return make_loader(source, batch_size=4, seed=0, shard_index=0, shard_count=1)

    with loader() as reference:
        expected = [next(reference)["index"] for _ in range(6)]
    prefetcher = prefetch_to_device(loader(), size=3, sharding=four_devices)
    first = [np.asarray(next(prefetcher)["index"]) for _ in range(2)]
    state = prefetcher.get_state()
    assert state["next_batch"] == 2  # not the host loader's 5: three batches are in flight
    prefetcher.close()
    resumed = prefetch_to_device(loader(), size=2, sharding=four_devices)
    resumed.set_state(state)
    rest = [np.asarray(next(resumed)["index"]) for _ in range(4)]
    resumed.close()
    for got, want in zip(first + rest, expected, strict=True):
        np.testing.assert_array_equal(got, want)
    pmapped = prefetch_to_device(iter([_batch()]), size=2, sharding=four_devices, pmap=True)
    assert next(pmapped)["image"].shape == (4, 2, 2, 2, 3)
    with pytest.raises(StopIteration):
        next(pmapped)
