"""The settings of a fit: what is estimated, how strongly priors pull, which optimizer runs.

A config is a frozen dataclass of plain numbers and strings, hashable, so that it is a static
argument of the jitted fitting functions (a new config compiles once, the same config reuses the
compiled fit).
"""

from __future__ import annotations

import dataclasses
import warnings

CAMERAS = ("perspective", "weak_perspective")
# The solvers of a fit (facejax.fitting.minimize); facejax.train.optimizer.OPTIMIZERS are
# the training's.
FIT_OPTIMIZERS = ("adam", "lbfgs")
LOSSES = ("squared", "huber", "geman_mcclure")
BATCHING = ("auto", "vmap", "map")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """Landmark fitting options (see docs/fitting.md for the objective they enter).

    Attributes:
      camera: ``"perspective"`` (pinhole with known focal: the camera given to the fit, by default
        :func:`facejax.fitting.image_camera`; the pose's translation is estimated, depth
        included) or ``"weak_perspective"`` (scaled orthographic: the camera's scale and image
        translation are estimated instead of a 3D translation).
      optimizer: ``"lbfgs"`` (``optax.lbfgs`` with a zoom line search; the default: it converges
        in fewer iterations and, batched with ``"map"`` on CPU, faster) or ``"adam"``
        (cosine-decayed learning rate; give it ~300 steps).
      steps: number of optimizer iterations (static: every face runs exactly this many).
      learning_rate: Adam's initial learning rate, in units of the fitted variables (standard
        deviations, radians, face sizes); L-BFGS picks its steps by line search and ignores it.
      identity_prior: weight of ``0.5 |identity|^2`` (coefficients in standard deviations).
      expression_prior: weight of ``0.5 |expression|^2`` per image.
      loss: robust function of the landmark residual: ``"squared"``, ``"huber"`` or
        ``"geman_mcclure"`` (see :mod:`facejax.fitting.objective`).
      loss_scale: the robust loss's scale (Huber's delta, Geman-McClure's c), as a fraction of
        the face size (the RMS distance of the target landmarks from their centroid).
      identity_components: fit only the first ``k`` identity components (``None``: all); the
        others stay 0.
      expression_components: the same for expression.
      fit_identity: estimate identity (``False`` keeps it at 0, the mean face).
      fit_expression: estimate expression (``False``: neutral).
      init_iterations: rounds of Procrustes refinement of the initial pose
        (:func:`facejax.fitting.initial_pose`).
      lbfgs_memory: L-BFGS history size.
      linesearch_steps: at most this many function evaluations per L-BFGS line search.
      batching: how a batch of faces (persons) is run: ``"vmap"`` (vectorised), ``"map"``
        (``jax.lax.map``, one after the other) or ``"auto"``: ``"map"`` for L-BFGS on CPU
        (its line searches end at different times; under vmap all wait for the longest),
        ``"vmap"`` otherwise.
      contour_rounds: with sliding contour landmarks (the ``contour=`` of a fit), how many
        times the contour points are chosen anew for the current pose; each round runs
        ``ceil(steps / contour_rounds)`` iterations. Ignored for fixed landmarks.
    """

    camera: str = "perspective"
    optimizer: str = "lbfgs"
    steps: int = 100
    learning_rate: float = 0.02
    identity_prior: float = 3e-5
    expression_prior: float = 3e-5
    loss: str = "squared"
    loss_scale: float = 0.05
    identity_components: int | None = None
    expression_components: int | None = None
    fit_identity: bool = True
    fit_expression: bool = True
    init_iterations: int = 5
    lbfgs_memory: int = 10
    linesearch_steps: int = 16
    batching: str = "auto"
    contour_rounds: int = 4

    def __post_init__(self):
        _one_of("camera", self.camera, CAMERAS)
        _one_of("batching", self.batching, BATCHING)
        _one_of("optimizer", self.optimizer, FIT_OPTIMIZERS)
        _one_of("loss", self.loss, LOSSES)
        if self.steps < 1:
            raise ValueError(f"FitConfig: steps must be >= 1, got {self.steps}")
        for name in ("learning_rate", "loss_scale"):
            if not getattr(self, name) > 0:
                raise ValueError(f"FitConfig: {name} must be > 0, got {getattr(self, name)}")
        for name in ("identity_prior", "expression_prior"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"FitConfig: {name} must be >= 0, got {getattr(self, name)}")
        for name in ("identity_components", "expression_components"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"FitConfig: {name} must be >= 0 or None, got {value}")
        if self.contour_rounds < 1:
            raise ValueError(f"FitConfig: contour_rounds must be >= 1, got {self.contour_rounds}")
        if self.init_iterations < 0 or self.lbfgs_memory < 1 or self.linesearch_steps < 1:
            raise ValueError(
                "FitConfig: need init_iterations >= 0, lbfgs_memory >= 1, linesearch_steps >= 1"
            )


@dataclasses.dataclass(frozen=True)
class PhotometricConfig:
    """Photometric refinement options (:func:`facejax.fitting.refine_photometric`).

    Two stages: appearance (albedo and SH lighting, geometry fixed), then everything (identity,
    expression, pose and appearance), with the landmark term kept so that the shape cannot
    slide away from the landmarks.

    Attributes:
      size: the images are fitted at this side in pixels (letterboxed into a square): rendering
        is the cost, and a face needs few pixels to show its shading.
      appearance_steps: Adam steps of the first stage.
      shape_steps: Adam steps of the second stage.
      learning_rate: Adam's initial learning rate (cosine-decayed), in variable units.
      landmark_weight: weight of the landmark data term (as in :class:`FitConfig`, a
        face-size-normalised mean) against the photometric term (mean colour distance per
        pixel, colours in [0, 1]).
      identity_prior, expression_prior, albedo_prior: weights of ``0.5 |c|^2``.
      face_region_only: restrict the photometric term to the model's ``face_mask`` (when it
        has one): hair, ears and neck are not what the model describes well.
    """

    size: int = 64
    appearance_steps: int = 100
    shape_steps: int = 100
    learning_rate: float = 0.02
    landmark_weight: float = 1.0
    identity_prior: float = 1e-3
    expression_prior: float = 1e-3
    albedo_prior: float = 1e-3
    face_region_only: bool = True

    def __post_init__(self):
        if self.size < 8:
            raise ValueError(f"PhotometricConfig: size must be >= 8, got {self.size}")
        if self.appearance_steps < 0 or self.shape_steps < 0:
            raise ValueError("PhotometricConfig: step counts must be >= 0")
        if not self.learning_rate > 0:
            raise ValueError(
                f"PhotometricConfig: learning_rate must be > 0, got {self.learning_rate}"
            )
        for name in ("landmark_weight", "identity_prior", "expression_prior", "albedo_prior"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"PhotometricConfig: {name} must be >= 0")


def _one_of(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"FitConfig: {name} must be one of {choices}, got {value!r}")


def __getattr__(name: str):
    # The old name, which read as the training optimizers (facejax.train.optimizer.OPTIMIZERS).
    if name == "OPTIMIZERS":
        warnings.warn(
            "facejax.fitting.config.OPTIMIZERS is deprecated; use FIT_OPTIMIZERS",
            DeprecationWarning,
            stacklevel=2,
        )
        return FIT_OPTIMIZERS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
