"""A multi-branch reconstruction network: one shared backbone, one branch per face property.

Yang et al. (IEEE TMM 2023), "Learning 3D Face Reconstruction From the Cycle-Consistency of
Dynamic Faces": a CNN whose shared features feed five branches, identity, expression, albedo,
lighting and pose, each with its own hidden layer, so that a change of one property (a head
turn, a smile) has a branch of its own to go to. The cycle construction
(``facejax.recipes.cycle_construction``) swaps the pose or the expression of one frame's codes
for another's, which is why the codes stay apart here instead of being folded into
``FaceParams`` at once.

Coefficients are in units of standard deviation and start near zero (the mean face, white
ambient light); the pose is the weak-perspective parameterisation of :mod:`facejax.nn.pose`.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from flax import struct

from facejax import lighting, morphable
from facejax.nn.heads import ParamHead, PoseHead
from facejax.nn.pose import DEFAULT_FILL, WeakPerspectivePose, face_frame
from facejax.numerics import at_least_float32

Array = Any

BRANCHES = ("identity", "expression", "albedo", "lighting", "pose")


@struct.dataclass
class FaceCodes:
    """What the branches predict for a batch of ``B`` faces.

    Attributes:
      identity: ``[B, Ki]`` identity coefficients.
      expression: ``[B, Ke]`` expression coefficients.
      albedo: ``[B, Ka]`` albedo coefficients.
      sh_coeffs: ``[B, 9, 3]`` SH lighting in the camera frame (white ambient light plus the
        lighting branch's change).
      pose: the :class:`WeakPerspectivePose` of the pose branch.
      features: ``[B, F]`` shared backbone features (float32).
    """

    identity: Array
    expression: Array
    albedo: Array
    sh_coeffs: Array
    pose: WeakPerspectivePose
    features: Array

    def params(self) -> morphable.FaceParams:
        """Batched ``FaceParams`` ``[B]`` (for ``jax.vmap(morphable.decode, in_axes=(None, 0))``
        or ``facejax.render.render_face``)."""
        return self.pose.face_params(self.identity, self.expression, self.albedo, self.sh_coeffs)


class MultiBranchFaceModel(nn.Module):
    """Images ``[B, H, W, C]`` + a morphable model -> :class:`FaceCodes`.

    The model is a call argument (a pytree of arrays), never stored in the module; the numbers
    of coefficients are read from it at call time.

    Attributes:
      encoder: the shared backbone, called as ``encoder(images, train=...)`` -> ``[B, F]``.
      branch_width: units of each branch's hidden ReLU layer (0: linear branches).
      fill: share of the image the mean face spans at a zero pose code.
    """

    encoder: nn.Module
    branch_width: int = 128
    fill: float = DEFAULT_FILL

    @nn.compact
    def __call__(self, images, model: morphable.MorphableModel, *, train: bool) -> FaceCodes:
        if images.ndim != 4:
            raise ValueError(
                f"MultiBranchFaceModel: images must be [B, H, W, C], got {images.shape}"
            )
        features = at_least_float32(self.encoder(images, train=train))
        hidden = (self.branch_width,) if self.branch_width else ()
        sizes = {
            "identity": model.num_identity,
            "expression": model.num_expression,
            "albedo": model.num_albedo,
            "lighting": lighting.NUM_SH_COEFFS * 3,
        }
        codes = {
            name: ParamHead({name: size}, hidden=hidden, name=name)(features)[name]
            for name, size in sizes.items()
        }
        batch = features.shape[0]
        ambient = lighting.ambient(1.0, dtype=features.dtype)
        sh = jnp.broadcast_to(ambient, (batch,) + ambient.shape)
        sh = sh + codes["lighting"].reshape(sh.shape)
        pose_features = features
        if self.branch_width:
            pose_features = nn.relu(nn.Dense(self.branch_width, name="pose_hidden")(features))
        anchor, extent = face_frame(model)
        pose = PoseHead(fill=self.fill, name="pose")(
            pose_features, image_size=images.shape[1:3], anchor=anchor, extent=extent
        )
        return FaceCodes(
            identity=codes["identity"],
            expression=codes["expression"],
            albedo=codes["albedo"],
            sh_coeffs=sh,
            pose=pose,
            features=features,
        )


def branch_parameters(params) -> dict[str, Any]:
    """``{branch: its parameter subtree}`` of a :class:`MultiBranchFaceModel`'s ``params``
    (the pose branch: its hidden layer and its head together), for per-branch checks."""
    pose = {"head": params["pose"]}
    if "pose_hidden" in params:
        pose["hidden"] = params["pose_hidden"]
    return {
        "identity": params["identity"],
        "expression": params["expression"],
        "albedo": params["albedo"],
        "lighting": params["lighting"],
        "pose": pose,
    }
