"""3DDFA-style fitted 3DMM annotations (300W-LP, AFLW2000-3D) and their camera in a crop.

Each image ``name.jpg`` has a MATLAB file ``name.mat`` with (shapes as MATLAB stores them):
``Pose_Para [1, 7]`` = pitch, yaw, roll (radians), tx, ty, tz, scale; ``Shape_Para [199, 1]``;
``Exp_Para [29, 1]``; ``Tex_Para [199, 1]``; ``Illum_Para [1, 10]``; ``Color_Para [1, 7]``;
``roi [1, 4]``; and landmarks (``pt2d [2, 68]`` in 300W-LP, ``pt3d_68 [3, 68]`` in AFLW2000-3D).

3DDFA places a face with ``s * R(pitch, yaw, roll) @ X + t3d`` (``R`` of the ``"3ddfa"`` Euler
convention in ``facejax.geometry``, ``X`` BFM 2009 vertices in the model's micrometres) in an
image frame with 1-based columns and y *up*: the 1-based row is ``height + 1 - y``. In facejax
pixel coordinates that is a ``WeakPerspectiveCamera`` with scale ``1000 s`` pixels per mm (facejax
reads BFM in mm) and translation ``(tx - 0.5, height + 0.5 - ty)``, applied to ``R @ X_mm``
(see ``facejax.geometry.rotation_from_euler``). :func:`fitted_example` carries that camera into
the crop (``facejax.data.crop.crop_weak_perspective``), so stored landmarks, pose and camera
agree in crop pixels. :func:`read_fitted_example` reads one image and its ``.mat`` that way;
:func:`fitted_configs` and :func:`fitted_features` are what both datasets' builders declare.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os

import numpy as np

from facejax.data import crop as crops
from facejax.data import features
from facejax.data.builders.face_crops import FaceCropConfig, crop_face
from facejax.data.manual_files import BadExampleError, read_face_landmarks, read_rgb_image
from facejax.formats.matlab import load_mat

POSE_CONVENTION = "3ddfa"
HOMEPAGE = "http://www.cbsr.ia.ac.cn/users/xiangyuzhu/projects/3DDFA/main.htm"
# 3DDFA's BFM is in micrometres, facejax models in millimetres.
MODEL_UNITS_PER_MM = 1000.0
_SIZES = {"Pose_Para": 7, "Shape_Para": 199, "Exp_Para": 29, "Tex_Para": 199}
_NAMES = {
    "Pose_Para": "pose_params",
    "Shape_Para": "shape_params",
    "Exp_Para": "expression_params",
    "Tex_Para": "texture_params",
}


@dataclasses.dataclass(eq=False)
class FittedCropConfig(FaceCropConfig):
    """Options of a 3DDFA-fitted dataset (crop options: :class:`FaceCropConfig`).

    Attributes:
      model: ``None`` (the fit as stored), or a ``facejax.load_model`` source of 3DDFA's BFM
        (``facejax.formats.threeddfa_params``): the examples then also carry the fit as that
        model's coefficients (``facejax.data.builders.threeddfa_targets``). A recipe sets it
        with the builder's ``config_for``.
      model_format: its format when the file does not tell.
    """

    model: str | None = None
    model_format: str | None = None


def read_fit(path) -> dict[str, np.ndarray]:
    """Reads the fitted parameters of one image.

    Returns:
      ``{"pose_params" [7], "shape_params" [199], "expression_params" [29],
      "texture_params" [199]}`` float32, as stored.

    Raises:
      BadExampleError: naming the file for a missing variable, a wrong size, a non-finite value
      or an unreadable file.
    """
    try:
        data = load_mat(path, list(_SIZES))
    except (ValueError, OSError) as err:
        raise BadExampleError(f"{path}: unreadable .mat ({err})") from err
    fit = {}
    for key, size in _SIZES.items():
        if key not in data:
            raise BadExampleError(f"{path}: variable '{key}' missing")
        value = np.asarray(data[key], dtype=np.float64).reshape(-1)
        if value.size != size or not np.all(np.isfinite(value)):
            raise BadExampleError(
                f"{path}: '{key}' must be {size} finite numbers, got {value.size}"
            )
        fit[_NAMES[key]] = value.astype(np.float32)
    return fit


@functools.cache
def _rotation_functions():
    # Imported here so that reading a dataset does not need JAX: only rotated crops do.
    import jax

    from facejax.geometry import euler_from_rotation, rotation_from_euler

    to_matrix = jax.jit(lambda a: rotation_from_euler(a, POSE_CONVENTION))
    to_angles = jax.jit(lambda r: euler_from_rotation(r, POSE_CONVENTION))
    return to_matrix, to_angles


def camera_in_crop(pose_params, image_height: int, transform) -> dict[str, np.ndarray]:
    """The pose and weak-perspective camera of a fitted face, in crop pixels.

    Args:
      pose_params: ``[7]`` ``Pose_Para`` of the source image.
      image_height: source image height in pixels.
      transform: ``[2, 3]`` crop transform.

    Returns:
      ``{"pose" [3], "camera_scale" [], "camera_translation" [2]}`` float32 (see
      ``facejax.data.features.fitted_3dmm_features``).
    """
    pose_params = np.asarray(pose_params, dtype=np.float64)
    angles = pose_params[:3]
    scale = pose_params[6] * MODEL_UNITS_PER_MM
    translation = np.array([pose_params[3] - 0.5, image_height + 0.5 - pose_params[4]])
    _, theta = crops.transform_scale_angle(transform)
    rotated = not math.isclose(theta, 0.0, abs_tol=1e-12)
    if rotated:
        to_matrix, to_angles = _rotation_functions()
        rotation = np.asarray(to_matrix(angles), dtype=np.float64)
    else:
        # A box crop does not rotate: the angles stay the file's, bit for bit (and need no JAX).
        rotation = np.eye(3)
    rotation, scale, translation = crops.crop_weak_perspective(
        transform, rotation, scale, translation
    )
    pose = np.asarray(to_angles(rotation), dtype=np.float64) if rotated else angles
    return {
        "pose": np.asarray(pose, dtype=np.float32),
        "camera_scale": np.float32(scale),
        "camera_translation": translation.astype(np.float32),
    }


def fitted_example(image, fit: dict, landmarks, config: FaceCropConfig) -> dict:
    """Crops a fitted face and returns its crop, landmarks, camera and parameters.

    Args:
      image: the source Pillow image.
      fit: :func:`read_fit` output.
      landmarks: ``[68, 2]`` landmarks in source image pixels (facejax convention).
      config: crop options.

    Returns:
      The crop features (``facejax.data.builders.face_crops.crop_face``), the camera
      (:func:`camera_in_crop`) and the raw parameters of ``fit``.
    """
    cropped = crop_face(image, config, landmarks=landmarks)
    transform = cropped["crop_transform"].astype(np.float64)
    camera = camera_in_crop(fit["pose_params"], image.height, transform)
    return {**cropped, **camera, **fit}


def read_fitted_example(
    image_path, mat_path, config: FaceCropConfig, *, landmark_field: str, depth: bool = False
) -> tuple[dict, np.ndarray]:
    """Reads one image and its ``.mat`` (fit, 68 landmarks) and crops it (:func:`fitted_example`).

    Args:
      image_path: the image.
      mat_path: its ``.mat`` file.
      config: crop options.
      landmark_field: the ``.mat`` variable of the 68 landmarks (``pt2d``, ``pt3d_68``).
      depth: whether that variable has a third (depth) row to keep.

    Returns:
      The :func:`fitted_example` features, and the ``[68, 2]`` (``[68, 3]`` with ``depth``)
      landmarks in source image pixels.

    Raises:
      BadExampleError: naming the file for a missing ``.mat`` or anything unreadable.
    """
    if not os.path.isfile(mat_path):
        raise BadExampleError(f"{mat_path}: missing")
    image = read_rgb_image(image_path)
    fit = read_fit(mat_path)
    points = read_face_landmarks(mat_path, (68,), field=landmark_field, depth=depth)
    return fitted_example(image, fit, points[:, :2], config), points


def fitted_configs(config_cls) -> list[FaceCropConfig]:
    """The builder configs of a 3DDFA-fitted dataset: box crops that keep the file's pose
    (``default``) and crops aligned to the 5-point template (``aligned``)."""
    return [
        config_cls(name="default", description="112x112 box crops (pose unchanged)."),
        config_cls(
            name="aligned",
            alignment="template",
            description="112x112 crops aligned to the 5-point template; pose rotated with them.",
        ),
    ]


def fitted_features(config: FaceCropConfig) -> dict:
    """The features every 3DDFA-fitted dataset stores: the face crop and the fit in it."""
    return {
        **features.face_image_features(config.crop_size),
        **features.fitted_3dmm_features(),
    }
