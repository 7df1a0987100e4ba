"""Pairs of frames of one clip, as a random-access source (the cycle-consistency recipe).

Pair ``i`` reads clip ``i mod len(clips)`` and, from its own ``np.random.Generator`` seeded by
``(seed, i)``, draws a gap ``g`` uniformly in ``[min_gap, min(max_gap, T - 1)]`` (positions in the
stored clip), a first frame ``t`` uniformly in ``[0, T - 1 - g]``, and the order: the pair is
``(t, t + g)`` or ``(t + g, t)`` with equal probability. A clip of a single frame gives that frame
twice (``frame_gap`` 0), so that a short clip does not stop training; mask it out with
``frame_gap != 0`` if it matters.

Per-frame features become one value per side, named as the image features (so that augmentation
and losses treat a frame pair like an image pair): ``frames -> image_a/_b``, ``crop_transforms ->
crop_transform_a/_b``, ``frame_paths -> frame_path_a/_b``, ``frame_indices -> frame_index_a/_b``,
``landmarks`` and ``has_landmarks -> landmarks_a/_b``, ``has_landmarks_a/_b``. Further per-frame
features (a synthetic clip's ``pose [T, 3]``, say) are named in ``per_frame`` and keep their name
(``pose_a``, ``pose_b``). Everything else (``identity``, ``identity_name``, ``clip_name``) is the
clip's and appears once. Added: ``position_a`` and ``position_b`` (int64, the two frames'
positions in the stored clip), ``frame_gap`` (int64, ``position_b - position_a``) and
``clip_index`` (int64).

Reading a pair reads (decodes) the whole clip: with ``T`` frames of ``S x S`` pixels that is
``T / 2`` times the pixels of the pair. Keep ``max_frames`` of the clip builders modest.
"""

from __future__ import annotations

import numpy as np

# Per-frame features of facejax.data.features.face_clip_features and their per-image names.
CLIP_FRAME_FEATURES = {
    "frames": "image",
    "crop_transforms": "crop_transform",
    "frame_paths": "frame_path",
    "frame_indices": "frame_index",
    "landmarks": "landmarks",
    "has_landmarks": "has_landmarks",
}


class FramePairSource:
    """Random-access frame pairs of clips (see the module docstring). Build with
    :func:`frame_pair_source`."""

    def __init__(
        self,
        clip_source,
        *,
        max_gap: int,
        seed: int,
        min_gap: int,
        num_pairs: int,
        per_frame: dict[str, str],
    ):
        self.clip_source = clip_source
        self.max_gap = int(max_gap)
        self.min_gap = int(min_gap)
        self.seed = int(seed)
        self.num_pairs = int(num_pairs)
        self.per_frame = dict(per_frame)

    def __len__(self) -> int:
        return self.num_pairs

    def __repr__(self) -> str:
        return (
            f"FramePairSource({len(self)} pairs of {len(self.clip_source)} clips, seed={self.seed}"
            f", gap in [{self.min_gap}, {self.max_gap}])"
        )

    def frames(self, i: int, num_frames: int) -> tuple[int, int]:
        """Positions ``(t_a, t_b)`` of pair ``i`` in a clip of ``num_frames`` frames."""
        if not 0 <= i < self.num_pairs:
            raise IndexError(f"FramePairSource: pair {i} out of range [0, {self.num_pairs})")
        if num_frames < 1:
            raise ValueError(f"FramePairSource: clip of pair {i} has no frames")
        rng = np.random.default_rng([self.seed, i])
        if num_frames == 1:
            return 0, 0
        high = min(self.max_gap, num_frames - 1)
        gap = int(rng.integers(min(self.min_gap, high), high + 1))
        start = int(rng.integers(0, num_frames - gap))
        if rng.random() < 0.5:
            return start + gap, start
        return start, start + gap

    def __getitem__(self, i: int) -> dict:
        i = int(i)
        clip_index = i % len(self.clip_source)
        clip = self.clip_source[clip_index]
        if "frames" not in clip:
            raise ValueError(
                f"frame_pair_source: clip {clip_index} has no 'frames' feature (it has "
                f"{sorted(clip)})"
            )
        num_frames = len(clip["frames"])
        t_a, t_b = self.frames(i, num_frames)
        pair = {}
        for name, value in clip.items():
            if name not in self.per_frame:
                pair[name] = value
                continue
            if len(value) != num_frames:
                raise ValueError(
                    f"frame_pair_source: per-frame feature {name!r} of clip {clip_index} has "
                    f"{len(value)} entries for {num_frames} frames"
                )
            new_name = self.per_frame[name]
            pair[f"{new_name}_a"] = np.asarray(value[t_a])
            pair[f"{new_name}_b"] = np.asarray(value[t_b])
        pair["position_a"], pair["position_b"] = np.int64(t_a), np.int64(t_b)
        pair["frame_gap"] = np.int64(t_b - t_a)
        pair["clip_index"] = np.int64(clip_index)
        return pair


def frame_pair_source(
    clip_source,
    *,
    max_gap: int,
    seed: int,
    min_gap: int = 1,
    num_pairs: int | None = None,
    per_frame=(),
) -> FramePairSource:
    """Two frames (with their landmarks and crops) of one clip per example.

    Args:
      clip_source: random-access clips (``facejax.data.features.face_clip_features``).
      max_gap: the largest distance between the two frames, in positions of the stored clip.
      seed: the seed of the frame choice.
      min_gap: the smallest distance (clips shorter than ``min_gap + 1`` frames use their
        largest possible gap).
      num_pairs: the length of the source (default: one pair per clip; more pairs cycle over
        the clips, each with its own frames).
      per_frame: further per-frame features (leading axis ``T``) to split between the two sides.

    Returns:
      A :class:`FramePairSource`.
    """
    if min_gap < 1 or max_gap < min_gap:
        raise ValueError(
            f"frame_pair_source: need 1 <= min_gap <= max_gap, got {min_gap}, {max_gap}"
        )
    if len(clip_source) == 0:
        raise ValueError("frame_pair_source: the clip source is empty")
    num_pairs = len(clip_source) if num_pairs is None else int(num_pairs)
    if num_pairs < 1:
        raise ValueError(f"frame_pair_source: num_pairs must be >= 1, got {num_pairs}")
    names = dict(CLIP_FRAME_FEATURES)
    names.update({name: name for name in per_frame})
    return FramePairSource(
        clip_source,
        max_gap=max_gap,
        seed=seed,
        min_gap=min_gap,
        num_pairs=num_pairs,
        per_frame=names,
    )
