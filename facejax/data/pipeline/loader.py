"""The training/evaluation input pipeline: shard, shuffle, repeat, augment and batch with grain.

A loader is a random-access grain ``MapDataset`` chain over a data source (``__len__`` and
``__getitem__`` returning dicts of numpy arrays and bytes: ``builder.as_data_source(split)``, a
pair source, or a list)::

    source -> this process's shard -> [features] -> shuffle(seed) -> repeat(num_epochs)
           -> [augment: random_map(seed, shard)] -> batch -> threads / worker processes

Every stage is a pure function of the element's index: the shuffle permutes indices from the
seed (reshuffled each epoch), and grain seeds augmentation from the seed and the element's
position. Batch ``k`` is therefore fixed by the configuration alone, and the loader's state is
just ``k`` (plus a fingerprint of the configuration): restoring it rebuilds the chain from batch
``k`` on, which yields exactly the batches an uninterrupted loader would have yielded, whatever
the number of threads or worker processes before and after. Batches may straddle epochs (the
next epoch's first examples fill the last batch of the previous one), so no example is lost when
``drop_remainder`` is set; with a finite ``num_epochs`` only the very last batch can be short.

TensorFlow is never imported: grain reads the tfds array_record sources directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import grain
import numpy as np

from facejax.data.pipeline import sharding
from facejax.data.pipeline.augment import AugmentConfig, make_augment_fn

STATE_VERSION = 1


def derive_seed(seed: int, *salt: int) -> int:
    """A 32-bit seed for one stage of the pipeline (grain takes seeds in ``[0, 2**32)``)."""
    return int(np.random.SeedSequence([int(seed), *salt]).generate_state(1)[0])


def stack_examples(examples: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Stacks examples into a batch ``{name: [B, ...]}`` (text becomes a ``bytes_`` array).

    Raises:
      ValueError: naming the feature when examples differ in their features or in a feature's
        shape (e.g. clips of different lengths).
    """
    keys = list(examples[0])
    batch = {}
    for example in examples[1:]:
        if set(example) != set(keys):
            raise ValueError(
                f"batch: examples have different features: {sorted(keys)} and {sorted(example)}"
            )
    for key in keys:
        values = [np.asarray(example[key]) for example in examples]
        shapes = {value.shape for value in values}
        if len(shapes) > 1:
            raise ValueError(
                f"batch: feature {key!r} has different shapes within a batch: {sorted(shapes)} "
                f"(clips of different lengths? sample frame pairs with frame_pair_source, or "
                f"select fixed-size features with make_loader(features=...))"
            )
        batch[key] = np.stack(values)
    return batch


def _select(features: tuple[str, ...]) -> Callable[[Mapping], dict]:
    def select(example):
        return {name: example[name] for name in features}

    return select


class Loader:
    """An iterator of batches (dicts of ``[B, ...]`` numpy arrays) with a checkpointable state.

    ``get_state()`` returns a small JSON-serialisable dict (save it per process, e.g. with
    ``json.dumps`` or Orbax's ``JsonSave``); ``set_state(state)`` on a loader made with the same
    arguments continues with exactly the batches the saved one would have yielded next.

    Attributes:
      shard: this process's part of the source (``sharding.Shard``).
      batch_size: examples per batch on this process.
      batches_per_epoch: full batches in one pass over the shard (``shard.size // batch_size``).
      num_batches: batches this loader yields in all, or None when it repeats forever.
    """

    def __init__(
        self,
        batches: grain.MapDataset,
        fingerprint: dict,
        *,
        shard,
        batch_size,
        num_batches,
        read_options,
        worker_count,
    ):
        self._batches = batches
        self._fingerprint = fingerprint
        self._read_options = read_options
        self._worker_count = worker_count
        self.shard = shard
        self.batch_size = batch_size
        self.batches_per_epoch = shard.size // batch_size
        self.num_batches = num_batches
        self._iterator = None
        self._next_batch = 0
        self._start(0)

    def _start(self, batch_index: int) -> None:
        self.close()
        dataset = self._batches.slice(slice(batch_index, None)).to_iter_dataset(self._read_options)
        if self._worker_count > 0:
            _mark_absl_flags_parsed()
            dataset = dataset.mp_prefetch(
                grain.MultiprocessingOptions(num_workers=self._worker_count)
            )
        self._iterator = iter(dataset)
        self._next_batch = batch_index

    @property
    def batch_index(self) -> int:
        """The index of the next batch (batches yielded since the start, resumes included)."""
        return self._next_batch

    def __iter__(self):
        return self

    def __next__(self) -> dict[str, np.ndarray]:
        batch = next(self._iterator)
        self._next_batch += 1
        return batch

    def get_state(self) -> dict:
        """``{"version", "next_batch", "config"}``: JSON-serialisable."""
        return {
            "version": STATE_VERSION,
            "next_batch": self._next_batch,
            "config": dict(self._fingerprint),
        }

    def set_state(self, state: Mapping) -> None:
        """Continues from a state of :meth:`get_state` (of a loader with the same arguments).

        Raises:
          ValueError: if the state is not a loader state or was saved by a loader with another
            configuration (naming the differing settings).
        """
        if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
            raise ValueError(f"Loader.set_state: not a loader state (version {STATE_VERSION})")
        saved = json.loads(json.dumps(state["config"]))
        ours = json.loads(json.dumps(self._fingerprint))
        if saved != ours:
            differing = sorted(k for k in set(saved) | set(ours) if saved.get(k) != ours.get(k))
            details = ", ".join(
                f"{k}: saved {saved.get(k)!r}, now {ours.get(k)!r}" for k in differing
            )
            raise ValueError(
                f"Loader.set_state: the state is from another configuration ({details})"
            )
        self._start(int(state["next_batch"]))

    def close(self) -> None:
        """Stops the reader threads and worker processes (also done when a state is set)."""
        if self._iterator is not None and hasattr(self._iterator, "close"):
            self._iterator.close()
        self._iterator = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _mark_absl_flags_parsed() -> None:
    # grain <= 0.2.18 reads an absl flag in mp_prefetch even when no program parsed the flags
    # (google/grain#1355, fixed by #1362). Marking them parsed keeps every flag at its default,
    # which is what an unparsed flag means anyway; a program that parses its flags is untouched.
    from absl import flags

    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def make_loader(
    source,
    *,
    batch_size: int,
    seed: int,
    shuffle: bool = True,
    num_epochs: int | None = None,
    augment: AugmentConfig | None = None,
    shard_index: int | None = None,
    shard_count: int | None = None,
    drop_remainder: bool = True,
    features: Sequence[str] | None = None,
    worker_count: int = 0,
    read_threads: int = 2,
    read_buffer: int = 4,
) -> Loader:
    """Batches of a data source, sharded by process, shuffled and augmented from a seed.

    Args:
      source: random-access examples: ``len(source)`` and ``source[i]`` -> dict of numpy arrays
        / bytes (``builder.as_data_source(split)``, :func:`pair_source`, a list, ...).
      batch_size: examples per batch on this process.
      seed: the seed of shuffling and augmentation.
      shuffle: shuffle (differently each epoch); False reads the shard in order.
      num_epochs: passes over the shard; None repeats forever.
      augment: training augmentation, or None (evaluation: examples as stored).
      shard_index, shard_count: this process's shard; default ``jax.process_index()`` of
        ``jax.process_count()`` (see facejax.data.pipeline.sharding).
      drop_remainder: drop a last, short batch (only possible with a finite ``num_epochs``).
      features: the features to keep (default: all); dropping text fields saves time.
      worker_count: grain worker processes (0: threads in this process only).
      read_threads: threads reading and augmenting batches in each process.
      read_buffer: batches read ahead per process.

    Returns:
      A :class:`Loader`.

    Raises:
      ValueError: for a bad argument, an empty shard, or ``features`` the source lacks.
    """
    if batch_size < 1:
        raise ValueError(f"make_loader: batch_size must be >= 1, got {batch_size}")
    if num_epochs is not None and num_epochs < 1:
        raise ValueError(f"make_loader: num_epochs must be >= 1 or None, got {num_epochs}")
    if worker_count < 0 or read_threads < 1 or read_buffer < 1:
        raise ValueError(
            f"make_loader: need worker_count >= 0, read_threads >= 1, read_buffer >= 1, got "
            f"{worker_count}, {read_threads}, {read_buffer}"
        )
    if augment is not None and not isinstance(augment, AugmentConfig):
        raise TypeError(f"make_loader: augment must be an AugmentConfig or None, got {augment!r}")
    num_examples = len(source)
    if num_examples == 0:
        raise ValueError("make_loader: the source is empty")
    first = source[0]
    if not isinstance(first, Mapping):
        raise TypeError(f"make_loader: examples must be dicts, got {type(first).__name__}")
    if features is not None:
        features = tuple(features)
        missing = [name for name in features if name not in first]
        if missing:
            raise ValueError(
                f"make_loader: features {missing} are not in the examples (they have "
                f"{sorted(first)})"
            )
    shard = sharding.shard_range(num_examples, *sharding.process_shard(shard_index, shard_count))

    dataset = grain.MapDataset.source(source).slice(slice(shard.start, shard.stop))
    if features is not None:
        dataset = dataset.map(_select(features))
    if shuffle:
        dataset = dataset.shuffle(seed=derive_seed(seed, 0))
    dataset = dataset.repeat(num_epochs)
    if augment is not None:
        # Per shard, so that processes do not draw the same augmentation for their k-th example.
        augment_seed = derive_seed(seed, 1, shard.index)
        dataset = dataset.random_map(make_augment_fn(augment), seed=augment_seed)
    batches = dataset.batch(batch_size, drop_remainder=drop_remainder, batch_fn=stack_examples)

    if num_epochs is None:
        num_batches = None
    else:
        total = shard.size * num_epochs
        num_batches = total // batch_size if drop_remainder else -(-total // batch_size)
    fingerprint = {
        "num_examples": num_examples,
        "batch_size": batch_size,
        "seed": int(seed),
        "shuffle": bool(shuffle),
        "num_epochs": num_epochs,
        "augment": repr(augment),
        "shard": [shard.index, shard.count],
        "drop_remainder": bool(drop_remainder),
        "features": None if features is None else list(features),
    }
    read_options = grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=read_buffer)
    return Loader(
        batches,
        fingerprint,
        shard=shard,
        batch_size=batch_size,
        num_batches=num_batches,
        read_options=read_options,
        worker_count=worker_count,
    )
