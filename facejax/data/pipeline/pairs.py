"""Pairs of face images of the same or of different people, as a random-access source.

Pair ``i`` is a pure function of ``(seed, i)`` (its own ``np.random.Generator``), so a pair source
composes with :func:`facejax.data.pipeline.make_loader` like any data source: the loader shuffles
pair indices, shards them, augments each image of a pair as its own view and resumes exactly.

How pair ``i`` is drawn:

1. it is positive (same person) with probability ``positive_fraction``;
2. the anchor is drawn uniformly from the examples with a known identity (for a positive pair,
   from those whose person has at least two examples);
3. a positive partner is another example of the anchor's person. When the examples have a
   ``pose``, ``pose_candidates`` (k) distinct candidates are drawn and the one whose yaw differs
   most from the anchor's is taken: pairs *across poses*, which a Siamese identity loss needs to
   learn pose invariance (Luo et al.), while ``k = 1`` gives uniform partners;
4. a negative partner is drawn uniformly from the examples of other people;
5. the two are put in random order (``a``, ``b``).

Each feature ``f`` of the two examples appears as ``f_a`` and ``f_b`` (``image_a``,
``identity_a``, ...), beside ``same`` (bool) and the source indices ``index_a``, ``index_b``
(int64): the layout of the stored verification pairs (``image_pair_features``).
"""

from __future__ import annotations

import numpy as np

from facejax.data.pipeline.identity_index import IdentityIndex

_NEGATIVE_TRIES = 64


class PairSource:
    """Random-access pairs of examples (see the module docstring). Build with
    :func:`pair_source`."""

    def __init__(
        self,
        source,
        index: IdentityIndex,
        *,
        seed: int,
        positive_fraction: float,
        num_pairs: int,
        pose_candidates: int,
    ):
        self.source = source
        self.index = index
        self.seed = int(seed)
        self.positive_fraction = float(positive_fraction)
        self.num_pairs = int(num_pairs)
        self.pose_candidates = int(pose_candidates)
        counts = index.counts()
        self._anchors = index.labelled
        self._positive_anchors = np.flatnonzero(counts >= 2)

    def __len__(self) -> int:
        return self.num_pairs

    def __repr__(self) -> str:
        return (
            f"PairSource({len(self)} pairs of {len(self.source)} examples, seed={self.seed}, "
            f"positive_fraction={self.positive_fraction}, pose_candidates={self.pose_candidates})"
        )

    def partners(self, i: int) -> tuple[int, int, bool]:
        """``(index_a, index_b, same)`` of pair ``i`` without reading the examples."""
        if not 0 <= i < self.num_pairs:
            raise IndexError(f"PairSource: pair {i} out of range [0, {self.num_pairs})")
        rng = np.random.default_rng([self.seed, i])
        identities = self.index.identities
        positive = bool(rng.random() < self.positive_fraction)
        if positive:
            anchor = int(self._positive_anchors[rng.integers(len(self._positive_anchors))])
            others = self.index.examples_of(identities[anchor])
            others = others[others != anchor]
            count = min(self.pose_candidates, len(others))
            candidates = rng.choice(others, size=count, replace=False)
            if self.index.yaw is not None and count > 1:
                difference = np.abs(self.index.yaw[candidates] - self.index.yaw[anchor])
                partner = int(candidates[np.argmax(difference)])
            else:
                partner = int(candidates[0])
        else:
            anchor = int(self._anchors[rng.integers(len(self._anchors))])
            for _ in range(_NEGATIVE_TRIES):
                partner = int(self._anchors[rng.integers(len(self._anchors))])
                if identities[partner] != identities[anchor]:
                    break
            else:  # one person holds most examples: draw from the others' list directly
                others = self._anchors[identities[self._anchors] != identities[anchor]]
                partner = int(others[rng.integers(len(others))])
        if rng.random() < 0.5:
            anchor, partner = partner, anchor
        return anchor, partner, positive

    def __getitem__(self, i: int) -> dict:
        index_a, index_b, same = self.partners(int(i))
        pair = {f"{name}_a": value for name, value in self.source[index_a].items()}
        pair.update({f"{name}_b": value for name, value in self.source[index_b].items()})
        pair["same"] = np.bool_(same)
        pair["index_a"] = np.int64(index_a)
        pair["index_b"] = np.int64(index_b)
        return pair


def pair_source(
    source,
    identities: IdentityIndex | None = None,
    *,
    seed: int,
    positive_fraction: float = 0.5,
    num_pairs: int | None = None,
    pose_candidates: int = 4,
    cache_path=None,
) -> PairSource:
    """Same/different-identity pairs of a source's examples (see the module docstring).

    Args:
      source: random-access examples with ``identity`` (and, for pose-aware pairs, ``pose``).
      identities: the source's :class:`IdentityIndex`; None builds it (one pass over the source,
        see facejax.data.pipeline.identity_index) or loads it from ``cache_path``.
      seed: the seed of the pairs.
      positive_fraction: probability that a pair is of one person.
      num_pairs: the length of the pair source (default: the number of labelled examples).
      pose_candidates: k, positive partners compared by yaw (1: a uniform partner).
      cache_path: where to cache the identity index built here.

    Returns:
      A :class:`PairSource`.

    Raises:
      ValueError: when the labels cannot give the pairs asked for (no person with two examples
        for positives, fewer than two people for negatives), or for bad arguments.
    """
    if not 0 <= positive_fraction <= 1:
        raise ValueError(
            f"pair_source: positive_fraction must be in [0, 1], got {positive_fraction}"
        )
    if pose_candidates < 1:
        raise ValueError(f"pair_source: pose_candidates must be >= 1, got {pose_candidates}")
    if identities is None:
        from facejax.data.pipeline.identity_index import identity_index

        identities = identity_index(source, cache_path=cache_path)
    if len(identities) != len(source):
        raise ValueError(
            f"pair_source: the identity index has {len(identities)} examples, the source "
            f"{len(source)}"
        )
    labelled = len(identities.labelled)
    if labelled == 0:
        raise ValueError("pair_source: no example has a known identity (all labels are -1)")
    if positive_fraction > 0 and not np.any(identities.counts() >= 2):
        raise ValueError("pair_source: positive pairs need a person with two or more examples")
    if positive_fraction < 1 and len(identities.labels) < 2:
        raise ValueError("pair_source: negative pairs need two or more people")
    num_pairs = labelled if num_pairs is None else int(num_pairs)
    if num_pairs < 1:
        raise ValueError(f"pair_source: num_pairs must be >= 1, got {num_pairs}")
    return PairSource(
        source,
        identities,
        seed=seed,
        positive_fraction=positive_fraction,
        num_pairs=num_pairs,
        pose_candidates=pose_candidates,
    )
