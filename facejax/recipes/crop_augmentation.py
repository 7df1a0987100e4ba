"""The crop augmentation of recipes whose labels a crop does not change.

``config.data.zoom`` (a zoom in ``[1 - zoom, 1 + zoom]`` about the crop centre),
``config.data.max_shift`` (up to that fraction of the side along each axis) and
``config.data.color_jitter``; never a flip (a flip mirrors the face, and its coefficients
would have to be mirrored with it). The landmarks move with the image
(facejax.data.pipeline.augment), so a recipe may use it when its other targets are the same
for any crop: shapes compared with their translation and scale aligned away, a pose that is
predicted and never a target.
"""

from __future__ import annotations


def crop_augmentation(data_config, *, share_across_views: bool, passthrough=()):
    """The ``AugmentConfig`` of ``data_config`` (``zoom``, ``max_shift``, ``color_jitter``), or
    None when all three are 0.

    Args:
      data_config: ``config.data``; ``zoom`` and ``max_shift`` default to 0 when absent.
      share_across_views: one draw for both images of a pair (frames whose motion between them
        must be kept) or one each.
      passthrough: further feature names the augmentation carries through unchanged.

    Raises:
      ValueError: ``zoom`` outside ``[0, 1)``.
    """
    from facejax.data.pipeline import AugmentConfig

    zoom = data_config.get("zoom", 0.0)
    max_shift = data_config.get("max_shift", 0.0)
    if not 0 <= zoom < 1:  # the loader's own check would speak of crop_scale
        raise ValueError(f"config.data.zoom must be in [0, 1), got {zoom}")
    if not (zoom or max_shift or data_config.color_jitter):
        return None
    return AugmentConfig(
        crop_scale=(1.0 - zoom, 1.0 + zoom),
        max_shift=max_shift,
        flip_prob=0.0,
        color_jitter=data_config.color_jitter,
        share_across_views=share_across_views,
        passthrough=tuple(passthrough),
    )
