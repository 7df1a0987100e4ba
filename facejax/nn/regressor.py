"""A 3DMM parameter regressor: image -> ``FaceParams``-compatible coefficients and pose.

The base of the Siamese method (Luo, Tu, Xie: identity coefficients compared across the two
images of a pair) and of the multi-branch cycle method (Yang et al.: identity, expression,
albedo, lighting and pose branches). Coefficients are in units of standard deviation
(docs/conventions.md) and start near zero, the mean face; the pose is the weak-perspective
parameterisation of :mod:`facejax.nn.pose`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from flax import struct

from facejax import lighting, morphable
from facejax.nn.heads import ParamHead, PoseHead
from facejax.nn.pose import DEFAULT_FILL, WeakPerspectivePose, face_frame
from facejax.numerics import at_least_float32

Array = Any


@struct.dataclass
class RegressorOutputs:
    """Attributes:
    params: batched ``FaceParams`` (every array with a leading ``[B]``), decodable with
      ``jax.vmap(facejax.morphable.decode, in_axes=(None, 0))(model, params)``.
    pose: the :class:`WeakPerspectivePose` the params' pose and camera come from.
    features: ``[B, F]`` encoder features (float32).
    """

    params: morphable.FaceParams
    pose: WeakPerspectivePose
    features: Array


class FaceParamRegressor(nn.Module):
    """Images ``[B, H, W, C]`` + a morphable model -> :class:`RegressorOutputs`.

    The numbers of coefficients are the model's (``num_identity``, ...), read at call time;
    the model is a call argument for the reasons given in :mod:`facejax.nn.disentangle`.

    Attributes:
      encoder: an image encoder called as ``encoder(images, train=...)`` -> ``[B, F]``.
      predict_albedo: regress albedo coefficients (else zeros: the mean albedo).
      predict_lighting: regress SH lighting, as a change from white ambient light (else
        ambient).
      hidden: hidden widths of the coefficient heads.
      fill: share of the image the mean face spans at a zero pose code.
    """

    encoder: nn.Module
    predict_albedo: bool = False
    predict_lighting: bool = False
    hidden: Sequence[int] = ()
    fill: float = DEFAULT_FILL

    @nn.compact
    def __call__(self, images, model: morphable.MorphableModel, *, train: bool):
        if images.ndim != 4:
            raise ValueError(f"FaceParamRegressor: images must be [B, H, W, C], got {images.shape}")
        features = at_least_float32(self.encoder(images, train=train))
        batch = features.shape[0]
        sizes = {"identity": model.num_identity, "expression": model.num_expression}
        if self.predict_albedo:
            sizes["albedo"] = model.num_albedo
        if self.predict_lighting:
            sizes["sh_coeffs"] = lighting.NUM_SH_COEFFS * 3
        coeffs = ParamHead(sizes, hidden=tuple(self.hidden), name="coefficients")(features)
        albedo = coeffs.get("albedo", jnp.zeros((batch, model.num_albedo), features.dtype))
        ambient = lighting.ambient(1.0, dtype=features.dtype)
        sh = jnp.broadcast_to(ambient, (batch,) + ambient.shape)
        if self.predict_lighting:
            sh = sh + coeffs["sh_coeffs"].reshape(sh.shape)
        anchor, extent = face_frame(model)
        pose = PoseHead(fill=self.fill, name="pose")(
            features, image_size=images.shape[1:3], anchor=anchor, extent=extent
        )
        params = pose.face_params(coeffs["identity"], coeffs["expression"], albedo, sh)
        return RegressorOutputs(params=params, pose=pose, features=features)
