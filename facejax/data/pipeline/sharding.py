"""Which examples each process reads: disjoint, equal-sized, contiguous shards.

Every process of a multi-host job runs its own loader over its own shard (grain's
``ShardByJaxProcess`` idea). Shards are equal in size, ``len(source) // shard_count`` each, and the
last ``len(source) % shard_count`` examples are left out, so that every process yields the same
number of batches per epoch: a process that ran out of data one batch early would leave the
others waiting in a collective. Shards are contiguous index ranges (reading is sequential within
a shard on disk); tfds already stores array_record examples in a hashed, not a sorted, order.
"""

from __future__ import annotations

from typing import NamedTuple


class Shard(NamedTuple):
    """This process's part of a source: examples ``[start, stop)`` of ``shard_count`` shards."""

    index: int
    count: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def process_shard(
    shard_index: int | None = None, shard_count: int | None = None
) -> tuple[int, int]:
    """``(shard_index, shard_count)``, defaulting to ``jax.process_index() / process_count()``.

    Raises:
      ValueError: for a count below 1 or an index outside ``[0, count)``, or only one of the
        two given.
    """
    if (shard_index is None) != (shard_count is None):
        raise ValueError(
            f"process_shard: give both shard_index and shard_count or neither, got "
            f"{shard_index} and {shard_count}"
        )
    if shard_index is None:
        import jax  # the process topology is JAX's; imported only when asked for

        shard_index, shard_count = jax.process_index(), jax.process_count()
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise ValueError(
            f"process_shard: need 0 <= shard_index < shard_count, got {shard_index} of "
            f"{shard_count}"
        )
    return int(shard_index), int(shard_count)


def shard_range(num_examples: int, shard_index: int, shard_count: int) -> Shard:
    """The contiguous, equal-sized shard ``shard_index`` of ``num_examples`` examples.

    Raises:
      ValueError: when a shard would be empty.
    """
    size = num_examples // shard_count
    if size == 0:
        raise ValueError(f"shard_range: {num_examples} examples cannot fill {shard_count} shards")
    start = shard_index * size
    return Shard(index=shard_index, count=shard_count, start=start, stop=start + size)
