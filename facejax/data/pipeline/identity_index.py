"""Which examples show which person: the identity -> example indices map behind pair sampling.

A tfds array_record source can only be read example by example, and every read decodes the
whole example (image included): building the index reads the dataset once, at the speed of
``as_data_source`` (about 1,200-2,000 112x112 examples/s on a 2-core CPU, docs/datasets.md: a
minute or two for 300W-LP's 122,450 images). It keeps the ``identity`` label and, when the
examples have a ``pose``, the yaw (``pose[1]`` in both facejax Euler conventions), so that pair
sampling can prefer different poses without reading candidates. Pass ``cache_path`` to store the
index as a small ``.npz`` (8-12 bytes per example) and skip the pass next time; a cache whose
example count differs from the source is rebuilt.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from facejax.formats.atomic_files import atomic_write


@dataclasses.dataclass(frozen=True, eq=False)
class IdentityIndex:
    """Identity labels of a source and, per identity, its examples.

    Attributes:
      identities: ``[N]`` int64 label of each example (-1: unknown).
      yaw: ``[N]`` float32 yaw in radians of each example, or None when the examples have no
        ``pose``.
    """

    identities: np.ndarray
    yaw: np.ndarray | None = None

    def __post_init__(self):
        identities = np.asarray(self.identities, dtype=np.int64).reshape(-1)
        object.__setattr__(self, "identities", identities)
        if self.yaw is not None:
            yaw = np.asarray(self.yaw, dtype=np.float32).reshape(-1)
            if yaw.shape != identities.shape:
                raise ValueError(
                    f"IdentityIndex: yaw has {yaw.shape[0]} entries for {identities.shape[0]} "
                    f"examples"
                )
            object.__setattr__(self, "yaw", yaw)
        labelled = np.flatnonzero(identities >= 0)
        order = labelled[np.argsort(identities[labelled], kind="stable")]
        labels, starts, counts = np.unique(identities[order], return_index=True, return_counts=True)
        object.__setattr__(self, "_order", order)
        object.__setattr__(self, "_labels", labels)
        object.__setattr__(self, "_starts", starts)
        object.__setattr__(self, "_counts", counts)

    def __len__(self) -> int:
        return int(self.identities.shape[0])

    @property
    def labels(self) -> np.ndarray:
        """``[I]`` sorted distinct identity labels (unknown, -1, left out)."""
        return self._labels

    @property
    def labelled(self) -> np.ndarray:
        """``[L]`` indices of the examples with a known identity, grouped by identity."""
        return self._order

    def counts(self) -> np.ndarray:
        """``[N]`` the number of examples of each example's identity (0 for unknown)."""
        per_label = np.zeros(len(self), dtype=np.int64)
        per_label[self._order] = np.repeat(self._counts, self._counts)
        return per_label

    def examples_of(self, identity: int) -> np.ndarray:
        """``[n]`` indices of the examples of ``identity`` (empty when there are none)."""
        position = np.searchsorted(self._labels, identity)
        if position >= len(self._labels) or self._labels[position] != identity:
            return np.zeros(0, dtype=np.int64)
        start = self._starts[position]
        return self._order[start : start + self._counts[position]]

    def save(self, path) -> None:
        """Writes the index to ``path`` (``.npz``) atomically."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        arrays = {"identities": self.identities}
        if self.yaw is not None:
            arrays["yaw"] = self.yaw
        with atomic_write(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def load(cls, path) -> IdentityIndex:
        with np.load(path) as data:
            return cls(data["identities"], data["yaw"] if "yaw" in data.files else None)


def _read_labels(examples, identities, yaw, start):
    for offset, example in enumerate(examples):
        if "identity" not in example:
            raise ValueError(
                f"identity_index: example {start + offset} has no 'identity' feature (it has "
                f"{sorted(example)})"
            )
        identities[start + offset] = int(np.asarray(example["identity"]))
        if yaw is not None:
            yaw[start + offset] = float(np.asarray(example["pose"]).reshape(-1)[1])


def identity_index(source, *, cache_path=None, chunk_size: int = 256) -> IdentityIndex:
    """Builds (or loads from ``cache_path``) the identity index of a source.

    Args:
      source: random-access examples with an ``identity`` feature (and optionally ``pose``).
      cache_path: an ``.npz`` file to load the index from, or to write it to after building.
      chunk_size: examples per read (sources with ``__getitems__`` read a chunk at once).

    Returns:
      The :class:`IdentityIndex` (one pass over the source, unless cached).
    """
    num_examples = len(source)
    if cache_path is not None and os.path.isfile(cache_path):
        index = IdentityIndex.load(cache_path)
        if len(index) == num_examples:
            return index
    if num_examples == 0:
        raise ValueError("identity_index: the source is empty")
    identities = np.empty(num_examples, dtype=np.int64)
    yaw = np.empty(num_examples, dtype=np.float32) if "pose" in source[0] else None
    for start in range(0, num_examples, chunk_size):
        indices = list(range(start, min(start + chunk_size, num_examples)))
        if hasattr(source, "__getitems__"):
            examples = source.__getitems__(indices)
        else:
            examples = [source[i] for i in indices]
        _read_labels(examples, identities, yaw, start)
    index = IdentityIndex(identities, yaw)
    if cache_path is not None:
        index.save(cache_path)
    return index
