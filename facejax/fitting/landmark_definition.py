"""What a model's landmark definition gives a fit: which landmarks it defines, which slide.

A model file's own landmarks are fixed vertices. Beside it a user may have eos's files (a
mapping that leaves some of the 68 points out, and the model contour the jaw points slide
along), and the embedded model has its contour lines built in. :func:`landmark_definition`
turns these into the two things a fit takes: per-landmark weights (0 for a point the model does
not define) and the sliding contour (``contour=`` of :func:`facejax.fitting.fit_joint`).
``facejax fit`` and ``facejax info`` both go through it, so they read the files the same way.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from facejax.fitting.contour import ContourCandidates, contour_from_sides, synthetic_contour
from facejax.formats.eos_landmarks import (
    IBUG_LEFT_CONTOUR,
    IBUG_RIGHT_CONTOUR,
    is_landmark_mapping,
    read_landmark_mapping,
    read_model_contour,
)
from facejax.formats.native import read_landmark_defined
from facejax.morphable.model import MorphableModel

_SYNTHETIC = "synthetic"


class LandmarkDefinition(NamedTuple):
    """A model's landmarks as a fit uses them.

    Attributes:
      defined: ``[L]`` bool, the landmarks with a place on the model (fixed or sliding); fit
        the others at weight 0.
      contour: the sliding landmarks, or ``None`` when every landmark is a fixed vertex.
    """

    defined: np.ndarray
    contour: ContourCandidates | None

    @property
    def weights(self) -> np.ndarray:
        """``[L]`` float32: 1 where defined, 0 elsewhere."""
        return self.defined.astype(np.float32)


def synthetic_variant(source) -> str | None:
    """The variant when ``source`` names the embedded model (``"synthetic"``,
    ``"synthetic:small"``), else ``None``."""
    if isinstance(source, str) and (source == _SYNTHETIC or source.startswith(_SYNTHETIC + ":")):
        return source.partition(":")[2] or "default"
    return None


def _is_native_file(source) -> bool:
    """Whether ``source`` is a path to a native ``.npz`` model file."""
    return (
        isinstance(source, str | os.PathLike)
        and os.path.splitext(os.fspath(source))[1].lower() == ".npz"
        and os.path.isfile(source)
    )


def landmark_definition(
    model: MorphableModel,
    source=None,
    *,
    landmarks=None,
    contour=None,
    sliding: bool = True,
) -> LandmarkDefinition:
    """The landmark definition of a loaded model.

    Args:
      model: the model, loaded with ``landmarks`` if that file was given.
      source: what the model was loaded from (``"synthetic"`` / ``"synthetic:small"`` give the
        embedded model's own contour lines).
      landmarks: the landmark file the model was loaded with; an eos mapping
        (:mod:`facejax.formats.eos_landmarks`) says which points are defined and which
        landmarks form each side's contour. Without one, a native ``.npz`` ``source`` gives the
        points it stores as defined (:func:`facejax.formats.native.read_landmark_defined`).
      contour: an eos model contour file (``sfm_model_contours.json``): the jaw points of each
        side slide along that side's vertices (:func:`facejax.fitting.contour_from_sides`).
      sliding: ``False`` keeps every landmark fixed (the contour is not used; points a mapping
        leaves out stay at weight 0).

    Returns:
      The :class:`LandmarkDefinition`.

    Raises:
      ValueError: naming the file, for a contour file with vertices outside the model, or a
        contour file for a model without the 68 iBUG landmarks.
    """
    defined = np.ones(model.num_landmarks, bool)
    right, left = IBUG_RIGHT_CONTOUR, IBUG_LEFT_CONTOUR
    if landmarks is not None and is_landmark_mapping(landmarks):
        mapping = read_landmark_mapping(landmarks, num_points=model.num_landmarks)
        defined = mapping.defined.copy()
        right, left = mapping.right_contour, mapping.left_contour
    elif landmarks is None and _is_native_file(source):
        # A file `facejax convert --landmarks MAPPING` wrote keeps the mapping's mask.
        defined = read_landmark_defined(source).copy()
    candidates = None
    if sliding and contour is not None:
        if model.num_landmarks != 68:
            raise ValueError(
                f"{contour}: a model contour slides iBUG 68 jaw points; model '{model.name}' "
                f"has {model.num_landmarks} landmarks"
            )
        right_vertices, left_vertices = read_model_contour(contour)
        for vertices in (right_vertices, left_vertices):
            if vertices.max() >= model.num_vertices:
                raise ValueError(
                    f"{contour}: vertex {int(vertices.max())} is outside model '{model.name}' "
                    f"({model.num_vertices} vertices)"
                )
        candidates = contour_from_sides(model, right, right_vertices, left, left_vertices)
    elif sliding and synthetic_variant(source) is not None:
        candidates = synthetic_contour(synthetic_variant(source))
    if candidates is not None:
        defined[np.asarray(candidates.landmarks)] = True
    return LandmarkDefinition(defined=defined, contour=candidates)
