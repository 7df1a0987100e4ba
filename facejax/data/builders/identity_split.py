"""Splitting a set of identities into train / validation / test, deterministically from a seed.

Held-out identities never appear in training: a face-recognition test measures how well the model
tells apart people it has not seen. Labels stay those of the whole dataset (sorted names), so an
identity has the same label in every split and in the metadata's ``identity_names``.
"""

from __future__ import annotations

import numpy as np


def split_identities(
    names, *, test_fraction: float, validation_fraction: float = 0.0, seed: int = 0
) -> dict[str, list[str]]:
    """Assigns each identity to one split.

    The identities are sorted, permuted with ``numpy.random.default_rng(seed)``, and the first
    ``round(test_fraction * n)`` go to ``"test"``, the next ``round(validation_fraction * n)``
    to ``"validation"``, the rest to ``"train"``. A non-zero fraction gets at least one
    identity, and ``"train"`` always keeps at least one.

    Args:
      names: identity names (unique).
      test_fraction: share of identities held out for testing, in ``[0, 1)``.
      validation_fraction: share held out for validation.
      seed: permutation seed.

    Returns:
      ``{split: sorted names}`` with ``"train"`` and every split whose fraction is non-zero.

    Raises:
      ValueError: for fractions outside ``[0, 1)`` or summing to 1 or more, duplicate names, or
      too few identities to give every requested split one.
    """
    names = sorted(names)
    if len(set(names)) != len(names):
        raise ValueError("split_identities: identity names must be unique")
    for label, fraction in (("test", test_fraction), ("validation", validation_fraction)):
        if not 0.0 <= fraction < 1.0:
            raise ValueError(
                f"split_identities: {label}_fraction must be in [0, 1), got {fraction}"
            )
    if test_fraction + validation_fraction >= 1.0:
        raise ValueError("split_identities: test and validation fractions leave nothing to train")
    n = len(names)

    def count(fraction):
        return 0 if fraction == 0 else max(1, int(round(fraction * n)))

    n_test, n_validation = count(test_fraction), count(validation_fraction)
    if n_test + n_validation >= n:
        raise ValueError(
            f"split_identities: {n} identities cannot give {n_test} test, {n_validation} "
            "validation and at least one training identity"
        )
    order = np.random.default_rng(seed).permutation(n)
    shuffled = [names[i] for i in order]
    splits = {"train": sorted(shuffled[n_test + n_validation :])}
    if n_test:
        splits["test"] = sorted(shuffled[:n_test])
    if n_validation:
        splits["validation"] = sorted(shuffled[n_test : n_test + n_validation])
    return splits
