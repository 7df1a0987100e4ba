"""Prefetch to device: keep the next few batches already on their way to the accelerators.

JAX transfers are asynchronous, so putting batch ``k + size`` on the devices while the step of
batch ``k`` runs overlaps the copy with compute, with no thread of our own (the host side already
reads ahead in grain's threads or processes).

Checkpoints stay exact: the prefetcher remembers the host iterator's state *before* each batch
it pulled, and its :meth:`DevicePrefetcher.get_state` is the state of the next batch it will
yield, not of the host iterator that ran ``size`` batches ahead. Save the prefetcher's state and a
resumed run sees exactly the batches the interrupted one had not consumed. The host iterator is
made a :class:`facejax.data.pipeline.CheckpointableIterator` once, on the way in.
"""

from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from facejax.data.pipeline import placement
from facejax.data.pipeline.checkpointable import checkpointable_iterator


class DevicePrefetcher:
    """Device batches, ``size`` ahead: a :class:`facejax.data.pipeline.CheckpointableIterator`.

    Args:
      iterator: host batches (a :class:`facejax.data.pipeline.Loader` or any iterator; one
        without ``get_state`` / ``set_state`` has the empty state, see
        :func:`facejax.data.pipeline.checkpointable_iterator`).
      place: host batch -> device batch.
      size: batches on their way to the devices.
    """

    def __init__(self, iterator: Iterator, place: Callable[[Mapping], Any], size: int = 2):
        if size < 1:
            raise ValueError(f"prefetch_to_device: size must be >= 1, got {size}")
        self._iterator = checkpointable_iterator(iterator)
        self._place = place
        self._size = size
        self._queue = collections.deque()
        self._exhausted = False

    def _fill(self) -> None:
        while not self._exhausted and len(self._queue) < self._size:
            state = self._iterator.get_state()
            try:
                batch = next(self._iterator)
            except StopIteration:
                self._exhausted = True
                break
            self._queue.append((state, self._place(batch)))

    def __iter__(self):
        return self

    def __next__(self):
        self._fill()
        if not self._queue:
            raise StopIteration
        _, batch = self._queue.popleft()
        return batch

    def get_state(self):
        """The host iterator's state from which the next batch yielded here is read."""
        if self._queue:
            return self._queue[0][0]
        return self._iterator.get_state()

    def set_state(self, state) -> None:
        """Drops the batches in flight and restores the host iterator."""
        self._queue.clear()
        self._exhausted = False
        self._iterator.set_state(state)

    def close(self) -> None:
        self._queue.clear()
        self._iterator.close()


def prefetch_to_device(
    iterator: Iterator,
    size: int = 2,
    sharding=None,
    *,
    data_axis: str | tuple[str, ...] = "data",
    pmap: bool = False,
) -> DevicePrefetcher:
    """Device batches of a host iterator, ``size`` batches ahead.

    Args:
      iterator: host batches ``{name: [B, ...]}`` (e.g. a Loader).
      size: batches in flight.
      sharding: a ``Mesh``, ``NamedSharding`` or devices for global arrays
        (:func:`facejax.data.pipeline.shard_batch_for_devices`; default: a 1D mesh over all
        devices); with ``pmap=True`` the devices to pmap over (default: the local devices).
      data_axis: the mesh axis (or axes) the batch is split over.
      pmap: place pmap-style (``[D, B / D, ...]``, :func:`shard_batch_for_pmap`).

    Returns:
      A :class:`DevicePrefetcher`.
    """
    if pmap:
        place = functools.partial(placement.shard_batch_for_pmap, devices=sharding)
    else:
        if sharding is None:
            import jax

            sharding = jax.devices()
        target = placement.data_sharding(sharding, data_axis)
        place = functools.partial(placement.shard_batch_for_devices, mesh_or_devices=target)
    return DevicePrefetcher(iterator, place, size=size)
