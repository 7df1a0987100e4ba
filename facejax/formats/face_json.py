"""JSON records of a fitted or predicted face: the one schema of ``facejax fit``'s params.json
and ``facejax reconstruct``'s ``<stem>.json``.

Angles are degrees ``{"pitch", "yaw", "roll"}`` with the name and description of their Euler
convention taken from ``facejax.geometry.EULER_CONVENTIONS``; lengths are millimetres; a
camera is recorded with its type and its intrinsics in pixels. Arrays are rounded to
``DIGITS`` decimals. docs/fitting.md describes the whole params.json.
"""

from __future__ import annotations

import numpy as np

from facejax import geometry

DIGITS = 6
UNITS = {
    "length": "mm",
    "angles": "degrees",
    "coefficients": "standard deviations",
    "image": "pixels, x right, y down, pixel centres at +0.5 (docs/conventions.md)",
}
POSE_FRAME = "x_camera = R @ x_model + t; camera at the origin looking down -z, y up"


def rounded(array, digits: int = DIGITS) -> list:
    """``array`` as (nested) lists of floats rounded to ``digits`` decimals."""
    return np.round(np.asarray(array, np.float64), digits).tolist()


def rotation_convention_json(convention: str) -> dict:
    """``{"rotation_convention": name, "rotation_convention_description": ...}``."""
    if convention not in geometry.EULER_CONVENTIONS:
        raise ValueError(f"unknown Euler convention {convention!r}")
    return {
        "rotation_convention": convention,
        "rotation_convention_description": geometry.EULER_CONVENTIONS[convention].description,
    }


def pose_degrees(angles) -> dict:
    """``(pitch, yaw, roll)`` radians ``[3]`` -> ``{"pitch", "yaw", "roll"}`` in degrees."""
    degrees = rounded(np.rad2deg(np.asarray(angles, np.float64)))
    return dict(zip(("pitch", "yaw", "roll"), degrees, strict=True))


def pose_json(angles, convention: str) -> dict:
    """``{"pose_degrees": ..., "rotation_convention": ...}`` of Euler angles ``[3]`` (radians)."""
    return {"pose_degrees": pose_degrees(angles), "rotation_convention": convention}


def camera_json(camera) -> dict:
    """A ``PerspectiveCamera`` or ``WeakPerspectiveCamera`` (unbatched), in pixels."""
    if isinstance(camera, geometry.PerspectiveCamera):
        return {
            "type": "perspective",
            "focal_px": rounded(camera.focal),
            "principal_point_px": rounded(camera.principal_point),
        }
    if isinstance(camera, geometry.WeakPerspectiveCamera):
        return {
            "type": "weak_perspective",
            "scale_px_per_mm": float(camera.scale),
            "translation_px": rounded(camera.translation),
        }
    raise TypeError(f"not a facejax camera: {type(camera).__name__}")


def face_json(params, *, lighting: bool = False) -> dict:
    """One image's ``FaceParams`` (unbatched): expression, pose, translation (mm), camera.

    Args:
      params: the face's parameters; the pose's convention is ``params.rotation_convention``.
      lighting: also record ``sh_coeffs`` (estimated by a photometric fit).
    """
    record = {
        "expression": rounded(params.expression),
        **pose_json(params.rotation, params.rotation_convention),
        "translation_mm": rounded(params.translation),
        "camera": camera_json(params.camera),
    }
    if lighting:
        record["sh_coeffs"] = rounded(params.sh_coeffs)
    return record
