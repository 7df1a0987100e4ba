"""Per-element losses for training face models.

optax's convention: every loss returns one value per example (``[B]``, or ``[...]`` for any
leading batch shape) and never averages over the batch; the training step weights and averages.
Losses are computed in float32 even for bfloat16 inputs, and their values and gradients stay
finite at the usual singular points (an empty mask, all landmarks hidden, a cosine of exactly 1,
identical vectors).

* identification: :func:`softmax_cross_entropy_with_integer_labels`, :func:`margin_logits`,
  :func:`margin_softmax_loss` (ArcFace, CosFace);
* Siamese: :func:`contrastive_loss` (Hadsell et al. 2006);
* geometry: :func:`squared_vertex_error`, :func:`mean_vertex_distance`, :func:`landmark_loss`
  (optionally robust), :func:`scale_aligned_squared_error` (shape up to position and size),
  :func:`similarity_aligned_landmark_loss` (2D landmark shape up to an in-plane similarity);
* rendering: :func:`photometric_loss`;
* cycles: :func:`cycle_consistency_loss`; within a clip: :func:`clip_consistency_loss`;
* priors: :func:`coefficient_prior`;
* the masked mean they share: :func:`masked_mean`.

Deprecated (for one release, with a DeprecationWarning): ``vertex_loss`` (its ``kind="l2"`` was
a Euclidean distance, not optax's half squared error) and ``softmax_cross_entropy`` (integer
labels, where optax's function of that name takes one-hot ones).
"""

from facejax.losses.aligned import (
    scale_aligned_squared_error,
    similarity_aligned_landmark_loss,
)
from facejax.losses.consistency import clip_consistency_loss
from facejax.losses.contrastive import DISTANCES, contrastive_loss, pair_distance
from facejax.losses.cycle import CYCLE_KINDS, cycle_consistency_loss
from facejax.losses.identification import (
    DEFAULT_MARGINS,
    DEFAULT_SCALE,
    MARGIN_KINDS,
    margin_logits,
    margin_softmax_loss,
    softmax_cross_entropy,
    softmax_cross_entropy_with_integer_labels,
)
from facejax.losses.masked import masked_mean
from facejax.losses.photometric import PHOTOMETRIC_KINDS, photometric_loss, pixel_distance
from facejax.losses.prior import coefficient_prior
from facejax.losses.reconstruction import (
    ROBUST_KINDS,
    VERTEX_KINDS,
    landmark_loss,
    mean_vertex_distance,
    robust_penalty,
    squared_vertex_error,
    vertex_loss,
)

__all__ = [
    "CYCLE_KINDS",
    "DEFAULT_MARGINS",
    "DEFAULT_SCALE",
    "DISTANCES",
    "MARGIN_KINDS",
    "PHOTOMETRIC_KINDS",
    "ROBUST_KINDS",
    "VERTEX_KINDS",
    "clip_consistency_loss",
    "coefficient_prior",
    "contrastive_loss",
    "cycle_consistency_loss",
    "landmark_loss",
    "margin_logits",
    "margin_softmax_loss",
    "masked_mean",
    "mean_vertex_distance",
    "pair_distance",
    "photometric_loss",
    "pixel_distance",
    "robust_penalty",
    "scale_aligned_squared_error",
    "similarity_aligned_landmark_loss",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
    "squared_vertex_error",
    "vertex_loss",
]
