"""Differentiable 3D morphable models: the model pytree and the functions over it.

Functions take an unbatched model and unbatched coefficients and are batched with
``jax.vmap`` over the coefficients (``in_axes=(None, 0, ...)``).
"""

from facejax.morphable.model import (
    NUM_IBUG_LANDMARKS,
    MorphableModel,
    Skinning,
    create_model,
    landmarks_from_vertices,
    to_device,
    truncate,
)

__all__ = [
    "NUM_IBUG_LANDMARKS",
    "MorphableModel",
    "Skinning",
    "create_model",
    "landmarks_from_vertices",
    "to_device",
    "truncate",
]
