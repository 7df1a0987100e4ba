"""The features of facejax's face datasets, shared by every builder (real and synthetic).

TensorFlow is not needed to build or read these datasets: images are stored as raw ``uint8``
tensors of a fixed size (``tfds.features.Image`` would need TensorFlow to encode), strings as
``Text`` (read back as ``bytes``), everything else as ``Tensor``. Build with
``file_format="array_record"`` and read with ``builder.as_data_source(split)``.

Names and meanings (coordinates as in docs/conventions.md: pixels, x right, y down, pixel
centres at +0.5; "crop" means the stored image):

=========================  =====================  =========  ==============================
feature                    shape                  dtype      meaning
=========================  =====================  =========  ==============================
``image``                  ``[S, S, 3]``          uint8      the face crop, RGB
``identity``               ``[]``                 int64      identity label (-1: unknown)
``identity_name``          ``[]``                 text       the dataset's name of the person
``image_path``             ``[]``                 text       source file, relative to manual_dir
``crop_transform``         ``[2, 3]``             float32    source image px -> crop px
``landmarks``              ``[68, 2]``            float32    iBUG 68 points, crop px
``has_landmarks``          ``[]``                 bool       False: ``landmarks`` are zeros
=========================  =====================  =========  ==============================

Clips (one example per video; ``T`` varies) replace ``image``/``image_path``/``crop_transform``/
``landmarks``/``has_landmarks`` by ``frames [T, S, S, 3]``, ``frame_paths [T]``,
``frame_indices [T]`` (int64, position in the source video), ``crop_transforms [T, 2, 3]``,
``landmarks [T, 68, 2]``, ``has_landmarks [T]`` and add ``clip_name``.

Fitted 3DMM parameters (300W-LP, AFLW2000-3D; the synthetic datasets have their own exact
ones): see :func:`fitted_3dmm_features`; as coefficients of a recipe's model
(``identity_coeffs``, ``expression_coeffs``, ``landmark_visibility``, ...):
``facejax.data.builders.threeddfa_targets``. Verification pairs: :func:`image_pair_features`.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

NUM_LANDMARKS = 68


def image_feature(crop_size: int) -> tfds.features.Tensor:
    """``[S, S, 3]`` uint8 RGB crop."""
    return tfds.features.Tensor(shape=(crop_size, crop_size, 3), dtype=np.uint8)


def clip_feature(crop_size: int) -> tfds.features.Tensor:
    """``[T, S, S, 3]`` uint8 RGB frames, T varying from clip to clip."""
    return tfds.features.Tensor(shape=(None, crop_size, crop_size, 3), dtype=np.uint8)


def identity_features() -> dict:
    """``identity`` (int64 label, -1 when the dataset has none) and ``identity_name``."""
    return {
        "identity": tfds.features.Tensor(shape=(), dtype=np.int64),
        "identity_name": tfds.features.Text(),
    }


def face_image_features(crop_size: int) -> dict:
    """Features of one face image (see the module table)."""
    return {
        "image": image_feature(crop_size),
        **identity_features(),
        "image_path": tfds.features.Text(),
        "crop_transform": tfds.features.Tensor(shape=(2, 3), dtype=np.float32),
        "landmarks": tfds.features.Tensor(shape=(NUM_LANDMARKS, 2), dtype=np.float32),
        "has_landmarks": tfds.features.Tensor(shape=(), dtype=np.bool_),
    }


def face_clip_features(crop_size: int) -> dict:
    """Features of one clip: frames of one person with per-frame crops and landmarks."""
    return {
        "frames": clip_feature(crop_size),
        **identity_features(),
        "clip_name": tfds.features.Text(),
        "frame_paths": tfds.features.Sequence(tfds.features.Text()),
        "frame_indices": tfds.features.Tensor(shape=(None,), dtype=np.int64),
        "crop_transforms": tfds.features.Tensor(shape=(None, 2, 3), dtype=np.float32),
        "landmarks": tfds.features.Tensor(shape=(None, NUM_LANDMARKS, 2), dtype=np.float32),
        "has_landmarks": tfds.features.Tensor(shape=(None,), dtype=np.bool_),
    }


def fitted_3dmm_features() -> dict:
    """3DDFA-style fitted parameters (300W-LP, AFLW2000-3D), camera carried into the crop.

    * ``pose`` ``[3]``: ``(pitch, yaw, roll)`` radians, Euler convention ``"3ddfa"`` of
      :func:`facejax.geometry.rotation_from_euler`, of the face *in the crop*.
    * ``camera_scale`` ``[]``, ``camera_translation`` ``[2]``: a
      :class:`facejax.geometry.WeakPerspectiveCamera` (crop pixels per mm, crop pixels) that,
      applied to ``rotation_from_euler(pose, "3ddfa") @ X`` for BFM vertices ``X`` in mm, gives
      the crop pixel positions.
    * ``pose_params`` ``[7]``: the file's ``Pose_Para`` as stored (pitch, yaw, roll, tx, ty, tz,
      scale) for the *source* image, 3DDFA units.
    * ``shape_params`` ``[199]``, ``expression_params`` ``[29]``, ``texture_params`` ``[199]``:
      ``Shape_Para``, ``Exp_Para``, ``Tex_Para`` as stored (raw coefficients of 3DDFA's BFM
      bases, not facejax standard-deviation units).
    """

    def vector(n):
        return tfds.features.Tensor(shape=(n,), dtype=np.float32)

    return {
        "pose": vector(3),
        "camera_scale": tfds.features.Tensor(shape=(), dtype=np.float32),
        "camera_translation": vector(2),
        "pose_params": vector(7),
        "shape_params": vector(199),
        "expression_params": vector(29),
        "texture_params": vector(199),
    }


def image_pair_features(crop_size: int) -> dict:
    """A verification pair: two crops, their identities, ``same`` and the protocol ``fold``."""
    features = {
        "same": tfds.features.Tensor(shape=(), dtype=np.bool_),
        "fold": tfds.features.Tensor(shape=(), dtype=np.int64),
    }
    for side in ("a", "b"):
        features[f"image_{side}"] = image_feature(crop_size)
        features[f"identity_{side}"] = tfds.features.Tensor(shape=(), dtype=np.int64)
        features[f"identity_name_{side}"] = tfds.features.Text()
        features[f"image_path_{side}"] = tfds.features.Text()
    return features


def clip_pair_features(crop_size: int) -> dict:
    """A verification pair of clips (YouTube Faces): frames of both, ``same`` and ``fold``."""
    features = {
        "same": tfds.features.Tensor(shape=(), dtype=np.bool_),
        "fold": tfds.features.Tensor(shape=(), dtype=np.int64),
    }
    for side in ("a", "b"):
        features[f"frames_{side}"] = clip_feature(crop_size)
        features[f"identity_{side}"] = tfds.features.Tensor(shape=(), dtype=np.int64)
        features[f"identity_name_{side}"] = tfds.features.Text()
        features[f"clip_name_{side}"] = tfds.features.Text()
    return features


def empty_landmarks() -> np.ndarray:
    """``[68, 2]`` float32 zeros, stored with ``has_landmarks=False``."""
    return np.zeros((NUM_LANDMARKS, 2), dtype=np.float32)
