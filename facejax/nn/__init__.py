"""Flax (linen) networks for face reconstruction and recognition: modules only.

No optimiser and no loss lives here (``facejax.losses``, ``facejax.train``). Parameters are
explicit pytrees and ``apply`` is a pure function; a morphable model is passed to ``apply`` as
an argument (a pytree of arrays), never stored in a module.

* encoders ``[B, H, W, C] -> [B, D]``: :class:`SmallCNN` (CPU runs), :class:`SpatialCNN`
  (CPU runs that regress geometry: keeps the spatial layout), :class:`KeypointCNN` (the
  spatial CNN with learned keypoints read by spatial soft-argmax), :class:`ResNet`
  (:data:`ResNet18`, :data:`ResNet34`, :data:`ResNet50`), by name with :func:`create_encoder`;
  BatchNorm takes the pmap ``axis_name`` for cross-device statistics;
* heads: :class:`ParamHead` (named coefficient vectors), :class:`PoseHead` (the
  weak-perspective pose of :mod:`facejax.nn.pose`);
* shape decoders: :class:`ShapeDecoder` (linear from a 3DMM basis, or an MLP);
* models: :class:`DisentangledFaceModel` (Liu et al., CVPR 2018) with
  :func:`identity_feature`, and :class:`FaceParamRegressor` (3DMM parameters, the base of the
  Siamese and cycle-consistent methods); :class:`SiameseFaceModel` (the regressor with an
  identity classifier on its identity coefficients, Luo et al.); :class:`MultiBranchFaceModel`
  (one branch per property on a shared backbone, Yang et al., IEEE TMM 2023) and its
  :class:`FaceCodes`.

See docs/models.md.
"""

from facejax.nn.decoders import ShapeDecoder, basis_kernel, basis_rms
from facejax.nn.disentangle import (
    DECODER_KINDS,
    FEATURE_KINDS,
    DisentangledFaceModel,
    DisentangledOutputs,
    identity_feature,
)
from facejax.nn.encoders import ENCODERS, create_encoder
from facejax.nn.heads import SMALL_INIT, ParamHead, PoseHead, classifier_scores
from facejax.nn.keypoint_cnn import KeypointCNN, sown_keypoints, spatial_soft_argmax
from facejax.nn.multi_branch import (
    BRANCHES,
    FaceCodes,
    MultiBranchFaceModel,
    branch_parameters,
)
from facejax.nn.pose import (
    DEFAULT_FILL,
    POSE_CODE_SIZE,
    WeakPerspectivePose,
    face_frame,
    weak_perspective_pose,
)
from facejax.nn.regressor import FaceParamRegressor, RegressorOutputs
from facejax.nn.resnet import BasicBlock, BottleneckBlock, ResNet, ResNet18, ResNet34, ResNet50
from facejax.nn.siamese import SiameseFaceModel, SiameseOutputs
from facejax.nn.small_cnn import SmallCNN
from facejax.nn.spatial_cnn import SpatialCNN

__all__ = [
    "BRANCHES",
    "DECODER_KINDS",
    "DEFAULT_FILL",
    "ENCODERS",
    "FEATURE_KINDS",
    "POSE_CODE_SIZE",
    "SMALL_INIT",
    "BasicBlock",
    "BottleneckBlock",
    "DisentangledFaceModel",
    "DisentangledOutputs",
    "FaceCodes",
    "FaceParamRegressor",
    "KeypointCNN",
    "MultiBranchFaceModel",
    "ParamHead",
    "PoseHead",
    "RegressorOutputs",
    "ResNet",
    "ResNet18",
    "ResNet34",
    "ResNet50",
    "ShapeDecoder",
    "SiameseFaceModel",
    "SiameseOutputs",
    "SmallCNN",
    "SpatialCNN",
    "WeakPerspectivePose",
    "basis_kernel",
    "classifier_scores",
    "basis_rms",
    "branch_parameters",
    "create_encoder",
    "face_frame",
    "identity_feature",
    "sown_keypoints",
    "spatial_soft_argmax",
    "weak_perspective_pose",
]
