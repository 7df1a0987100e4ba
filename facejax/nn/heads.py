"""Small dense heads on encoder features: named parameter vectors, and the head pose.

Heads run in float32 (or wider) whatever the encoder's computation dtype: their outputs are
coefficients, millimetres and pixels, which bfloat16's 8-bit mantissa would round visibly, and
they cost nothing next to the encoder.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import flax.linen as nn

from facejax import geometry
from facejax.nn.pose import DEFAULT_FILL, POSE_CODE_SIZE, WeakPerspectivePose, weak_perspective_pose
from facejax.numerics import at_least_float32

Array = Any

# Output layers start small: coefficients near 0 decode to the mean face, a pose code near 0 to
# a frontal face in the middle of the image. Variance 1e-2 / fan_in: outputs ~0.1 x features.
SMALL_INIT = nn.initializers.variance_scaling(1e-2, "fan_in", "truncated_normal")


class ParamHead(nn.Module):
    """Features ``[B, F]`` -> ``{name: [B, size]}``, one dense output layer per name.

    Attributes:
      sizes: ``{name: size}`` (a mapping, stored as a tuple of pairs so the module stays
        hashable), e.g. ``{"identity": 80, "expression": 64}``.
      hidden: widths of shared ReLU layers before the outputs (``()``: linear heads).
      kernel_init: initialiser of the output layers (small by default, see ``SMALL_INIT``).
    """

    sizes: Any
    hidden: Sequence[int] = ()
    kernel_init: Callable = SMALL_INIT

    def __post_init__(self):
        # A dict attribute would make the module unhashable (Flax hashes modules).
        if isinstance(self.sizes, Mapping):
            object.__setattr__(self, "sizes", tuple((k, int(v)) for k, v in self.sizes.items()))
        super().__post_init__()

    @nn.compact
    def __call__(self, features) -> dict[str, Array]:
        x = at_least_float32(features)
        for i, width in enumerate(self.hidden):
            x = nn.relu(nn.Dense(width, name=f"hidden_{i}")(x))
        return {
            name: nn.Dense(size, kernel_init=self.kernel_init, name=name)(x)
            for name, size in self.sizes
        }


def classifier_scores(features, weights) -> tuple[Array, Array]:
    """``(logits, cosines)``, each ``[B, C]``, of features ``[B, D]`` and class weights
    ``[D, C]`` (a bias-free classifier): ``features @ weights`` for a plain softmax, and the
    cosines of the L2-normalised features and columns of ``weights`` for a margin softmax
    (ArcFace / CosFace)."""
    cosines = geometry.safe_normalize(features, axis=-1) @ geometry.safe_normalize(weights, axis=0)
    return features @ weights, cosines


class PoseHead(nn.Module):
    """Features ``[B, F]`` -> :class:`WeakPerspectivePose` (parameterisation: ``facejax.nn.pose``).

    Attributes:
      fill: share of the shorter image side the mean face spans at a zero code.
      kernel_init: initialiser of the 9-output layer (small: an untrained head gives a nearly
        frontal mean face centred in the image).
    """

    fill: float = DEFAULT_FILL
    kernel_init: Callable = SMALL_INIT

    @nn.compact
    def __call__(
        self, features, *, image_size: tuple[int, int], anchor, extent
    ) -> WeakPerspectivePose:
        """Args: features ``[B, F]``; image_size ``(H, W)``; anchor ``[3]`` and extent ``[]``
        of :func:`facejax.nn.pose.face_frame`."""
        code = nn.Dense(POSE_CODE_SIZE, kernel_init=self.kernel_init, name="code")(
            at_least_float32(features)
        )
        return weak_perspective_pose(
            code, image_size=image_size, anchor=anchor, extent=extent, fill=self.fill
        )
