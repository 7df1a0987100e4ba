"""The one protocol for iterators of batches: the next batch, and a position to save and restore.

A :class:`facejax.data.pipeline.Loader` follows it (grain's ``get_state`` / ``set_state``, and
``close`` to stop its readers). :func:`checkpointable_iterator` gives any other iterator what it
lacks, once, where it enters (the device prefetcher, hence the training loop), so that nothing
downstream asks an iterator what it can do.

An iterator without ``get_state`` / ``set_state`` has no position: its state is empty (``{}``)
and restoring a saved position leaves it where it is, with a warning (a resumed run then reads
its data from the start again).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger(__name__)


@runtime_checkable
class CheckpointableIterator(Protocol):
    """An iterator whose position can be saved (JSON-serialisable) and restored."""

    def __iter__(self) -> Iterator: ...

    def __next__(self) -> Any: ...

    def get_state(self) -> Mapping[str, Any]:
        """The position of the next batch; ``{}`` for an iterator that has none."""
        ...

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continues from a state of :meth:`get_state`."""
        ...

    def close(self) -> None:
        """Releases readers, threads and worker processes."""
        ...


class _Completed:
    """An iterator given the parts of :class:`CheckpointableIterator` it lacks."""

    def __init__(self, iterator: Iterator):
        self._iterator = iterator
        has_position = callable(getattr(iterator, "get_state", None)) and callable(
            getattr(iterator, "set_state", None)
        )
        self._get_state = iterator.get_state if has_position else dict
        self._set_state = iterator.set_state if has_position else _cannot_restore
        self._close = getattr(iterator, "close", None) or (lambda: None)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._iterator)

    def get_state(self) -> Mapping[str, Any]:
        return self._get_state()

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._set_state(state)

    def close(self) -> None:
        self._close()


def _cannot_restore(state: Mapping[str, Any]) -> None:
    if state:
        logger.warning("the data iterator has no get_state/set_state: its data restart")


def checkpointable_iterator(iterator: Iterator) -> CheckpointableIterator:
    """``iterator`` itself if it follows :class:`CheckpointableIterator`, else it completed.

    Args:
      iterator: host batches: a Loader, a wrapper of one with ``get_state`` / ``set_state``, or
        any iterator (a generator, ``iter(list)``).

    Returns:
      An iterator with ``get_state``, ``set_state`` and ``close``.
    """
    if isinstance(iterator, CheckpointableIterator):
        return iterator
    return _Completed(iterator)
