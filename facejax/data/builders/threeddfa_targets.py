"""300W-LP / AFLW2000-3D fits as a recipe's targets: coefficients of the user's BFM, checked
against the landmarks stored beside them.

A fit's ``Shape_Para`` / ``Exp_Para`` become the coefficients of a model read from 3DDFA's BFM
files (``facejax.formats.threeddfa_params``: which files, units, what is dropped). The face they
decode to, placed by the fit's ``Pose_Para`` camera (``facejax.data.builders.fitted_3dmm.
camera_in_crop``: ``1000 s`` pixels per mm, 3DDFA's y-up 1-based frame moved to facejax pixels),
puts the model's 68 landmarks where the ``.mat`` says they are (``pt2d`` in 300W-LP,
``pt3d_68`` in AFLW2000-3D): :func:`check_decoded_landmarks` measures it for one file, and the
builders store it per example (``decoded_landmark_error``) and summarise it in their metadata.

On real files expect the check to be small, not zero, even with face3d's exact
199/29-component ``BFM.mat``: the 17 contour points (0-16) of a large-pose face may follow its
silhouette (3DDFA's landmark marching) rather than the model's fixed contour vertices, so judge
by the 51 inner points (17-67) first. 3DDFA_V2's 40/10-component model adds the error of the
components it drops. (Not measured here: the datasets are licensed and not on this machine.)
"""

from __future__ import annotations

import functools
import os

import numpy as np
import tensorflow_datasets as tfds

from facejax.data.builders.fitted_3dmm import camera_in_crop, read_fit
from facejax.data.builders.manual_builder import ManualFaceBuilder
from facejax.data.builders.model_configs import config_for_model
from facejax.data.manual_files import read_face_landmarks
from facejax.formats import read_image_size
from facejax.formats.threeddfa_params import check_3ddfa_model, coefficients_from_3ddfa
from facejax.morphable import NUM_IBUG_LANDMARKS

# No crop: the camera in the source image's own pixels.
_IDENTITY_TRANSFORM = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def check_decoding_model(model) -> None:
    """Raises a ValueError naming ``model`` unless it decodes 3DDFA's fits (see
    ``facejax.formats.threeddfa_params.check_3ddfa_model``) and has the 68 iBUG landmarks."""
    check_3ddfa_model(model)
    if model.num_landmarks != NUM_IBUG_LANDMARKS:
        raise ValueError(
            f"model '{model.name}' has {model.num_landmarks} landmarks; 300W-LP / AFLW2000-3D "
            f"store the {NUM_IBUG_LANDMARKS} iBUG points (3DDFA_V2's pickle has them as "
            "'keypoints', face3d's BFM.mat as 'kpt_ind'; or load_model(..., landmarks=FILE))"
        )


@functools.cache
def _projection():
    # JAX only when coefficients are asked for: reading the stored fit needs none.
    import jax
    import jax.numpy as jnp

    from facejax import geometry
    from facejax.data.builders.fitted_3dmm import POSE_CONVENTION
    from facejax.fitting import project_landmarks

    def project(lmodel, identity, expression, pose, scale, translation):
        rotation = geometry.rotation_from_euler(pose, POSE_CONVENTION)
        camera = geometry.WeakPerspectiveCamera(scale=scale, translation=translation)
        zero = jnp.zeros(3, rotation.dtype)
        return project_landmarks(lmodel, identity, expression, rotation, zero, camera)

    return jax.jit(project)


def landmark_decoder(model):
    """The model restricted to its landmarks (``facejax.fitting.landmark_model``), on device:
    what :func:`decoded_landmarks` evaluates. Build it once for many faces."""
    from facejax.fitting import landmark_model
    from facejax.morphable import to_device

    return landmark_model(to_device(model))


def decoded_landmarks(lmodel, identity, expression, camera: dict) -> np.ndarray:
    """The model's landmarks of a face, placed by a fitted camera.

    Args:
      lmodel: :func:`landmark_decoder` of the model.
      identity: ``[Ki]``; expression: ``[Ke]`` coefficients (standard deviations).
      camera: ``{"pose" [3], "camera_scale" [], "camera_translation" [2]}`` of
        ``facejax.data.builders.fitted_3dmm.camera_in_crop`` (any crop, or the source image).

    Returns:
      ``[L, 2]`` float64 pixel positions in that camera's image (facejax pixels).
    """
    dtype = lmodel.mean.dtype
    points = _projection()(
        lmodel,
        np.asarray(identity, dtype),
        np.asarray(expression, dtype),
        np.asarray(camera["pose"], dtype),
        np.asarray(camera["camera_scale"], dtype),
        np.asarray(camera["camera_translation"], dtype),
    )
    return np.asarray(points, dtype=np.float64)


def check_decoded_landmarks(
    model, mat_path, image_path=None, *, landmark_field: str | None = None
) -> np.ndarray:
    """How far the model's decoded landmarks of a 300W-LP / AFLW2000-3D fit lie from the
    landmarks stored in the same ``.mat`` file, in source image pixels.

    ``Shape_Para`` / ``Exp_Para`` are converted with ``coefficients_from_3ddfa``, decoded, posed
    and projected with ``Pose_Para``'s camera (:func:`camera_in_crop` with no crop) and compared
    with ``pt3d_68`` (AFLW2000-3D) or else ``pt2d`` (300W-LP), both 1-based in the file.

    Args:
      model: the user's model from 3DDFA's BFM files, with 68 landmarks
        (:func:`check_decoding_model`).
      mat_path: the image's ``.mat``.
      image_path: the image (only its height is read); default the ``.jpg`` beside ``mat_path``.
      landmark_field: the ``.mat`` variable to compare with (default ``pt3d_68``, else
        ``pt2d``).

    Returns:
      ``[68]`` float64 distances in pixels (their mean is the check; 300W-LP's contour points
      0-16 follow the silhouette, see the module docstring).

    Raises:
      ValueError: naming the model it refuses.
      facejax.data.manual_files.BadExampleError: naming a broken or incomplete file.
    """
    check_decoding_model(model)
    fit = read_fit(mat_path)
    if image_path is None:
        image_path = os.path.splitext(os.fspath(mat_path))[0] + ".jpg"
    height, _ = read_image_size(image_path)
    stored = read_face_landmarks(mat_path, (NUM_IBUG_LANDMARKS,), field=landmark_field)
    identity, expression = coefficients_from_3ddfa(
        model, fit["shape_params"], fit["expression_params"]
    )
    camera = camera_in_crop(fit["pose_params"], height, _IDENTITY_TRANSFORM)
    decoded = decoded_landmarks(landmark_decoder(model), identity, expression, camera)
    return np.linalg.norm(decoded - stored, axis=-1)


class ThreeDDFATargets:
    """A dataset's fits as one model's coefficients: the features, values and metadata a
    builder adds for ``config.model`` (``facejax.data.builders.fitted_3dmm.FittedCropConfig``).

    Attributes:
      model: the loaded model (checked: :func:`check_decoding_model`).
      source: the ``load_model`` source it was read from.
      fingerprint: ``facejax.morphable.fingerprint`` of the model.
    """

    def __init__(self, source: str, model_format: str | None = None):
        from facejax.formats import load_model
        from facejax.morphable import fingerprint

        self.source = source
        self.model = load_model(source, format=model_format)
        check_decoding_model(self.model)
        self.fingerprint = fingerprint(self.model)
        self._lmodel = landmark_decoder(self.model)
        self._errors: list[float] = []

    def features(self) -> dict:
        """``identity_coeffs [Ki]``, ``expression_coeffs [Ke]`` float32 (standard deviations),
        ``landmark_visibility [68]`` bool, ``decoded_landmark_error []`` float32 (crop px),
        ``model_fingerprint`` text."""

        def vector(*shape, dtype=np.float32):
            return tfds.features.Tensor(shape=shape, dtype=dtype)

        return {
            "identity_coeffs": vector(self.model.num_identity),
            "expression_coeffs": vector(self.model.num_expression),
            "landmark_visibility": vector(NUM_IBUG_LANDMARKS, dtype=np.bool_),
            "decoded_landmark_error": vector(),
            "model_fingerprint": tfds.features.Text(),
        }

    def metadata(self) -> dict:
        """What the builder records before its examples (``model_fingerprint`` is what
        ``facejax.recipes.datasets.check_model`` compares)."""
        return {
            "model": self.source,
            "model_name": self.model.name,
            "model_fingerprint": self.fingerprint,
            "units": "mm",
            "coefficients": (
                f"identity_coeffs = Shape_Para[:{self.model.num_identity}] * 1e-3 / "
                f"identity_std, expression_coeffs = Exp_Para[:{self.model.num_expression}] * "
                "1e-3 / expression_std (facejax.formats.threeddfa_params)"
            ),
            "landmark_visibility": "all 68 stored landmarks given (the fit's own points)",
        }

    def example(self, example: dict) -> dict:
        """The target features of one example (``fitted_3dmm.fitted_example``'s output: raw
        parameters, camera in the crop, landmarks in the crop)."""
        identity, expression = coefficients_from_3ddfa(
            self.model, example["shape_params"], example["expression_params"]
        )
        decoded = decoded_landmarks(self._lmodel, identity, expression, example)
        error = float(np.mean(np.linalg.norm(decoded - example["landmarks"], axis=-1)))
        self._errors.append(error)
        return {
            "identity_coeffs": identity,
            "expression_coeffs": expression,
            "landmark_visibility": np.ones(NUM_IBUG_LANDMARKS, np.bool_),
            "decoded_landmark_error": np.float32(error),
            "model_fingerprint": self.fingerprint,
        }

    def finish(self, metadata) -> None:
        """Records the decoded landmark error over the examples written (crop pixels)."""
        errors = np.asarray(self._errors, np.float64)
        metadata["decoded_landmark_error"] = (
            {
                "mean": float(errors.mean()),
                "median": float(np.median(errors)),
                "p95": float(np.percentile(errors, 95)),
                "max": float(errors.max()),
                "units": "crop pixels, mean over the 68 points",
            }
            if errors.size
            else {}
        )


class ThreeDDFABuilder(ManualFaceBuilder, skip_registration=True):
    """Base of the 3DDFA-fitted builders (300W-LP, AFLW2000-3D): ``config_for`` and, when the
    config names a model, its :class:`ThreeDDFATargets` (``None`` otherwise)."""

    @classmethod
    def config_for(cls, base: str, *, model: str | None = None, image_size: int | None = None):
        """The config ``base`` (``"default"``: box crops, ``"aligned"``) whose examples carry
        the fits as ``model``'s coefficients, cropped to ``image_size``; named
        ``<base>_<S>px_model<8 hex digits>`` (``facejax.data.builders.model_configs``).

        Raises:
          ValueError: for an unknown ``base``, or a model that cannot decode 3DDFA's fits
          (:func:`check_decoding_model`).
        """
        return config_for_model(
            cls.name,
            cls.BUILDER_CONFIGS,
            base,
            model=model,
            image_size=image_size,
            check_model=check_decoding_model,
        )

    @functools.cached_property
    def targets(self) -> ThreeDDFATargets | None:
        config = self.builder_config
        if config.model is None:
            return None
        return ThreeDDFATargets(config.model, config.model_format)

    def _target_features(self) -> dict:
        return self.targets.features() if self.targets is not None else {}
