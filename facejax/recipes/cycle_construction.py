"""The inject / re-encode / reverse cycle of Yang et al. (IEEE TMM 2023), as pure functions.

"Learning 3D Face Reconstruction From the Cycle-Consistency of Dynamic Faces": from one image,
a head turn and a change of expression move the same pixels, and a network can confuse them.
Two frames ``a`` and ``b`` of one clip show the same person under another pose and expression.
Their codes (:class:`facejax.nn.FaceCodes`) give a *change*, ``b``'s pose relative to ``a``'s
(or ``b``'s expression relative to ``a``'s), which is

1. **injected** into ``a``'s codes (``a``'s identity, albedo and lighting with ``b``'s pose, or
   with ``b``'s expression),
2. **rendered** (``facejax.render``) and composited over frame ``a`` with the rendered mask,
3. **re-encoded** by the network (``encode``),
4. **reversed**: the injected change is taken back out of the re-encoded codes,
5. **rendered back** over frame ``a``.

If the network reads the injected image as what was rendered, the reversed codes are ``a``'s and
the image rendered back is ``a``'s own rendering: the losses ask for the re-encoded codes to
equal the injected ones and for the image rendered back to reproduce frame ``a``
(``facejax.recipes.cycle``). Every step is differentiable (the rasterizer's visibility aside),
so gradients reach every branch through the renderer.

A pose change is ``(rotation R_b R_a^T, log(s_b / s_a), image shift t_b - t_a)`` of the
weak-perspective pose (:mod:`facejax.nn.pose`): applied to ``a``'s pose it gives ``b``'s exactly,
and its inverse undoes it. An expression change is the coefficient difference ``e_b - e_a``.

The network is passed in as ``encode``, a function from images to codes, so the cycle is tested
with an exact encoder and trained with a Flax network alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from facejax import geometry, morphable
from facejax.nn import FaceCodes, WeakPerspectivePose, face_frame
from facejax.render import interpolate, render_face

Array = Any
Encoder = Callable[[Array], FaceCodes]


@struct.dataclass
class PoseChange:
    """A change of weak-perspective pose of ``B`` faces.

    Attributes:
      rotation: ``[B, 3, 3]`` rotation applied after the face's own (``R_b R_a^T``).
      log_scale: ``[B]`` change of the log scale (``log s_b - log s_a``).
      shift: ``[B, 2]`` pixels the face centre moves (``t_b - t_a``).
    """

    rotation: Array
    log_scale: Array
    shift: Array


def pose_change(start: WeakPerspectivePose, end: WeakPerspectivePose) -> PoseChange:
    """The change that takes the pose ``start`` to ``end`` (both batched ``[B]``)."""
    return PoseChange(
        rotation=jnp.einsum("bij,bkj->bik", end.rotation, start.rotation),
        log_scale=jnp.log(end.scale) - jnp.log(start.scale),
        shift=end.image_translation - start.image_translation,
    )


def invert_pose_change(change: PoseChange) -> PoseChange:
    """The change that undoes ``change``."""
    return PoseChange(
        rotation=jnp.swapaxes(change.rotation, -1, -2),
        log_scale=-change.log_scale,
        shift=-change.shift,
    )


def apply_pose_change(pose: WeakPerspectivePose, change: PoseChange, anchor) -> WeakPerspectivePose:
    """``pose`` moved by ``change``: rotated about ``anchor`` ``[3]`` (the face centre of
    :func:`facejax.nn.face_frame`, mm), rescaled and shifted in the image."""
    rotation = jnp.einsum("bij,bjk->bik", change.rotation, pose.rotation)
    return WeakPerspectivePose(
        rotation=rotation,
        angles=geometry.euler_from_rotation(rotation),
        translation=-jnp.einsum("bij,j->bi", rotation, jnp.asarray(anchor, rotation.dtype)),
        scale=pose.scale * jnp.exp(change.log_scale),
        image_translation=pose.image_translation + change.shift,
    )


@struct.dataclass
class FaceImages:
    """Faces of :class:`~facejax.nn.FaceCodes` rendered over backgrounds.

    Attributes:
      image: ``[B, H, W, 3]`` the shaded faces composited over the backgrounds.
      mask: ``[B, H, W]`` 1 where a face covers the pixel.
      face_mask: ``[B, H, W]`` ``mask`` times the model's face region (``face_mask``,
        interpolated; all of ``mask`` for a model without one): the pixels a photometric loss
        compares.
      landmarks: ``[B, L, 2]`` projected landmarks, pixels.
    """

    image: Array
    mask: Array
    face_mask: Array
    landmarks: Array


def render_codes(model: morphable.MorphableModel, codes: FaceCodes, backgrounds) -> FaceImages:
    """Renders ``codes`` (``[B]`` faces) over ``backgrounds`` ``[B, H, W, 3]`` (floats, [0, 1])."""
    height, width = backgrounds.shape[1:3]
    region = model.face_mask
    if region is None:
        region = jnp.ones(model.mean_shape.shape[:1])

    def one(params, background):
        rendering = render_face(model, params, height, width, background=background)
        weights = interpolate(
            rendering.fragments, model.triangles, jnp.asarray(region, background.dtype)[:, None]
        )[..., 0]
        return rendering.image, rendering.mask, rendering.mask * weights, rendering.landmarks_2d

    image, mask, face_mask, landmarks = jax.vmap(one)(codes.params(), backgrounds)
    return FaceImages(image=image, mask=mask, face_mask=face_mask, landmarks=landmarks[..., :2])


def inject_pose(model, codes_a: FaceCodes, change: PoseChange) -> FaceCodes:
    """``a``'s codes with its pose moved by ``change``."""
    anchor, _ = face_frame(model)
    return codes_a.replace(pose=apply_pose_change(codes_a.pose, change, anchor))


def inject_expression(codes_a: FaceCodes, change) -> FaceCodes:
    """``a``'s codes with ``change`` ``[B, Ke]`` added to its expression."""
    return codes_a.replace(expression=codes_a.expression + change)


@struct.dataclass
class Cycle:
    """One pass around the cycle (module docstring), each stage kept for the losses.

    Attributes:
      injected: ``a``'s codes with the change injected (what was rendered).
      injected_images: their rendering over frame ``a``.
      reencoded: the network's codes of ``injected_images.image``.
      reversed: ``reencoded`` with the injected change taken back out.
      reversed_images: their rendering over frame ``a`` (should reproduce frame ``a``).
    """

    injected: FaceCodes
    injected_images: FaceImages
    reencoded: FaceCodes
    reversed: FaceCodes
    reversed_images: FaceImages


def _cycle(encode, model, injected, image_a, reverse) -> Cycle:
    injected_images = render_codes(model, injected, image_a)
    reencoded = encode(injected_images.image)
    reversed_codes = reverse(reencoded)
    return Cycle(
        injected=injected,
        injected_images=injected_images,
        reencoded=reencoded,
        reversed=reversed_codes,
        reversed_images=render_codes(model, reversed_codes, image_a),
    )


def pose_cycle(encode: Encoder, model, codes_a: FaceCodes, codes_b: FaceCodes, image_a) -> Cycle:
    """The pose cycle: ``a`` with ``b``'s pose, re-encoded, turned back by the same change.

    Args:
      encode: images ``[B, H, W, 3]`` (floats in [0, 1]) -> :class:`~facejax.nn.FaceCodes`.
      model: the morphable model.
      codes_a, codes_b: the codes of frames ``a`` and ``b`` (``[B]``).
      image_a: ``[B, H, W, 3]`` frame ``a`` (floats in [0, 1]), the background of the renders.

    Returns:
      The :class:`Cycle`.
    """
    anchor, _ = face_frame(model)
    change = pose_change(codes_a.pose, codes_b.pose)
    back = invert_pose_change(change)

    def reverse(codes):
        return codes.replace(pose=apply_pose_change(codes.pose, back, anchor))

    return _cycle(encode, model, inject_pose(model, codes_a, change), image_a, reverse)


def expression_cycle(
    encode: Encoder, model, codes_a: FaceCodes, codes_b: FaceCodes, image_a
) -> Cycle:
    """The expression cycle: ``a`` with ``b``'s expression, re-encoded, the expression change
    subtracted again. Arguments as for :func:`pose_cycle`."""
    change = codes_b.expression - codes_a.expression

    def reverse(codes):
        return inject_expression(codes, -change)

    return _cycle(encode, model, inject_expression(codes_a, change), image_a, reverse)


def code_vector(codes: FaceCodes, image_size: int) -> Array:
    """``[B, K]`` every code of ``codes`` in one vector, for the code loss of the cycle.

    Coefficients (identity, expression, albedo) as they are, the SH lighting flattened, the pose
    as its rotation matrix (9, continuous where Euler angles are not), its log scale and its
    image position in units of the image side ``image_size``: every entry is of order one.
    """
    batch = codes.identity.shape[0]
    pose = codes.pose
    return jnp.concatenate(
        [
            codes.identity,
            codes.expression,
            codes.albedo,
            codes.sh_coeffs.reshape(batch, -1),
            pose.rotation.reshape(batch, 9),
            jnp.log(pose.scale)[:, None],
            pose.image_translation / image_size,
        ],
        axis=-1,
    )
