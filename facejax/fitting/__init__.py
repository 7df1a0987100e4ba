"""Fitting morphable models to images: landmarks (one image or many of one person) and pixels.

* :func:`fit_landmarks`: identity, expression, pose and camera from the 2D landmarks of single
  images, batched with ``jax.vmap``.
* :func:`fit_joint`: one identity shared by several images of a person, a pose and expression
  per image; batched over persons.
* :func:`fit_person`: a person's photos end to end (cameras from the image sizes, the joint
  landmark fit, optionally the photometric refinement); :func:`write_fit` writes its meshes,
  overlays and ``params.json``.
* :func:`refine_photometric`: refines a landmark fit through the facejax renderer (albedo and
  SH lighting, then shape), masked to the face.
* :func:`initial_pose`, :func:`image_camera`, :func:`image_cameras`: the closed-form start and
  the default camera (of one image, of many).
* :func:`draw_overlay`: a picture of a fit over its image.
* :class:`ContourCandidates` (:func:`contour_from_sides`, :func:`contour_from_vertex_lines`):
  jaw-line landmarks that slide along candidate lines as the head turns (``contour=`` of the
  fits).
* :func:`fitted_landmark_visibility`: the landmarks a fitted face leaves in view.

Everything is ``jax.jit``-compiled with the :class:`FitConfig` static and runs a fixed number
of iterations. The objective, priors, optimizers and conventions are described in
docs/fitting.md.
"""

from facejax.fitting.config import FIT_OPTIMIZERS, FitConfig, PhotometricConfig
from facejax.fitting.contour import (
    ContourCandidates,
    contour_candidates,
    contour_from_sides,
    contour_from_vertex_lines,
    nearest_candidates,
    outermost_candidates,
    outline_landmarks,
    synthetic_contour,
)
from facejax.fitting.fit_files import write_fit
from facejax.fitting.initialize import image_camera, image_cameras, initial_pose, orthographic_pose
from facejax.fitting.joint import fit_joint
from facejax.fitting.landmark_model import (
    LandmarkModel,
    landmark_model,
    project_landmarks,
    shape_landmarks,
)
from facejax.fitting.objective import (
    face_size,
    geman_mcclure,
    huber,
    landmark_data_term,
    landmark_error,
    robust_loss,
    squared,
)
from facejax.fitting.overlay import draw_overlay
from facejax.fitting.person import PersonImage, fit_person, read_person_image
from facejax.fitting.photometric import letterbox, photometric_fit, refine_photometric
from facejax.fitting.result import ROTATION_CONVENTION, FitResult, face_params
from facejax.fitting.single import fit_landmarks
from facejax.fitting.solve import minimize
from facejax.fitting.visibility import fitted_landmark_visibility

__all__ = [
    "ContourCandidates",
    "contour_candidates",
    "contour_from_sides",
    "contour_from_vertex_lines",
    "nearest_candidates",
    "outermost_candidates",
    "outline_landmarks",
    "synthetic_contour",
    "FIT_OPTIMIZERS",
    "ROTATION_CONVENTION",
    "FitConfig",
    "FitResult",
    "LandmarkModel",
    "PersonImage",
    "PhotometricConfig",
    "face_params",
    "draw_overlay",
    "face_size",
    "fit_joint",
    "fit_landmarks",
    "fit_person",
    "read_person_image",
    "fitted_landmark_visibility",
    "geman_mcclure",
    "huber",
    "image_camera",
    "image_cameras",
    "initial_pose",
    "landmark_data_term",
    "landmark_error",
    "landmark_model",
    "letterbox",
    "photometric_fit",
    "project_landmarks",
    "refine_photometric",
    "minimize",
    "orthographic_pose",
    "robust_loss",
    "shape_landmarks",
    "squared",
    "write_fit",
]
