"""The disentangled encoder-decoder of Liu et al. (CVPR 2018) for joint 3D face reconstruction
and recognition.

An encoder maps the image to features; dense heads give an **identity latent** ``[B, Di]``, a
**residual latent** ``[B, Dr]`` (everything that is not identity: expression and the rest) and
the pose (:mod:`facejax.nn.pose`). An identity decoder and a residual decoder map the latents to
shape offsets, and the face is the composite of :func:`facejax.morphable.composite_shape`::

    identity_shape = mean + identity_decoder(identity_latent)     (the neutral face)
    shape          = identity_shape + residual_decoder(residual_latent)

A classifier on the identity latent identifies the training subjects. At test time the identity
latent (or the identity shape) is the recognition feature (:func:`identity_feature`).

**Entangled ablation** (``entangled=True``): one latent ``z`` of ``Di + Dr`` units replaces the
two; it feeds *both* decoders and the classifier, and ``identity_latent`` and
``residual_latent`` in the outputs are both ``z``. Initialised from a model, the identity
decoder's rows ``0..Di`` hold the identity basis and the residual decoder's rows ``Di..`` the
expression basis (other rows zero), so the two variants start from the same function and differ
only in what training may mix: the disentangled model cannot let residual units into the
identity shape or the classifier.

**The morphable model is a call argument**, not a module attribute: a Flax module must be
hashable, and a model's arrays should be jit arguments (pytree leaves), never hashed constants.
Call ``module.apply(variables, images, model, train=...)``, or close over it with
``functools.partial(module.apply, model=model)``. The model gives the mean shape, the basis the
linear decoders start from, the landmark definition and the face framing of the pose.

Computation: the encoder runs in its own ``dtype`` (bfloat16 for mixed precision); the heads,
decoders, classifier and pose run in float32, and all parameters are float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct

from facejax import morphable
from facejax.nn.decoders import ShapeDecoder, basis_kernel, basis_rms
from facejax.nn.heads import SMALL_INIT, PoseHead, classifier_scores
from facejax.nn.pose import DEFAULT_FILL, WeakPerspectivePose, face_frame
from facejax.numerics import at_least_float32

Array = Any

DECODER_KINDS = ("linear", "mlp", "basis")
FEATURE_KINDS = ("latent", "shape")


@struct.dataclass
class DisentangledOutputs:
    """What :class:`DisentangledFaceModel` predicts for a batch of ``B`` images.

    Attributes:
      identity_latent: ``[B, Di]`` (``[B, Di + Dr]``, the single latent, when entangled).
      residual_latent: ``[B, Dr]`` (the same single latent when entangled).
      identity_offset: ``[B, V, 3]`` mm, the identity decoder's output.
      identity_shape: ``[B, V, 3]`` mm, ``mean + identity_offset``: the neutral face.
      shape: ``[B, V, 3]`` mm, ``identity_shape + residual offset``: the face in the image.
      landmarks_2d: ``[B, L, 2]`` ``(x, y)`` pixels of the model's landmarks on ``shape``,
        posed and projected with ``pose``.
      logits: ``[B, C]`` ``latent @ W``, for a plain softmax.
      cosines: ``[B, C]`` cosines of the L2-normalised latent and the normalised columns of
        ``W``, for a margin softmax (ArcFace/CosFace).
      pose: the :class:`WeakPerspectivePose`.
    """

    identity_latent: Array
    residual_latent: Array
    identity_offset: Array
    identity_shape: Array
    shape: Array
    landmarks_2d: Array
    logits: Array
    cosines: Array
    pose: WeakPerspectivePose


class DisentangledFaceModel(nn.Module):
    """Images ``[B, H, W, C]`` + a morphable model -> :class:`DisentangledOutputs`.

    Attributes:
      encoder: an image encoder (``facejax.nn.create_encoder``) called as
        ``encoder(images, train=...)`` -> ``[B, F]``.
      identity_dim: ``Di`` (Liu et al. use the identity basis size, e.g. 199 for BFM).
      residual_dim: ``Dr`` (e.g. the expression basis size).
      num_classes: training subjects ``C`` of the identification classifier.
      decoder: ``"linear"`` (a trainable dense layer), ``"mlp"``, or ``"basis"``: the morphable
        model's own bases, fixed (no parameters; the latents are coefficients in standard
        deviations, the first ``Ki`` identity units and ``Ke`` residual units used). A trainable
        decoder learns at the encoder's rate and leaves the basis early in training; the fixed
        one keeps every prediction a face of the model.
      mlp_hidden: hidden widths of MLP decoders.
      init_from_model: start linear decoders from the model's bases (latent units in standard
        deviations); otherwise random (see ``facejax.nn.decoders``).
      entangled: one latent for both decoders and the classifier (the ablation; see the
        module docstring).
      fill: share of the image the mean face spans at a zero pose code (``facejax.nn.pose``).
    """

    encoder: nn.Module
    identity_dim: int
    residual_dim: int
    num_classes: int
    decoder: str = "linear"
    mlp_hidden: Sequence[int] = (256,)
    init_from_model: bool = True
    entangled: bool = False
    fill: float = DEFAULT_FILL

    def setup(self):
        if self.decoder not in DECODER_KINDS:
            raise ValueError(
                f"DisentangledFaceModel: unknown decoder {self.decoder!r}; known: {DECODER_KINDS}"
            )
        if self.entangled:
            self.latent_head = nn.Dense(self.latent_dim, kernel_init=SMALL_INIT)
        else:
            self.identity_head = nn.Dense(self.identity_dim, kernel_init=SMALL_INIT)
            self.residual_head = nn.Dense(self.residual_dim, kernel_init=SMALL_INIT)
        if self.decoder != "basis":
            hidden = tuple(self.mlp_hidden) if self.decoder == "mlp" else ()
            self.identity_decoder = ShapeDecoder(hidden=hidden)
            self.residual_decoder = ShapeDecoder(hidden=hidden)
        self.pose_head = PoseHead(fill=self.fill)
        self.classifier = self.param(
            "classifier", nn.initializers.lecun_normal(), (self.latent_dim, self.num_classes)
        )

    @property
    def latent_dim(self) -> int:
        """Units of the latent the classifier sees: ``Di``, or ``Di + Dr`` when entangled."""
        return self.identity_dim + (self.residual_dim if self.entangled else 0)

    def encode(self, images, *, train: bool) -> tuple[Array, Array, Array]:
        """``(identity_latent, residual_latent, features)`` of images ``[B, H, W, C]``."""
        if images.ndim != 4:
            raise ValueError(
                f"DisentangledFaceModel: images must be [B, H, W, C], got {images.shape}"
            )
        features = at_least_float32(self.encoder(images, train=train))
        if self.entangled:
            latent = self.latent_head(features)
            return latent, latent, features
        return self.identity_head(features), self.residual_head(features), features

    def decode(self, identity_latent, residual_latent, model: morphable.MorphableModel):
        """``(shape, identity_shape, identity_offset)``, each ``[B, V, 3]`` mm, of the latents."""
        if self.decoder == "basis":
            return self._decode_with_bases(identity_latent, residual_latent, model)
        # Initial kernels and scales matter only when the parameters are created; skipping them
        # afterwards keeps an eager apply from building a [D, 3V] kernel it would not use.
        id_kernel = res_kernel = None
        id_scale = ex_scale = 1.0
        if self.is_initializing():
            if self.init_from_model and self.decoder == "linear":
                di, dr, d = self.identity_dim, self.residual_dim, self.latent_dim
                id_kernel = basis_kernel(
                    model.identity_basis, model.identity_std, d, 0, min(model.num_identity, di)
                )
                res_kernel = basis_kernel(
                    model.expression_basis,
                    model.expression_std,
                    residual_latent.shape[-1],
                    di if self.entangled else 0,
                    min(model.num_expression, dr),
                )
            id_scale = basis_rms(model.identity_basis, model.identity_std)
            ex_scale = basis_rms(model.expression_basis, model.expression_std)
            # A model without expressions still gets a residual decoder of a sensible size.
            ex_scale = jnp.where(ex_scale > 0, ex_scale, id_scale)
        num_vertices = model.num_vertices
        identity_offset = self.identity_decoder(
            identity_latent, num_vertices, init_kernel=id_kernel, output_scale=id_scale
        )
        residual_offset = self.residual_decoder(
            residual_latent, num_vertices, init_kernel=res_kernel, output_scale=ex_scale
        )

        def passthrough(offset):
            return offset

        # The decoders ran batched above; composite_shape assembles mean + parts per face, the
        # one definition of the disentangled face shared with the morphable model.
        shape, identity_shape = jax.vmap(
            lambda a, b: morphable.composite_shape(model, a, b, passthrough, passthrough)
        )(identity_offset, residual_offset)
        return shape, identity_shape, identity_offset

    def _decode_with_bases(self, identity_latent, residual_latent, model):
        ki, ke = model.num_identity, model.num_expression
        # Entangled: one latent, its identity units first, then the residual ones (the layout
        # basis_kernel gives the linear decoders).
        start = self.identity_dim if self.entangled else 0
        if self.identity_dim < ki or residual_latent.shape[-1] - start < ke:
            raise ValueError(
                f"DisentangledFaceModel: decoder='basis' needs identity_dim >= {ki} and "
                f"residual_dim >= {ke} (the model's components), got {self.identity_dim} and "
                f"{self.residual_dim}"
            )
        identity_coeffs = identity_latent[..., :ki]
        expression_coeffs = residual_latent[..., start : start + ke]
        shape, identity_shape = jax.vmap(lambda a, b: morphable.composite_shape(model, a, b))(
            identity_coeffs, expression_coeffs
        )
        return shape, identity_shape, identity_shape - model.mean_shape[None]

    def classify(self, latent) -> tuple[Array, Array]:
        """``(logits, cosines)``, each ``[B, C]``, of latents ``[B, latent_dim]``."""
        return classifier_scores(latent, self.classifier)

    def __call__(
        self, images, model: morphable.MorphableModel, *, train: bool
    ) -> DisentangledOutputs:
        """Args: images ``[B, H, W, C]``; model: the morphable model (unbatched, a jit argument);
        train: BatchNorm batch statistics (apply with ``mutable=["batch_stats"]``) or running
        averages."""
        identity_latent, residual_latent, features = self.encode(images, train=train)
        shape, identity_shape, identity_offset = self.decode(
            identity_latent, residual_latent, model
        )
        logits, cosines = self.classify(identity_latent)
        anchor, extent = face_frame(model)
        pose = self.pose_head(features, image_size=images.shape[1:3], anchor=anchor, extent=extent)
        landmarks_3d = jax.vmap(morphable.landmarks, in_axes=(None, 0))(model, shape)
        return DisentangledOutputs(
            identity_latent=identity_latent,
            residual_latent=residual_latent,
            identity_offset=identity_offset,
            identity_shape=identity_shape,
            shape=shape,
            landmarks_2d=pose.project(landmarks_3d)[..., :2],
            logits=logits,
            cosines=cosines,
            pose=pose,
        )


def identity_feature(outputs: DisentangledOutputs, kind: str = "latent") -> Array:
    """The face-recognition feature ``[B, D]`` of a batch, compared by cosine similarity.

    Args:
      outputs: the model's outputs.
      kind: ``"latent"``: the identity latent (``[B, Di]``; the single latent when entangled);
        ``"shape"``: the identity offset from the mean face, flattened (``[B, 3V]``; the mean is
        left out, since it would dominate every cosine).
    """
    if kind == "latent":
        return outputs.identity_latent
    if kind == "shape":
        offset = outputs.identity_offset
        return offset.reshape(offset.shape[0], -1)
    raise ValueError(f"identity_feature: unknown kind {kind!r}; known: {FEATURE_KINDS}")
