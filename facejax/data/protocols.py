"""Face recognition test protocols built from identity labels: LFW-style verification pairs in
folds, and a gallery / probe split for identification.

Both are deterministic functions of the labels (in the order given) and a seed, so a dataset
builder stores them once and any evaluation rebuilds or reads the same ones. Indices refer to
positions in ``labels``; to store a protocol with a dataset whose reading order is not fixed
(tfds ``array_record`` sources are read in hashed order), convert the indices to example keys
with ``to_records(keys)`` and back with ``from_records(records, keys)``.

**Verification** (Huang et al., "Labeled Faces in the Wild", 2007, View 2): the identities are
shuffled and dealt round-robin into ``num_folds`` folds, so no person appears in two folds (a
threshold chosen on nine folds is tested on people it never saw). Each fold holds
``pairs_per_fold`` matched pairs (two different examples of one person: a person with two or
more examples is drawn uniformly, then two of its examples) followed by ``pairs_per_fold``
mismatched pairs (two different people of the fold, then one example of each); no unordered
pair appears twice.

**Identification** (closed set): for each person, ``gallery_per_identity`` examples drawn at
random go to the gallery and the rest are probes; a person with no more examples than that has
only gallery examples (a distractor for the others' probes).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np


def _labels(labels) -> np.ndarray:
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"protocols: labels must be [N] integers, got {labels.dtype} {labels.shape}"
        )
    return labels.astype(np.int64)


def _groups(labels: np.ndarray) -> dict[int, np.ndarray]:
    """``{label: indices}`` for labels >= 0 (-1 means unknown), indices ascending."""
    return {int(label): np.flatnonzero(labels == label) for label in np.unique(labels[labels >= 0])}


def _key_index(keys) -> dict:
    index = {}
    for i, key in enumerate(keys):
        key = key.decode() if isinstance(key, bytes) else str(key)
        if key in index:
            raise ValueError(f"protocols: key {key!r} appears twice")
        index[key] = i
    return index


def _lookup(index: dict, key) -> int:
    key = key.decode() if isinstance(key, bytes) else str(key)
    if key not in index:
        raise ValueError(f"protocols: the protocol names {key!r}, which is not among the keys")
    return index[key]


@dataclasses.dataclass(frozen=True)
class VerificationPairs:
    """Verification pairs, all ``[P]``: ``index_a``, ``index_b`` (int64 positions), ``same``
    (bool) and ``fold`` (int64, 0 to ``num_folds - 1``), fold by fold, matched pairs first."""

    index_a: np.ndarray
    index_b: np.ndarray
    same: np.ndarray
    fold: np.ndarray

    def __len__(self) -> int:
        return len(self.same)

    def to_records(self, keys) -> list[list]:
        """``[[fold, key_a, key_b, same], ...]`` (JSON-able) with ``keys[i]`` naming example i."""
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
        return [
            [int(f), keys[a], keys[b], bool(s)]
            for f, a, b, s in zip(self.fold, self.index_a, self.index_b, self.same, strict=True)
        ]

    @classmethod
    def from_records(cls, records, keys) -> VerificationPairs:
        """The pairs of ``records`` as positions in ``keys`` (e.g. a data source's keys)."""
        index = _key_index(keys)
        rows = [(int(f), _lookup(index, a), _lookup(index, b), bool(s)) for f, a, b, s in records]
        fold, a, b, same = (np.asarray(c) for c in zip(*rows, strict=True)) if rows else ([],) * 4
        return cls(
            index_a=np.asarray(a, np.int64),
            index_b=np.asarray(b, np.int64),
            same=np.asarray(same, bool),
            fold=np.asarray(fold, np.int64),
        )


def _draw_unique(rng, draw, count: int, available: int, candidates) -> list[tuple[int, int]]:
    """``count`` distinct unordered pairs: by rejection while they are plentiful, else by
    shuffling the full list ``candidates()``."""
    if 2 * count <= available:
        chosen, seen = [], set()
        while len(chosen) < count:
            a, b = draw(rng)
            key = (min(a, b), max(a, b))
            if key not in seen:
                seen.add(key)
                chosen.append((a, b))
        return chosen
    everything = list(candidates())
    order = rng.permutation(len(everything))[:count]
    return [everything[i] for i in order]


def verification_pairs(
    labels, *, num_folds: int = 10, pairs_per_fold: int = 300, seed: int = 0
) -> VerificationPairs:
    """LFW-style matched and mismatched pairs in identity-disjoint folds (module docstring).

    Args:
      labels: ``[N]`` integer identity of each example (-1: unknown, never used).
      num_folds: number of folds (10 as in LFW).
      pairs_per_fold: matched pairs per fold, and as many mismatched ones (300 in LFW).
      seed: seed of the identity shuffle and of the draws.

    Returns:
      :class:`VerificationPairs` with ``2 * pairs_per_fold * num_folds`` pairs.

    Raises:
      ValueError: if the labels cannot give every fold its pairs (fewer than two people per
      fold, or fewer distinct matched or mismatched pairs than asked), naming the fold.
    """
    labels = _labels(labels)
    if num_folds < 1 or pairs_per_fold < 1:
        raise ValueError(
            f"verification_pairs: need num_folds >= 1 and pairs_per_fold >= 1, got {num_folds}, "
            f"{pairs_per_fold}"
        )
    groups = _groups(labels)
    people = np.asarray(sorted(groups), np.int64)
    if len(people) < 2 * num_folds:
        raise ValueError(
            f"verification_pairs: {len(people)} identities cannot give {num_folds} "
            f"identity-disjoint folds of at least two people each"
        )
    people = people[np.random.default_rng(seed).permutation(len(people))]
    columns = {"index_a": [], "index_b": [], "same": [], "fold": []}
    for fold in range(num_folds):
        rng = np.random.default_rng([seed, fold])
        members = [groups[int(p)] for p in people[fold::num_folds]]
        sizes = np.asarray([len(m) for m in members])
        repeated = [m for m in members if len(m) >= 2]
        matched_available = int(sum(len(m) * (len(m) - 1) // 2 for m in members))
        mismatched_available = int((sizes.sum() ** 2 - (sizes**2).sum()) // 2)
        for kind, available in (
            ("matched", matched_available),
            ("mismatched", mismatched_available),
        ):
            if available < pairs_per_fold:
                raise ValueError(
                    f"verification_pairs: fold {fold} ({len(members)} identities, "
                    f"{int(sizes.sum())} examples) has only {available} distinct {kind} pairs, "
                    f"{pairs_per_fold} asked"
                )

        def draw_matched(rng, repeated=repeated):
            person = repeated[rng.integers(len(repeated))]
            a, b = rng.choice(len(person), size=2, replace=False)
            return int(person[a]), int(person[b])

        def draw_mismatched(rng, members=members):
            p, q = rng.choice(len(members), size=2, replace=False)
            return int(rng.choice(members[p])), int(rng.choice(members[q]))

        def all_matched(repeated=repeated):
            for person in repeated:
                yield from ((int(a), int(b)) for a, b in itertools.combinations(person, 2))

        def all_mismatched(members=members):
            for p, q in itertools.combinations(range(len(members)), 2):
                yield from ((int(a), int(b)) for a in members[p] for b in members[q])

        matched = _draw_unique(rng, draw_matched, pairs_per_fold, matched_available, all_matched)
        mismatched = _draw_unique(
            rng, draw_mismatched, pairs_per_fold, mismatched_available, all_mismatched
        )
        for same, pairs in ((True, matched), (False, mismatched)):
            for a, b in pairs:
                columns["index_a"].append(a)
                columns["index_b"].append(b)
                columns["same"].append(same)
                columns["fold"].append(fold)
    return VerificationPairs(
        index_a=np.asarray(columns["index_a"], np.int64),
        index_b=np.asarray(columns["index_b"], np.int64),
        same=np.asarray(columns["same"], bool),
        fold=np.asarray(columns["fold"], np.int64),
    )


@dataclasses.dataclass(frozen=True)
class GalleryProbe:
    """A closed-set identification split: ``gallery`` and ``probe`` ``[G]``, ``[P]`` int64
    positions, ascending."""

    gallery: np.ndarray
    probe: np.ndarray

    def to_records(self, keys) -> dict[str, list[str]]:
        """``{"gallery": [key, ...], "probe": [key, ...]}`` (JSON-able)."""
        keys = [k.decode() if isinstance(k, bytes) else str(k) for k in keys]
        return {
            "gallery": [keys[i] for i in self.gallery],
            "probe": [keys[i] for i in self.probe],
        }

    @classmethod
    def from_records(cls, records, keys) -> GalleryProbe:
        """The split of ``records`` as positions in ``keys``."""
        index = _key_index(keys)
        return cls(
            **{
                part: np.sort(np.asarray([_lookup(index, k) for k in records[part]], np.int64))
                for part in ("gallery", "probe")
            }
        )


def gallery_probe_split(labels, *, gallery_per_identity: int = 1, seed: int = 0) -> GalleryProbe:
    """Gallery and probe examples for closed-set identification (module docstring).

    Args:
      labels: ``[N]`` integer identity of each example (-1: unknown, left out).
      gallery_per_identity: gallery examples per person.
      seed: seed of the choice.

    Returns:
      :class:`GalleryProbe`.

    Raises:
      ValueError: for ``gallery_per_identity < 1`` or when no person has a probe.
    """
    labels = _labels(labels)
    if gallery_per_identity < 1:
        raise ValueError(
            f"gallery_probe_split: gallery_per_identity must be >= 1, got {gallery_per_identity}"
        )
    rng = np.random.default_rng(seed)
    gallery, probe = [], []
    for _, members in sorted(_groups(labels).items()):
        order = rng.permutation(members)
        gallery.extend(order[:gallery_per_identity])
        probe.extend(order[gallery_per_identity:])
    if not probe:
        raise ValueError(
            f"gallery_probe_split: no identity has more than {gallery_per_identity} examples, "
            "so there is nothing to identify"
        )
    return GalleryProbe(
        gallery=np.sort(np.asarray(gallery, np.int64)), probe=np.sort(np.asarray(probe, np.int64))
    )


def protocol_metadata(
    labels,
    keys,
    *,
    num_folds: int = 10,
    pairs_per_fold: int = 300,
    gallery_per_identity: int = 1,
    seed: int = 0,
) -> dict:
    """A test split's recognition protocols as a dataset stores them in ``info.metadata``.

    Args:
      labels: ``[N]`` identity of each test example.
      keys: ``[N]`` the examples' keys (``image_path``), which the records name.
      num_folds, pairs_per_fold, seed: :func:`verification_pairs`' options.
      gallery_per_identity: :func:`gallery_probe_split`'s option (same ``seed``).

    Returns:
      ``{"verification_pairs": {"num_folds", "pairs_per_fold", "pairs": [[fold, key_a, key_b,
      same], ...]}, "identification": {"gallery_per_identity", "gallery": [key, ...], "probe":
      [key, ...]}}``, read back with :meth:`VerificationPairs.from_records` and
      :meth:`GalleryProbe.from_records`.

    Raises:
      ValueError: as :func:`verification_pairs` and :func:`gallery_probe_split`.
    """
    pairs = verification_pairs(
        labels, num_folds=num_folds, pairs_per_fold=pairs_per_fold, seed=seed
    )
    identification = gallery_probe_split(
        labels, gallery_per_identity=gallery_per_identity, seed=seed
    )
    return {
        "verification_pairs": {
            "num_folds": num_folds,
            "pairs_per_fold": pairs_per_fold,
            "pairs": pairs.to_records(keys),
        },
        "identification": {
            "gallery_per_identity": gallery_per_identity,
            **identification.to_records(keys),
        },
    }


# The fewest people a test split's protocols are built for: two folds of two.
MIN_PROTOCOL_PEOPLE = 4


def reduced_protocol_metadata(
    labels,
    keys,
    *,
    num_folds: int = 10,
    pairs_per_fold: int = 300,
    gallery_per_identity: int = 1,
    seed: int = 0,
) -> dict:
    """:func:`protocol_metadata`, with fewer folds and pairs when the split cannot give them.

    For a test split whose size is known only once it is built (a real dataset, after its bad
    files are skipped): at most one fold per two people, and the pairs per fold halved until
    every fold has them. The stored ``num_folds`` and ``pairs_per_fold`` are those used. Never
    fewer than two folds: the cross-validated accuracy (:func:`facejax.evaluation.
    kfold_accuracy`) picks each fold's threshold on the others.

    Raises:
      ValueError: fewer than :data:`MIN_PROTOCOL_PEOPLE` people, not even one pair per fold
        (e.g. nobody with two examples), or no person has a probe.
    """
    num_people = len(np.unique(_labels(labels)))
    if num_people < MIN_PROTOCOL_PEOPLE:
        raise ValueError(
            f"the split cannot give recognition protocols: {num_people} people, where "
            f"verification needs {MIN_PROTOCOL_PEOPLE} (two identity-disjoint folds of two)"
        )
    folds = max(2, min(num_folds, num_people // 2))
    pairs = pairs_per_fold
    while True:
        try:
            return protocol_metadata(
                labels,
                keys,
                num_folds=folds,
                pairs_per_fold=pairs,
                gallery_per_identity=gallery_per_identity,
                seed=seed,
            )
        except ValueError as err:
            if pairs == 1:
                raise ValueError(f"the split cannot give recognition protocols: {err}") from err
            pairs = max(1, pairs // 2)
