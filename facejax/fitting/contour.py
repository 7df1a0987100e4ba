"""Sliding contour landmarks: the jaw-line points follow the face's outline as the head turns.

The 17 jaw points of the iBUG 68 are drawn on the outline of the face in the photo. On a turned
face that outline is another curve of the surface than on a frontal one (the far cheek's
silhouette moves towards the nose, the near side's towards the ear), so a fixed vertex per jaw
point pulls the fit towards a wrong pose and a wrong face width. As in eos
(``fitting/contour_correspondence.hpp``, Huber et al., VISAPP 2016) and 3DDFA's landmark
marching (Zhu et al., CVPR 2016), each contour landmark instead has a line of **candidate**
surface points, and for each image and pose one of them stands for the landmark:

* :func:`nearest_candidates` (eos; what the fit uses): the candidate whose projection lies
  nearest to the target point; with the eos layout (every jaw point of a side sharing the
  side's whole model contour) this is eos's nearest-neighbour correspondence, with 3DDFA-style
  lines (one horizontal line per jaw point) the point slides along its own line;
* :func:`outermost_candidates` (3DDFA): the candidate farthest out in the image along the face's
  horizontal axis, i.e. the silhouette of the line: what an annotator marks on the side turned
  away (the benchmark draws its annotations this way).

The choice is a discrete ``argmin`` made with jnp ops between rounds of the solver
(``FitConfig.contour_rounds``; :mod:`facejax.fitting.joint`), never inside the objective, so the
objective each round minimises is smooth and its gradients finite, and everything stays
``jax.jit``-able.

Supplying candidates for a model: the embedded model has them (:func:`synthetic_contour`); for
an eos model (SFM, BFM 2017 converted by eos) read its ``*_model_contours.json`` with
``facejax.formats.eos_landmarks.read_model_contour`` and give each side's vertices to its jaw
points with :func:`contour_from_sides`; for BFM 2009, FLAME or any other mesh, list a line of
vertices per jaw point (e.g. a horizontal row of vertices from the nose side to the ear through
the frontal jaw point; docs/fitting.md) and use :func:`contour_from_vertex_lines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from facejax.fitting.landmark_model import LandmarkModel, landmark_model, project_landmarks
from facejax.morphable.model import MorphableModel, landmarks_from_vertices

Array = Any


@struct.dataclass
class ContourCandidates:
    """Candidate surface points of the sliding landmarks of a model.

    Attributes:
      landmarks: ``[C]`` int32 index (in the model's landmark definition) of each sliding
        landmark.
      triangles: ``[C, M]`` int32 triangle of each candidate (a line shorter than ``M`` is
        padded by repeating its last candidate, which changes no choice).
      barycentric: ``[C, M, 3]`` barycentric weights of each candidate in its triangle.
      side: ``[C]`` +1 for a landmark on the subject's left (model +x), -1 on the right.
    """

    landmarks: Array
    triangles: Array
    barycentric: Array
    side: Array

    @property
    def num_contour(self) -> int:
        return self.triangles.shape[0]

    @property
    def num_candidates(self) -> int:
        return self.triangles.shape[1]


def _pad(lines: Sequence[np.ndarray]) -> np.ndarray:
    width = max(len(line) for line in lines)
    return np.stack(
        [np.concatenate([line, np.repeat(line[-1:], width - len(line), 0)]) for line in lines]
    )


def contour_candidates(
    model: MorphableModel, landmarks, triangles: Sequence, barycentric: Sequence
) -> ContourCandidates:
    """Candidates given as surface points: per sliding landmark a line of triangles and weights.

    Args:
      model: the model the candidates lie on (for checks and the side of each line).
      landmarks: ``[C]`` landmark indices that slide.
      triangles: ``C`` sequences of triangle ids (lines may differ in length).
      barycentric: ``C`` sequences of ``[3]`` weights, matching ``triangles``.

    Raises:
      ValueError: for an index out of range, an empty line, or mismatched lengths.
    """
    landmarks = np.asarray(landmarks, np.int64).reshape(-1)
    if len(triangles) != landmarks.size or len(barycentric) != landmarks.size:
        raise ValueError(
            f"contour: {landmarks.size} sliding landmarks but {len(triangles)} candidate lines"
        )
    if landmarks.size and (landmarks.min() < 0 or landmarks.max() >= model.num_landmarks):
        raise ValueError(
            f"contour: landmark indices must lie in [0, {model.num_landmarks}) of model "
            f"'{model.name}', got {landmarks.tolist()}"
        )
    tri_lines = [np.asarray(t, np.int64).reshape(-1) for t in triangles]
    bary_lines = [np.asarray(b, np.float64).reshape(-1, 3) for b in barycentric]
    for k, (t, b) in enumerate(zip(tri_lines, bary_lines, strict=True)):
        if t.size == 0 or t.size != b.shape[0]:
            raise ValueError(f"contour: line {k} is empty or its weights do not match")
        if t.min() < 0 or t.max() >= model.num_triangles:
            raise ValueError(f"contour: line {k} has triangles outside [0, {model.num_triangles})")
    tri = _pad(tri_lines)
    bary = _pad(bary_lines)
    corners = np.asarray(model.mean_shape, np.float64)[np.asarray(model.triangles)[tri]]
    x = np.einsum("cmk,cmk->cm", bary, corners[..., 0])
    return ContourCandidates(
        landmarks=landmarks.astype(np.int32),
        triangles=tri.astype(np.int32),
        barycentric=bary.astype(np.asarray(model.mean_shape).dtype),
        side=np.where(np.mean(x, axis=1) >= 0.0, 1.0, -1.0).astype(np.float32),
    )


def contour_from_vertex_lines(
    model: MorphableModel, landmarks, vertex_lines: Sequence
) -> ContourCandidates:
    """Candidates given as mesh vertices: one line of vertex ids per sliding landmark."""
    triangles, barycentric = [], []
    for line in vertex_lines:
        tri, bary = landmarks_from_vertices(model.triangles, np.asarray(line).reshape(-1))
        triangles.append(tri)
        barycentric.append(bary)
    return contour_candidates(model, landmarks, triangles, barycentric)


def contour_from_sides(
    model: MorphableModel, right_landmarks, right_vertices, left_landmarks, left_vertices
) -> ContourCandidates:
    """eos's layout: every jaw point of a side may take any vertex of that side's model contour.

    Args:
      model: the model.
      right_landmarks, left_landmarks: 0-based landmark indices of each side's jaw points
        (``LandmarkMapping.right_contour``; iBUG 1-8 and 10-17).
      right_vertices, left_vertices: the vertices of each side's model contour
        (``read_model_contour``).
    """
    right_landmarks = list(np.asarray(right_landmarks).reshape(-1))
    left_landmarks = list(np.asarray(left_landmarks).reshape(-1))
    lines = [right_vertices] * len(right_landmarks) + [left_vertices] * len(left_landmarks)
    return contour_from_vertex_lines(model, right_landmarks + left_landmarks, lines)


def synthetic_contour(variant: str = "default") -> ContourCandidates:
    """The sliding jaw points of the embedded model ``synthetic_model(variant)``: 16 horizontal
    lines of candidates (the chin stays fixed; ``facejax.synthetic.contour``)."""
    from facejax.synthetic import synthetic_model
    from facejax.synthetic.contour import contour_candidate_lines

    landmarks, triangles, barycentric = contour_candidate_lines(variant)
    return contour_candidates(synthetic_model(variant), landmarks, triangles, barycentric)


def candidate_model(
    model: MorphableModel,
    contour: ContourCandidates,
    identity_components: int | None = None,
    expression_components: int | None = None,
) -> LandmarkModel:
    """The landmark model of the candidates, with a leading ``[C]``: each is ``M`` landmarks."""
    num_contour, num_candidates = contour.triangles.shape
    flat = model.replace(
        landmark_triangles=jnp.reshape(contour.triangles, (-1,)),
        landmark_barycentric=jnp.reshape(contour.barycentric, (-1, 3)),
    )
    lmodel = landmark_model(flat, identity_components, expression_components)
    return jax.tree_util.tree_map(
        lambda a: jnp.reshape(a, (num_contour, num_candidates) + a.shape[1:]), lmodel
    )


def project_candidates(
    candidates: LandmarkModel, identity, expression, rotation, translation, camera
) -> Array:
    """``[C, M, 2]`` image positions of every candidate (arguments as ``project_landmarks``)."""
    return jax.vmap(project_landmarks, in_axes=(0, None, None, None, None, None))(
        candidates, identity, expression, rotation, translation, camera
    )


def nearest_candidates(projected, targets) -> Array:
    """``[C]`` int32: for each sliding landmark, the candidate projected nearest its target.

    Args:
      projected: ``[C, M, 2]`` candidate positions, pixels.
      targets: ``[C, 2]`` target positions of the sliding landmarks, pixels.
    """
    distance = jnp.sum(jnp.square(projected - targets[:, None, :]), axis=-1)
    return jnp.argmin(distance, axis=-1).astype(jnp.int32)


def outermost_candidates(projected, rotation, side, mask=None) -> Array:
    """``[C]`` int32: for each line, the candidate farthest out on its side of the face.

    "Out" is along the face's own horizontal axis seen in the image (the model's x axis
    rotated into the camera, image y pointing down), so a rolled face is measured along its
    tilted jaw, not along the image rows.

    Args:
      projected: ``[C, M, 2]`` candidate positions, pixels.
      rotation: ``[3, 3]`` the face's rotation (``x_camera = R @ x + t``).
      side: ``[C]`` +1 (subject's left, model +x) or -1.
      mask: optional ``[C, M]`` bool, the candidates allowed (at least one per line).
    """
    axis = rotation[:2, 0] * jnp.asarray([1.0, -1.0], rotation.dtype)
    axis = axis / jnp.maximum(jnp.linalg.norm(axis), 1e-12)
    reach = side[:, None] * jnp.einsum("cmd,d->cm", projected, axis)
    if mask is not None:
        reach = jnp.where(mask, reach, -jnp.inf)
    return jnp.argmax(reach, axis=-1).astype(jnp.int32)


def outline_landmarks(model: MorphableModel, params, contour: ContourCandidates) -> Array:
    """``[L, 2]`` image landmarks of a posed face as a 300-W annotator marks them.

    Every landmark is the model's own, except the sliding points on the side of the face turned
    away from the camera: they move to the silhouette of their line (the outermost candidate,
    :func:`outermost_candidates`), among the candidates no farther out than the landmark's own
    point on the mean face, so that a frontal face keeps the model's definition and a turned
    one has its far jaw points on the outline, towards the nose (3DDFA's landmark marching).
    The side facing the camera keeps its fixed points. Unbatched; ``jax.vmap`` over faces.

    Args:
      model: the morphable model.
      params: one face's ``FaceParams``.
      contour: the model's sliding landmarks.
    """
    from facejax import morphable

    screen = morphable.project(
        params, morphable.pose(params, morphable.shape(model, params.identity, params.expression))
    )
    fixed = morphable.landmarks(model, screen)[:, :2]
    triangles = jnp.asarray(model.triangles)

    def points(vertices):  # [C, M, D] candidate positions
        return jnp.einsum(
            "cmk,cmkd->cmd", contour.barycentric, vertices[triangles[contour.triangles]]
        )

    mean_x = points(jnp.asarray(model.mean_shape))[..., 0]  # [C, M]
    own_x = morphable.landmarks(model, jnp.asarray(model.mean_shape))[contour.landmarks, 0]
    inside = contour.side[:, None] * (mean_x - own_x[:, None]) <= 1e-3
    rotation = morphable.rotation_matrix(params)
    choice = outermost_candidates(points(screen)[..., :2], rotation, contour.side, inside)
    silhouette = points(screen)[jnp.arange(choice.shape[0]), choice, :2]
    far = contour.side * rotation[2, 0] < 0.0
    moved = jnp.where(far[:, None], silhouette, fixed[contour.landmarks])
    return fixed.at[contour.landmarks].set(moved)


def with_contour(
    lmodel: LandmarkModel, candidates: LandmarkModel, landmarks, choice
) -> LandmarkModel:
    """``lmodel`` with each sliding landmark replaced by its chosen candidate.

    Args:
      lmodel: the landmark model (``L`` landmarks).
      candidates: :func:`candidate_model` (``[C]`` lines of ``M``).
      landmarks: ``[C]`` indices of the sliding landmarks in ``lmodel``.
      choice: ``[C]`` int candidate of each line.
    """
    rows = jnp.arange(choice.shape[0])
    picked = jax.tree_util.tree_map(lambda a: a[rows, choice], candidates)
    return jax.tree_util.tree_map(lambda a, p: a.at[landmarks].set(p), lmodel, picked)
