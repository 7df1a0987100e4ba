"""The input pipeline: grain over tfds data sources (no TensorFlow), from a seed.

* :func:`make_loader`: shard by process, shuffle, repeat, augment and batch; a checkpointable
  iterator whose resumed state yields exactly the batches the uninterrupted one would.
* :class:`AugmentConfig`: random crop and scale, horizontal flip (iBUG-68 permutation, pose and
  camera mirrored), colour jitter; labels kept consistent with the image.
* :func:`pair_source`, :func:`frame_pair_source`: same/different-identity pairs (across poses)
  and two frames of one clip, as random-access sources for :func:`make_loader`.
* :func:`shard_batch_for_devices`, :func:`shard_batch_for_pmap`, :func:`prefetch_to_device`:
  host batches to global jax.Arrays over a mesh's data axis (multi-host) or pmap-style.
* :class:`CheckpointableIterator`, :func:`checkpointable_iterator`: the one protocol of batch
  iterators (``get_state``, ``set_state``, ``close``), given to any iterator once.

docs/pipeline.md describes the whole and its measured speed.
"""

from facejax.data.pipeline.augment import AugmentConfig, augment_example
from facejax.data.pipeline.checkpointable import CheckpointableIterator, checkpointable_iterator
from facejax.data.pipeline.flip import (
    MIRROR_PERMUTATION,
    mirror_camera_translation,
    mirror_points,
    mirror_pose,
    mirror_sh_coeffs,
)
from facejax.data.pipeline.frame_pairs import FramePairSource, frame_pair_source
from facejax.data.pipeline.identity_index import IdentityIndex, identity_index
from facejax.data.pipeline.loader import Loader, make_loader, stack_examples
from facejax.data.pipeline.pairs import PairSource, pair_source
from facejax.data.pipeline.placement import (
    data_sharding,
    shard_batch_for_devices,
    shard_batch_for_pmap,
)
from facejax.data.pipeline.prefetch import DevicePrefetcher, prefetch_to_device
from facejax.data.pipeline.sharding import Shard, process_shard, shard_range

__all__ = [
    "MIRROR_PERMUTATION",
    "AugmentConfig",
    "CheckpointableIterator",
    "DevicePrefetcher",
    "FramePairSource",
    "IdentityIndex",
    "Loader",
    "PairSource",
    "Shard",
    "augment_example",
    "checkpointable_iterator",
    "data_sharding",
    "frame_pair_source",
    "identity_index",
    "make_loader",
    "mirror_camera_translation",
    "mirror_points",
    "mirror_pose",
    "mirror_sh_coeffs",
    "pair_source",
    "prefetch_to_device",
    "process_shard",
    "shard_batch_for_devices",
    "shard_batch_for_pmap",
    "shard_range",
    "stack_examples",
]
