"""The pipeline over real tfds array_record data sources (tiny identity-folder datasets), without
TensorFlow."""

import sys

import numpy as np

from facejax.data.builders.identity_clips import IdentityClips, IdentityClipsConfig
from facejax.data.builders.identity_folders import IdentityFolders, IdentityFoldersConfig
from facejax.data.pipeline import (
    AugmentConfig,
    frame_pair_source,
    identity_index,
    make_loader,
    pair_source,
)

CROP = 16


def _assert_same_batches(first, second):
    for a, b in zip(first, second, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_loader_and_pairs_over_an_array_record_source(tmp_path, kit):
    for p in range(4):
        for n in range(3):
            kit.write_image(tmp_path / "manual" / f"p{p}" / f"{n}.jpg", (24, 24), 10 * p + n)
    config = IdentityFoldersConfig(name="pipeline", crop_size=CROP, test_fraction=0.0)
    builder = kit.build(IdentityFolders, config, tmp_path / "manual", tmp_path / "data")
    source = builder.as_data_source(split="train")
    assert len(source) == 12

    def loader():
        return make_loader(
            source, batch_size=4, seed=1, shard_index=0, shard_count=1, augment=AugmentConfig()
        )

    with loader() as uninterrupted:
        expected = [next(uninterrupted) for _ in range(5)]
    assert expected[0]["image"].shape == (4, CROP, CROP, 3)
    assert expected[0]["crop_transform"].shape == (4, 2, 3)
    with loader() as interrupted:
        next(interrupted), next(interrupted)
        state = interrupted.get_state()
    with loader() as resumed:
        resumed.set_state(state)
        _assert_same_batches([next(resumed) for _ in range(3)], expected[2:])

    index = identity_index(source, cache_path=tmp_path / "identities.npz")
    assert sorted(np.bincount(index.identities)) == [3, 3, 3, 3]
    pairs = pair_source(source, index, seed=0, num_pairs=8)
    with make_loader(pairs, batch_size=4, seed=0, shard_index=0, shard_count=1) as pair_loader:
        batch = next(pair_loader)
    np.testing.assert_array_equal(batch["same"], batch["identity_a"] == batch["identity_b"])
    assert "tensorflow" not in sys.modules


def test_frame_pairs_over_an_array_record_clip_source(tmp_path, kit):
    for p in range(2):
        for c in range(2):
            for f in range(4):
                path = tmp_path / "manual" / f"p{p}" / f"clip{c}" / f"{f:04d}.jpg"
                kit.write_image(path, (24, 24), 100 * p + 10 * c + f)
    config = IdentityClipsConfig(name="pipeline", crop_size=CROP, test_fraction=0.0)
    builder = kit.build(IdentityClips, config, tmp_path / "manual", tmp_path / "data")
    clips = builder.as_data_source(split="train")
    pairs = frame_pair_source(clips, max_gap=2, seed=3, num_pairs=8)
    augment = AugmentConfig(share_across_views=True)
    with make_loader(
        pairs, batch_size=4, seed=0, shard_index=0, shard_count=1, augment=augment
    ) as loader:
        batch = next(loader)
    assert batch["image_a"].shape == batch["image_b"].shape == (4, CROP, CROP, 3)
    assert np.all((np.abs(batch["frame_gap"]) >= 1) & (np.abs(batch["frame_gap"]) <= 2))
    assert batch["frame_path_a"].dtype.kind == "S" and batch["clip_name"].shape == (4,)
    assert "tensorflow" not in sys.modules
