"""make_loader: determinism from a seed, exact resume, disjoint process shards, epochs, errors."""

import json
import sys

import numpy as np
import pytest

from facejax.data.pipeline import (
    AugmentConfig,
    CheckpointableIterator,
    checkpointable_iterator,
    make_loader,
    shard_range,
)

NUM = 24
SIZE = 16


def _source(num=NUM, size=SIZE):
    rng = np.random.default_rng(0)
    return [
        {
            "image": rng.integers(0, 256, size=(size, size, 3)).astype(np.uint8),
            "landmarks": rng.uniform(2, size - 2, size=(68, 2)).astype(np.float32),
            "has_landmarks": np.bool_(True),
            "identity": np.int64(i % 6),
            "image_path": f"person_{i % 6}/{i:03d}.jpg".encode(),
            "index": np.int64(i),
        }
        for i in range(num)
    ]


def _take(loader, count):
    return [next(loader) for _ in range(count)]


def _assert_same_batches(first, second):
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def _loader(source, **kwargs):
    options = dict(batch_size=4, seed=3, shard_index=0, shard_count=1, augment=AugmentConfig())
    options.update(kwargs)
    return make_loader(source, **options)


def test_same_seed_same_batches_and_another_seed_another_order():
    source = _source()
    with _loader(source) as a, _loader(source) as b, _loader(source, seed=4) as c:
        first, second, other = _take(a, 8), _take(b, 8), _take(c, 8)
    _assert_same_batches(first, second)
    order = np.concatenate([batch["index"] for batch in first])
    assert not np.array_equal(order, np.concatenate([batch["index"] for batch in other]))
    # Each epoch (6 batches of 4) sees every example once, in a new order after the first.
    assert sorted(order[:NUM]) == list(range(NUM))
    assert not np.array_equal(order[:8], order[NUM : NUM + 8])
    assert {k: v.shape for k, v in first[0].items()} == {
        "image": (4, SIZE, SIZE, 3),
        "landmarks": (4, 68, 2),
        "has_landmarks": (4,),
        "identity": (4,),
        "image_path": (4,),
        "index": (4,),
        "flipped": (4,),
    }
    assert "tensorflow" not in sys.modules


def test_a_resumed_loader_yields_exactly_the_uninterrupted_batches():
    source = _source()
    with _loader(source) as uninterrupted:
        expected = _take(uninterrupted, 9)
    with _loader(source) as interrupted:
        _take(interrupted, 5)
        state = json.loads(json.dumps(interrupted.get_state()))  # as a checkpoint stores it
    assert state["next_batch"] == 5
    with _loader(source, read_threads=1) as resumed:
        resumed.set_state(state)
        assert resumed.batch_index == 5
        _assert_same_batches(_take(resumed, 4), expected[5:])
    with _loader(source, seed=4) as other, pytest.raises(ValueError, match="seed: saved 3, now 4"):
        other.set_state(state)
    with _loader(source) as other, pytest.raises(ValueError, match="not a loader state"):
        other.set_state({"next_index": 5})


def test_process_shards_are_disjoint_equal_and_cover_the_source():
    source = _source()
    seen = []
    for index in range(2):
        with _loader(source, shard_index=index, shard_count=2, num_epochs=1, batch_size=3) as ld:
            assert ld.num_batches == 4
            seen.append(np.concatenate([batch["index"] for batch in ld]))
    assert set(seen[0]).isdisjoint(seen[1])
    assert sorted(np.concatenate(seen)) == list(range(NUM))
    # 25 examples in 2 shards: 12 each, one left out so that both yield as many batches.
    shards = [shard_range(25, i, 2) for i in range(2)]
    assert [(s.start, s.stop) for s in shards] == [(0, 12), (12, 24)]
    with pytest.raises(ValueError, match="cannot fill"):
        shard_range(3, 0, 4)
    with make_loader(source, batch_size=4, seed=0) as default:  # jax.process_index() of count()
        assert (default.shard.index, default.shard.count, default.shard.size) == (0, 1, NUM)
    with pytest.raises(ValueError, match="shard_index < shard_count"):
        make_loader(source, batch_size=2, seed=0, shard_index=2, shard_count=2)


def test_finite_epochs_without_shuffle_and_the_last_short_batch():
    source = _source(num=10)
    with _loader(source, shuffle=False, num_epochs=2, drop_remainder=False, augment=None) as ld:
        batches = list(ld)
        assert ld.num_batches == len(batches) == 5
    order = np.concatenate([batch["index"] for batch in batches])
    np.testing.assert_array_equal(order, np.tile(np.arange(10), 2))
    np.testing.assert_array_equal(batches[0]["image"][1], source[1]["image"])  # not augmented
    with _loader(source, shuffle=False, num_epochs=1, batch_size=4) as ld:
        assert [len(b["index"]) for b in ld] == [4, 4]


def test_features_selection_and_errors_name_the_problem():
    source = _source()
    with _loader(source, features=("image", "identity"), augment=None) as ld:
        assert set(next(ld)) == {"image", "identity"}
    with pytest.raises(ValueError, match=r"features \['pose'\]"):
        _loader(source, features=("image", "pose"))
    with pytest.raises(ValueError, match="batch_size"):
        _loader(source, batch_size=0)
    with pytest.raises(TypeError, match="AugmentConfig"):
        _loader(source, augment={"flip_prob": 0.5})
    clips = [{"frames": np.zeros((t, 4, 4, 3), np.uint8)} for t in (2, 3, 2, 3)]
    with _loader(clips, augment=None) as ld, pytest.raises(ValueError, match="'frames'.*shapes"):
        next(ld)


def test_worker_processes_give_the_same_batches_and_resume_across_worker_counts():
    source = _source()
    with _loader(source) as threads:
        expected = _take(threads, 6)
    with _loader(source, worker_count=1) as workers:
        _assert_same_batches(_take(workers, 3), expected[:3])
        state = workers.get_state()
    with _loader(source) as resumed:
        resumed.set_state(state)
        _assert_same_batches(_take(resumed, 3), expected[3:])


def test_the_pipeline_imports_neither_tensorflow_nor_tfds():
    import subprocess

    code = (
        "import sys, facejax.data.pipeline\n"
        "print(','.join(m for m in ('tensorflow', 'tensorflow_datasets') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_every_iterator_gets_the_checkpointable_protocol_once(caplog):
    with _loader(_source()) as loader:
        assert isinstance(loader, CheckpointableIterator)
        assert checkpointable_iterator(loader) is loader  # a Loader is used as it is
        loader_state = loader.get_state()

    closed = []

    def generate():
        try:
            yield from range(3)
        finally:
            closed.append(True)

    plain = checkpointable_iterator(generate())
    assert isinstance(plain, CheckpointableIterator)
    assert next(plain) == 0
    assert plain.get_state() == {}  # no position: nothing to save
    plain.set_state({})  # nothing to restore: silent
    assert caplog.records == []
    plain.set_state(loader_state)  # a saved position it cannot take: it goes on, and says so
    assert "data restart" in caplog.text
    assert list(plain) == [1, 2]
    plain.close()
    assert closed == [True]

    class Positioned:  # get_state/set_state but no close
        def __init__(self):
            self.position = 0

        def __iter__(self):
            return self

        def __next__(self):
            self.position += 1
            return self.position

        def get_state(self):
            return {"position": self.position}

        def set_state(self, state):
            self.position = state["position"]

    completed = checkpointable_iterator(Positioned())
    next(completed)
    assert completed.get_state() == {"position": 1}
    completed.set_state({"position": 5})
    assert next(completed) == 6
    completed.close()
