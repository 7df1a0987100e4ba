"""The Siamese 3DMM regressor of Luo, Tu and Xie: a parameter regressor with an identity
classifier on its identity coefficients.

"Siamese" describes training, not the network: the two images of a pair go through this one
network (shared weights; in practice as one batch of ``2B`` images) and a contrastive loss
compares their identity coefficients. The network is a :class:`FaceParamRegressor` (identity
and expression coefficients in standard deviations, weak-perspective pose, optionally albedo
and lighting) whose identity coefficients also feed a linear classifier of the training
subjects (the identity loss beside the contrastive one). Decoded shapes and projected landmarks
come with the outputs, for the reconstruction losses and for evaluation.

References:
  Luo, Tu, Xie, "Learning Robust 3D Face Reconstruction and Discriminative Identity
  Representation" (2019).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
from flax import struct

from facejax import morphable
from facejax.nn.heads import classifier_scores
from facejax.nn.pose import DEFAULT_FILL, WeakPerspectivePose
from facejax.nn.regressor import FaceParamRegressor

Array = Any


@struct.dataclass
class SiameseOutputs:
    """What :class:`SiameseFaceModel` predicts for a batch of ``B`` images.

    Attributes:
      params: batched ``FaceParams`` ``[B]`` (the regressor's).
      identity_coeffs: ``[B, Ki]`` identity coefficients (standard deviations): the identity
        code that the contrastive loss compares and the recognition feature.
      expression_coeffs: ``[B, Ke]``.
      identity_shape: ``[B, V, 3]`` mm, the neutral face of ``identity_coeffs``.
      shape: ``[B, V, 3]`` mm, the face with its expression (model frame).
      landmarks_2d: ``[B, L, 2]`` ``(x, y)`` pixels of the model's landmarks on ``shape``.
      logits: ``[B, C]`` ``identity_coeffs @ W``, for a plain softmax.
      cosines: ``[B, C]`` cosines of the normalised coefficients and the normalised columns of
        ``W``, for a margin softmax.
      pose: the :class:`WeakPerspectivePose`.
    """

    params: morphable.FaceParams
    identity_coeffs: Array
    expression_coeffs: Array
    identity_shape: Array
    shape: Array
    landmarks_2d: Array
    logits: Array
    cosines: Array
    pose: WeakPerspectivePose


class SiameseFaceModel(nn.Module):
    """Images ``[B, H, W, C]`` + a morphable model -> :class:`SiameseOutputs`.

    Attributes:
      encoder: an image encoder (``facejax.nn.create_encoder``), ``[B, H, W, C] -> [B, F]``.
      num_classes: training subjects ``C`` of the identity classifier.
      predict_albedo, predict_lighting, hidden, fill: as :class:`FaceParamRegressor`.
    """

    encoder: nn.Module
    num_classes: int
    predict_albedo: bool = False
    predict_lighting: bool = False
    hidden: Sequence[int] = ()
    fill: float = DEFAULT_FILL

    @nn.compact
    def __call__(self, images, model: morphable.MorphableModel, *, train: bool) -> SiameseOutputs:
        """Args: images ``[B, H, W, C]``; model: the morphable model (a jit argument); train:
        BatchNorm batch statistics (apply with ``mutable=["batch_stats"]``) or running
        averages."""
        regressed = FaceParamRegressor(
            self.encoder,
            predict_albedo=self.predict_albedo,
            predict_lighting=self.predict_lighting,
            hidden=tuple(self.hidden),
            fill=self.fill,
            name="regressor",
        )(images, model, train=train)
        params = regressed.params
        identity, expression = params.identity, params.expression
        shape, identity_shape = jax.vmap(lambda a, b: morphable.composite_shape(model, a, b))(
            identity, expression
        )
        weights = self.param(
            "classifier", nn.initializers.lecun_normal(), (identity.shape[-1], self.num_classes)
        )
        logits, cosines = classifier_scores(identity, weights)
        landmarks_3d = jax.vmap(morphable.landmarks, in_axes=(None, 0))(model, shape)
        return SiameseOutputs(
            params=params,
            identity_coeffs=identity,
            expression_coeffs=expression,
            identity_shape=identity_shape,
            shape=shape,
            landmarks_2d=regressed.pose.project(landmarks_3d)[..., :2],
            logits=logits,
            cosines=cosines,
            pose=regressed.pose,
        )
